import CKernels

/// The LSTM cell, as `torch.nn.LSTM`: gates in PyTorch's order `i, f, g, o`,
///
///     gates = x W_ih^T + b_ih + h W_hh^T + b_hh          [B, 4H], split i, f, g, o
///     c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
///     h' = sigmoid(o) * tanh(c')
///
/// with `weight_ih [4H, D]`, `weight_hh [4H, H]`, `bias_ih [4H]`, `bias_hh [4H]` (in
/// `RecurrentLayer`). State `(h, c)`, each `[B, H]`. Per step: one GEMM with `W_hh` (forward: as
/// `RecurrentLayer.withForwardHiddenWeights` lends it, a transposed copy from `H = 256`) and one
/// fused kernel (`rnn_lstm_forward_step`, `rnn_lstm_backward_step` in `CKernels/recurrent.c`);
/// each thread runs a slice of the batch through all steps. Memory kept for backward, besides the
/// layer's input and outputs `y [T,B,H]`: the activated gates `[T,B,4H]`, `c_t` and `tanh(c_t)`,
/// each `[T,B,H]`; `T*B*7*H` floats with `y`, so backward needs no transcendental functions.
public struct LSTMCell: RecurrentCell {
  public var name: String { CellKind.lstm.rawValue }
  public var gates: Int { 4 }
  public var hasCellState: Bool { true }

  public init() {}

  /// What backward reads besides the layer's cache.
  public struct Cache: RecurrentCellCache {
    /// The activated gates `sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)`, `[T,B,4H]`.
    var gates: Tensor
    /// The cell states `c_t`, `[T,B,H]`.
    var cells: Tensor
    /// `tanh(c_t)`, `[T,B,H]`.
    var tanhCells: Tensor

    public var cellStates: Tensor? { cells }
  }

  /// Forward from the input projections `xg = x W_ih^T + b_ih + b_hh` `[T,B,4H]`, whose storage
  /// becomes the gate cache without a copy. With `lengths`, a padded row's `h_t`, `c_t` are its
  /// `h_{t-1}`, `c_{t-1}`.
  public func forward(
    _ xg: consuming Tensor, state: RecurrentState, lengths: [Int]?, layer: RecurrentLayer, parameters: Parameters
  ) -> (y: Tensor, cache: Cache) {
    let (t, b, h) = (xg.shape[0], xg.shape[1], layer.hiddenSize)
    let g = 4 * h
    let sequence = { Tensor(uninitializedShape: [t, b, h]) }
    var buffers = [consume xg, sequence(), sequence(), sequence()]  // gates, c_t, tanh(c_t), y_t
    layer.withForwardLoop(parameters, parts: [0..<h], mutating: &buffers, reading: [state.h, state.c!]) { p in
      let (whh, transposed) = (p.weights[0], p.transposed)
      let (gates, cells, tanhCells, y) = (p.outputs[0], p.outputs[1], p.outputs[2], p.outputs[3])
      let (h0, c0) = (p.inputs[0], p.inputs[1])
      Parallel.split(b) { slice in
        let (r, n) = (slice.lowerBound, slice.count)
        for step in 0..<t {
          let now = (step * b + r) * h
          let before = now - b * h
          let hPrev = step == 0 ? h0 + r * h : UnsafePointer(y + before)
          let cPrev = step == 0 ? c0 + r * h : UnsafePointer(cells + before)
          let gatesT = gates + (step * b + r) * g
          BLAS.gemm(false, transposed, n, g, h, hPrev, whh, beta: 1, gatesT)
          rnn_lstm_forward_step(n, h, gatesT, cPrev, cells + now, tanhCells + now, y + now)
          if let lengths {
            Padding.copyPadded(lengths, slice, step: step, width: h, from: hPrev, to: y + now)
            Padding.copyPadded(lengths, slice, step: step, width: h, from: cPrev, to: cells + now)
          }
        }
      }
    }
    return (buffers[3], Cache(gates: buffers[0], cells: buffers[1], tanhCells: buffers[2]))
  }

  /// Backward through time: per step one fused kernel and one GEMM (`dh_{t-1} = dgates_t W_hh`),
  /// each slice of the batch on its own thread; then `W_hh`'s gradients as whole-sequence GEMMs.
  /// Returns the gradient of the input projections, `[T,B,4H]`. A padded row gets zero gate
  /// gradients and keeps its `dh`, `dc` (saved around the kernel and the GEMM).
  public func backward(
    _ dy: Tensor, dState: RecurrentState, cache: Cache, sequence: RecurrentCache, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (dxg: Tensor, dState: RecurrentState) {
    let (t, b, h) = (sequence.y.shape[0], sequence.y.shape[1], layer.hiddenSize)
    let g = 4 * h
    let lengths = sequence.lengths
    let whh = parameters.value(layer.weightHH)
    var buffers = [
      Tensor(uninitializedShape: [t, b, g]), dState.h, dState.c ?? .zeros([b, h]),
      Tensor(uninitializedShape: [lengths == nil ? 0 : 2, b, h]),
    ]  // dgates, dh, dc, the padded rows' dh and dc
    let inputs = [dy, cache.gates, cache.cells, cache.tanhCells, sequence.initial.c!]
    Tensor.withPointers(mutating: &buffers, reading: inputs) { outputs, inputs in
      let (dgates, dhNext, dc, saved) = (outputs[0], outputs[1], outputs[2], outputs[3])
      let (dy, gates, cells, tanhCells, c0) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4])
      Parallel.split(b) { slice in
        let (r, n) = (slice.lowerBound, slice.count)
        for step in stride(from: t - 1, through: 0, by: -1) {
          let now = (step * b + r) * h
          let cPrev = step == 0 ? c0 + r * h : cells + now - b * h
          let dgatesT = dgates + (step * b + r) * g
          let (savedH, savedC) = (saved + r * h, saved + (b + r) * h)
          if let lengths {
            Padding.copyPadded(lengths, slice, step: step, width: h, from: dhNext + r * h, to: savedH)
            Padding.copyPadded(lengths, slice, step: step, width: h, from: dc + r * h, to: savedC)
          }
          rnn_lstm_backward_step(
            n, h, gates + (step * b + r) * g, cPrev, tanhCells + now, dy + now, dhNext + r * h, dc + r * h, dgatesT)
          if let lengths { Padding.zeroPadded(lengths, slice, step: step, width: g, dgatesT) }
          BLAS.gemm(false, false, n, h, g, dgatesT, whh, beta: 0, dhNext + r * h)
          if let lengths {
            Padding.copyPadded(lengths, slice, step: step, width: h, from: savedH, to: dhNext + r * h)
            Padding.copyPadded(lengths, slice, step: step, width: h, from: savedC, to: dc + r * h)
          }
        }
      }
    }
    let dgates = buffers[0]
    dgates.withPointer { layer.accumulateHiddenGradients(dhg: $0, cache: sequence, parameters: parameters) }
    return (dgates, RecurrentState(h: buffers[1], c: buffers[2]))
  }
}
