/// The LSTM cell, as `torch.nn.LSTM`: gates in PyTorch's order `i, f, g, o`,
///
///     gates = x W_ih^T + b_ih + h W_hh^T + b_hh          [B, 4H], split i, f, g, o
///     c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
///     h' = sigmoid(o) * tanh(c')
///
/// with `weight_ih [4H, D]`, `weight_hh [4H, H]`, `bias_ih [4H]`, `bias_hh [4H]` (in
/// `RecurrentLayer`). State `(h, c)`, each `[B, H]`. Per step: one GEMM with `W_hh` (forward: as
/// `RecurrentLayer.forwardHiddenWeights` gives it, a transposed copy from `H = 256`) and one
/// fused kernel (`ComputeBackend.lstmForwardStep`, `lstmBackwardStep`; on the CPU `recurrent.c`'s);
/// each thread runs a slice of the batch through all steps. Memory kept for backward, besides the
/// layer's input and outputs `y [T,B,H]`: the activated gates `[T,B,4H]`, `c_t` and `tanh(c_t)`,
/// each `[T,B,H]`; `T*B*7*H` floats with `y`, so backward needs no transcendental functions.
public struct LSTMCell: RecurrentCell {
  public var name: String { CellKind.lstm.rawValue }
  public var gates: Int { 4 }
  public var hasCellState: Bool { true }

  public init() {}

  /// What backward reads besides the layer's cache (workspace buffers).
  public struct Cache: RecurrentCellCache {
    /// The activated gates `sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)`, `[T,B,4H]`.
    let gates: WorkspaceBuffer
    /// The cell states `c_t`, `[T,B,H]`.
    let cells: WorkspaceBuffer
    /// `tanh(c_t)`, `[T,B,H]`.
    let tanhCells: WorkspaceBuffer

    public var cellStates: UnsafePointer<Float>? { UnsafePointer(cells.pointer) }
  }

  /// Forward from the input projections `xg = x W_ih^T + b_ih + b_hh` `[T,B,4H]`, which become
  /// the gate cache in place. With `lengths`, a padded row's `h_t`, `c_t` are its `h_{t-1}`, `c_{t-1}`.
  public func forward(
    _ xg: WorkspaceBuffer, time t: Int, state: RecurrentState, lengths: [Int]?, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (y: Tensor, cache: Cache) {
    let (b, h, backend) = (state.h.shape[0], layer.hiddenSize, parameters.backend)
    let g = 4 * h
    let cache = Cache(
      gates: xg, cells: layer.workspace.buffer("lstm c", count: t * b * h),
      tanhCells: layer.workspace.buffer("lstm tanh(c)", count: t * b * h))
    let (gates, cells, tanhCells) = (cache.gates.pointer, cache.cells.pointer, cache.tanhCells.pointer)
    let weights = layer.forwardHiddenWeights(parameters, parts: [0..<h], batch: b)
    defer { weights.release() }
    let (whh, transposed) = (weights.parts[0], weights.transposed)
    let c0Buffer = layer.scratch.buffer("lstm c0", copying: state.c!)
    defer { extendLifetime(c0Buffer) }  // the loop uses only its pointer
    let c0 = c0Buffer.pointer
    let y = layer.forwardSteps(time: t, state: state, lengths: lengths) { step, rows, hPrev, y in
      let now = (step * b + rows.lowerBound) * h
      let cPrev = step == 0 ? c0 + rows.lowerBound * h : cells + (now - b * h)
      let gatesT = gates + (step * b + rows.lowerBound) * g
      backend.gemm(false, transposed, rows.count, g, h, hPrev, whh, beta: 1, gatesT)
      backend.lstmForwardStep(rows.count, h, gatesT, cPrev, cells + now, tanhCells + now, y)
      if let lengths { Padding.copyPadded(lengths, rows, step: step, width: h, from: cPrev, to: cells + now) }
    }
    return (y, cache)
  }

  /// Backward through time: per step one fused kernel and one GEMM (`dh_{t-1} = dgates_t W_hh`),
  /// each slice of the batch on its own thread; then `W_hh`'s gradients as whole-sequence GEMMs.
  /// Returns the gradient of the input projections, `[T,B,4H]`. A padded row gets zero gate
  /// gradients and keeps its `dh`, `dc` (saved around the kernel and the GEMM).
  public func backward(
    _ dy: Tensor, dState: RecurrentState, cache: Cache, sequence: RecurrentCache, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (dxg: WorkspaceBuffer, dState: RecurrentState) {
    let (t, b, h, backend) = (sequence.y.shape[0], sequence.y.shape[1], layer.hiddenSize, parameters.backend)
    let g = 4 * h
    let lengths = sequence.lengths
    let whh = parameters.value(layer.weightHH)
    let scratch = layer.scratch
    let dgatesBuffer = scratch.buffer("lstm dgates", count: t * b * g)
    let dhBuffer = scratch.buffer("lstm dh", copying: dState.h)
    let dcBuffer = scratch.buffer("lstm dc", copying: dState.c ?? .zeros([b, h]))
    let savedBuffer = scratch.buffer("lstm saved", count: lengths == nil ? 0 : 2 * b * h)  // padded rows' dh, dc
    defer { extendLifetime(savedBuffer) }  // the loop uses only its pointer
    let (dgates, dhNext, dc, saved) = (dgatesBuffer.pointer, dhBuffer.pointer, dcBuffer.pointer, savedBuffer.pointer)
    let gates = UnsafePointer(cache.gates.pointer)
    let (cells, tanhCells) = (UnsafePointer(cache.cells.pointer), UnsafePointer(cache.tanhCells.pointer))
    Tensor.withPointers(reading: [dy, sequence.initial.c!]) { inputs in
      let (dy, c0) = (inputs[0], inputs[1])
      Parallel.split(b) { slice in
        let (r, n) = (slice.lowerBound, slice.count)
        for step in stride(from: t - 1, through: 0, by: -1) {
          let now = (step * b + r) * h
          let cPrev = step == 0 ? c0 + r * h : cells + (now - b * h)
          let dgatesT = dgates + (step * b + r) * g
          let (savedH, savedC) = (saved + r * h, saved + (b + r) * h)
          if let lengths {
            Padding.copyPadded(lengths, slice, step: step, width: h, from: dhNext + r * h, to: savedH)
            Padding.copyPadded(lengths, slice, step: step, width: h, from: dc + r * h, to: savedC)
          }
          backend.lstmBackwardStep(
            n, h, gates + (step * b + r) * g, cPrev, tanhCells + now, dy + now, dhNext + r * h, dc + r * h, dgatesT)
          if let lengths { Padding.zeroPadded(lengths, slice, step: step, width: g, dgatesT) }
          backend.gemm(false, false, n, h, g, dgatesT, whh, beta: 0, dhNext + r * h)
          if let lengths {
            Padding.copyPadded(lengths, slice, step: step, width: h, from: savedH, to: dhNext + r * h)
            Padding.copyPadded(lengths, slice, step: step, width: h, from: savedC, to: dc + r * h)
          }
        }
      }
    }
    layer.accumulateHiddenGradients(dhg: dgates, cache: sequence, parameters: parameters)
    return (dgatesBuffer, RecurrentState(h: dhBuffer.tensor([b, h]), c: dcBuffer.tensor([b, h])))
  }
}
