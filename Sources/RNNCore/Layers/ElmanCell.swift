/// The vanilla (Elman) cell, as `torch.nn.RNN` with `nonlinearity` `"tanh"` or `"relu"`:
///
///     h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)         [B, H]
///
/// with `weight_ih [H, D]`, `weight_hh [H, H]`, `bias_ih [H]`, `bias_hh [H]` (in
/// `RecurrentLayer`). State `h [B, H]`. Per step: one GEMM with `W_hh` and the activation
/// (`ComputeBackend.elmanForwardStep`, `elmanBackwardStep`; on the CPU `recurrent.c`'s); each
/// thread runs a slice of the batch through all steps. Memory kept for backward, besides the
/// layer's input: only the outputs `y [T,B,H]`, `T*B*H` floats (both activations' derivatives
/// follow from `y`).
public struct ElmanCell: RecurrentCell {
  /// The activation: `tanh` (`CellKind.rnnTanh`) or `relu` (`CellKind.rnnRelu`).
  public enum Nonlinearity: Sendable { case tanh, relu }

  public let nonlinearity: Nonlinearity
  public var name: String { (nonlinearity == .relu ? CellKind.rnnRelu : .rnnTanh).rawValue }
  public var gates: Int { 1 }

  public init(_ nonlinearity: Nonlinearity = .tanh) { self.nonlinearity = nonlinearity }

  /// Nothing besides the layer's cache: backward reads only the outputs.
  public struct Cache: RecurrentCellCache {}

  /// Whether the activation is relu, as the kernels take it.
  private var relu: Bool { nonlinearity == .relu }

  /// Forward from the input projections `xg = x W_ih^T + b_ih + b_hh` `[T,B,H]`, which the steps
  /// overwrite with the pre-activations. With `lengths`, a padded row's `h_t` is its `h_{t-1}`.
  public func forward(
    _ xg: WorkspaceBuffer, time t: Int, state: RecurrentState, lengths: [Int]?, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (y: Tensor, cache: Cache) {
    let (b, h, backend) = (state.h.shape[0], layer.hiddenSize, parameters.backend)
    let (relu, pre) = (relu, xg.pointer)
    let weights = layer.forwardHiddenWeights(parameters, parts: [0..<h], batch: b)
    defer { weights.release() }
    let (whh, transposed) = (weights.parts[0], weights.transposed)
    let y = layer.forwardSteps(time: t, state: state, lengths: lengths) { step, rows, hPrev, y in
      let pre = pre + (step * b + rows.lowerBound) * h
      backend.gemm(false, transposed, rows.count, h, h, hPrev, whh, beta: 1, pre)
      backend.elmanForwardStep(rows.count, h, pre, y, relu: relu)
    }
    return (y, Cache())
  }

  /// Backward through time: per step the activation's derivative and one GEMM
  /// (`dh_{t-1} = dpre_t W_hh`), each slice of the batch on its own thread; then `W_hh`'s
  /// gradients as whole-sequence GEMMs. Returns the gradient of the input projections, `[T,B,H]`.
  /// A padded row gets a zero gradient and keeps its `dh` (saved around the kernel and the GEMM).
  public func backward(
    _ dy: Tensor, dState: RecurrentState, cache: Cache, sequence: RecurrentCache, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (dxg: WorkspaceBuffer, dState: RecurrentState) {
    let (t, b, h, backend) = (sequence.y.shape[0], sequence.y.shape[1], layer.hiddenSize, parameters.backend)
    let relu = relu
    let lengths = sequence.lengths
    let whh = parameters.value(layer.weightHH)
    let dpreBuffer = layer.scratch.buffer("elman dpre", count: t * b * h)
    let dhBuffer = layer.scratch.buffer("elman dh", copying: dState.h)
    let savedBuffer = layer.scratch.buffer("elman saved", count: lengths == nil ? 0 : b * h)  // padded rows' dh
    defer { extendLifetime(savedBuffer) }  // the loop uses only its pointer
    let (dpre, dhNext, saved) = (dpreBuffer.pointer, dhBuffer.pointer, savedBuffer.pointer)
    Tensor.withPointers(reading: [dy, sequence.y]) { inputs in
      let (dy, y) = (inputs[0], inputs[1])
      Parallel.split(b) { slice in
        let (r, n) = (slice.lowerBound, slice.count)
        for step in stride(from: t - 1, through: 0, by: -1) {
          let now = (step * b + r) * h
          if let lengths {
            Padding.copyPadded(lengths, slice, step: step, width: h, from: dhNext + r * h, to: saved + r * h)
          }
          backend.elmanBackwardStep(n, h, y + now, dy + now, dhNext + r * h, dpre + now, relu: relu)
          if let lengths { Padding.zeroPadded(lengths, slice, step: step, width: h, dpre + now) }
          backend.gemm(false, false, n, h, h, dpre + now, whh, beta: 0, dhNext + r * h)
          if let lengths {
            Padding.copyPadded(lengths, slice, step: step, width: h, from: saved + r * h, to: dhNext + r * h)
          }
        }
      }
    }
    layer.accumulateHiddenGradients(dhg: dpre, cache: sequence, parameters: parameters)
    return (dpreBuffer, RecurrentState(h: dhBuffer.tensor([b, h])))
  }
}
