/// The GRU cell, as `torch.nn.GRU`: gates in PyTorch's order `r, z, n`, the reset gate applied
/// to the hidden product after it is taken,
///
///     xg = x W_ih^T + b_ih,  hg = h W_hh^T + b_hh       each [B, 3H], split r, z, n
///     r = sigmoid(xg_r + hg_r);  z = sigmoid(xg_z + hg_z)
///     n = tanh(xg_n + r * hg_n);  h' = (1 - z) * n + z * h
///
/// with `weight_ih [3H, D]`, `weight_hh [3H, H]`, `bias_ih [3H]`, `bias_hh [3H]` (in
/// `RecurrentLayer`). State `h [B, H]`. Per step: one GEMM with `W_hh` and one fused kernel
/// (`ComputeBackend.gruForwardStep`, `gruBackwardStep`; on the CPU `recurrent.c`'s). Memory kept for
/// backward, besides the layer's input and outputs `y [T,B,H]`: the gates `[T,B,3H]` and `hg_n`
/// `[T,B,H]`; `T*B*5*H` floats with `y`.
public struct GRUCell: RecurrentCell {
  public var name: String { CellKind.gru.rawValue }
  public var gates: Int { 3 }
  /// `b_hh` is added inside the step: its `n` part sits inside the reset gate.
  public var projectionIncludesHiddenBias: Bool { false }

  public init() {}

  /// What backward reads besides the layer's cache (workspace buffers).
  public struct Cache: RecurrentCellCache {
    /// The gates `r, z, n` after their activations, `[T,B,3H]`.
    let gates: WorkspaceBuffer
    /// The hidden side of the candidate, `hg_n = W_hn h + b_hn`, `[T,B,H]`.
    let hiddenCandidates: WorkspaceBuffer
  }

  /// Forward from the input projections `xg = x W_ih^T + b_ih` `[T,B,3H]` (`b_hh` stays inside
  /// the reset gate), which become the gate cache in place: the threads share each step by hidden units (`unitParts`, each its half of
  /// `W_hh` and its region of the staged product `hg`) or each run a slice of the batch. With
  /// `lengths`, a padded row's `h_t` is its `h_{t-1}`.
  public func forward(
    _ xg: WorkspaceBuffer, time t: Int, state: RecurrentState, lengths: [Int]?, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (y: Tensor, cache: Cache) {
    let (b, h, backend) = (state.h.shape[0], layer.hiddenSize, parameters.backend)
    let g = 3 * h
    let bhh = parameters.value(layer.biasHH)
    let parts = layer.unitParts
    let cache = Cache(gates: xg, hiddenCandidates: layer.workspace.buffer("gru hg_n", count: t * b * h))
    let step = layer.scratch.buffer("gru hg", count: b * g)  // hg of one step
    defer { extendLifetime(step) }  // the loop uses only its pointer
    let (xg, hg, gates, hn) = (
      UnsafePointer(xg.pointer), step.pointer, cache.gates.pointer, cache.hiddenCandidates.pointer
    )
    let weights = layer.forwardHiddenWeights(parameters, parts: parts ?? [0..<h], batch: b)
    defer { weights.release() }
    let transposed = weights.transposed
    var outputs = [Tensor(uninitializedShape: [t, b, h])]
    Tensor.withPointers(mutating: &outputs, reading: [state.h]) { outputs, inputs in
      let (y, h0) = (outputs[0], inputs[0])
      /// `rows` x `units` at `step`: the product into `hg` (`[rows, 3 * units]`), then the cell.
      func run(
        _ step: Int, rows: Range<Int>, units: Range<Int>, weight: UnsafePointer<Float>, hg: UnsafeMutablePointer<Float>
      ) {
        let (r, now) = (rows.lowerBound, (step * b + rows.lowerBound) * h)
        let hPrev = step == 0 ? h0 + r * h : UnsafePointer(y + now - b * h)
        backend.gemm(false, transposed, rows.count, 3 * units.count, h, hPrev, weight, beta: 0, hg)
        backend.gruForwardStep(
          rows.count, h, units.lowerBound, units.count, xg + (step * b + r) * g, hg, bhh, hPrev,
          gates + (step * b + r) * g, hn + now, y + now)
        if let lengths {
          Padding.copyPadded(lengths, rows, step: step, width: h, columns: units, from: hPrev, to: y + now)
        }
      }
      if let parts {
        Parallel.pairStages(t) { step, part in
          let units = parts[part]
          run(step, rows: 0..<b, units: units, weight: weights.parts[part], hg: hg + b * 3 * units.lowerBound)
        }
      } else {
        Parallel.split(b) { rows in
          for step in 0..<t {
            run(step, rows: rows, units: 0..<h, weight: weights.parts[0], hg: hg + rows.lowerBound * g)
          }
        }
      }
    }
    return (outputs[0], cache)
  }

  /// Backward through time: per step one fused kernel and one GEMM (`dh_{t-1} += dhg_t W_hh`),
  /// each slice of the batch on its own thread; then `W_hh`'s gradients as whole-sequence GEMMs.
  /// Returns the gradient of the input projections, `[T,B,3H]`. A padded row gets zero gate
  /// gradients and passes its `dh` through unchanged.
  public func backward(
    _ dy: Tensor, dState: RecurrentState, cache: Cache, sequence: RecurrentCache, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (dxg: WorkspaceBuffer, dState: RecurrentState) {
    let (t, b, h, backend) = (sequence.y.shape[0], sequence.y.shape[1], layer.hiddenSize, parameters.backend)
    let g = 3 * h
    let whh = parameters.value(layer.weightHH)
    let lengths = sequence.lengths
    let scratch = layer.scratch
    let dxgBuffer = scratch.buffer("gru dxg", count: t * b * g)
    let dhgBuffer = scratch.buffer("gru dhg", count: t * b * g)
    let dhBuffer = scratch.buffer("gru dh", copying: dState.h)
    let swapBuffer = scratch.buffer("gru dh'", count: b * h)  // dh_t and dh_{t-1}, swapped each step
    defer { extendLifetime((dhgBuffer, swapBuffer)) }  // the loops use only their pointers
    let (dxg, dhg, dhNext, dhPrev) = (dxgBuffer.pointer, dhgBuffer.pointer, dhBuffer.pointer, swapBuffer.pointer)
    let (gates, hn) = (cache.gates.pointer, cache.hiddenCandidates.pointer)
    Tensor.withPointers(reading: [dy, sequence.y, sequence.initial.h]) { inputs in
      let (dy, y, h0) = (inputs[0], inputs[1], inputs[2])
      Parallel.split(b) { slice in
        let (r, n) = (slice.lowerBound, slice.count)
        var (next, prev) = (dhNext + r * h, dhPrev + r * h)
        for step in stride(from: t - 1, through: 0, by: -1) {
          let now = (step * b + r) * h
          let hPrev = step == 0 ? h0 + r * h : y + now - b * h
          let (dxgT, dhgT) = (dxg + (step * b + r) * g, dhg + (step * b + r) * g)
          backend.gruBackwardStep(n, h, gates + (step * b + r) * g, hn + now, hPrev, dy + now, next, dxgT, dhgT, prev)
          if let lengths {
            Padding.zeroPadded(lengths, slice, step: step, width: g, dxgT)
            Padding.zeroPadded(lengths, slice, step: step, width: g, dhgT)
            Padding.copyPadded(lengths, slice, step: step, width: h, from: next, to: prev)
          }
          backend.gemm(false, false, n, h, g, dhgT, whh, beta: 1, prev)
          swap(&next, &prev)
        }
        // The gradient of h_0 ends in `next`; make sure it is in dhNext.
        if next != dhNext + r * h { (dhNext + r * h).update(from: next, count: n * h) }
      }
    }
    layer.accumulateHiddenGradients(dhg: dhg, cache: sequence, parameters: parameters)
    return (dxgBuffer, RecurrentState(h: dhBuffer.tensor([b, h])))
  }
}
