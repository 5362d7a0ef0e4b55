/// The minimal GRU of Feng et al. 2024, "Were RNNs All We Needed?": both gates read only the
/// input, so the state enters each step through one multiply-add,
///
///     xg = x W_ih^T + b_ih                                [B, 2H], split z, h~
///     z = sigmoid(xg_z);  h' = (1 - z) * h + z * xg_h~
///
/// with `weight_ih [2H, D]` and `bias_ih [2H]` (gate order `z, h~`), no `weight_hh` or `bias_hh`.
/// State `h [B, H]`. The equivalent PyTorch module (`Scripts/make-references.py`, `MinGRU`):
///
///     z, cand = nn.Linear(D, 2 * H)(x).chunk(2, dim=-1)
///     for t in range(T): h = (1 - z[t].sigmoid()) * h + z[t].sigmoid() * cand[t]
///
/// With no hidden product the time loop is a scan: per step one fused pointwise kernel
/// (`ComputeBackend.minGRUForwardStep`, `minGRUBackwardStep`; on the CPU `recurrent.c`'s), each thread
/// running a slice of the batch through all steps; all the GEMMs are the layer's whole-sequence
/// input projections and their gradients. Memory kept for backward, besides the layer's input and
/// outputs `y [T,B,H]`: `z` and `h~`, `[T,B,2H]`; `T*B*3*H` floats with `y`.
public struct MinGRUCell: RecurrentCell {
  public var name: String { "mingru" }
  public var gates: Int { 2 }
  public var hasHiddenWeights: Bool { false }

  public init() {}

  /// What backward reads besides the layer's cache (a workspace buffer).
  public struct Cache: RecurrentCellCache {
    /// `sigmoid(z)` and `h~`, `[T,B,2H]`.
    let gates: WorkspaceBuffer
  }

  /// Forward from the input projections `xg [T,B,2H]`, which become the gate cache in place.
  /// With `lengths`, a padded row's `h_t` is its `h_{t-1}`.
  public func forward(
    _ xg: WorkspaceBuffer, time t: Int, state: RecurrentState, lengths: [Int]?, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (y: Tensor, cache: Cache) {
    let (b, h, gates, backend) = (state.h.shape[0], layer.hiddenSize, xg.pointer, parameters.backend)
    let y = layer.forwardSteps(time: t, state: state, lengths: lengths) { step, rows, hPrev, y in
      backend.minGRUForwardStep(rows.count, h, gates + (step * b + rows.lowerBound) * 2 * h, hPrev, y)
    }
    return (y, Cache(gates: xg))
  }

  /// Backward through time, the scan reversed: per step one fused kernel, each slice of the batch
  /// on its own thread. Returns the gradient of the input projections, `[T,B,2H]`. A padded row
  /// gets zero gate gradients and keeps its `dh` (saved around the kernel).
  public func backward(
    _ dy: Tensor, dState: RecurrentState, cache: Cache, sequence: RecurrentCache, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (dxg: WorkspaceBuffer, dState: RecurrentState) {
    let (t, b, h, backend) = (sequence.y.shape[0], sequence.y.shape[1], layer.hiddenSize, parameters.backend)
    let lengths = sequence.lengths
    let dgatesBuffer = layer.scratch.buffer("mingru dgates", count: t * b * 2 * h)
    let dhBuffer = layer.scratch.buffer("mingru dh", copying: dState.h)
    let savedBuffer = layer.scratch.buffer("mingru saved", count: lengths == nil ? 0 : b * h)  // padded rows' dh
    defer { extendLifetime(savedBuffer) }  // the loop uses only its pointer
    let (dgates, dh, saved, gates) = (dgatesBuffer.pointer, dhBuffer.pointer, savedBuffer.pointer, cache.gates.pointer)
    Tensor.withPointers(reading: [dy, sequence.y, sequence.initial.h]) { inputs in
      let (dy, y, h0) = (inputs[0], inputs[1], inputs[2])
      Parallel.split(b) { slice in
        let (r, n) = (slice.lowerBound, slice.count)
        for step in stride(from: t - 1, through: 0, by: -1) {
          let now = (step * b + r) * h
          let hPrev = step == 0 ? h0 + r * h : y + now - b * h
          let dgatesT = dgates + (step * b + r) * 2 * h
          if let lengths {
            Padding.copyPadded(lengths, slice, step: step, width: h, from: dh + r * h, to: saved + r * h)
          }
          backend.minGRUBackwardStep(n, h, gates + (step * b + r) * 2 * h, hPrev, dy + now, dh + r * h, dgatesT)
          if let lengths {
            Padding.zeroPadded(lengths, slice, step: step, width: 2 * h, dgatesT)
            Padding.copyPadded(lengths, slice, step: step, width: h, from: saved + r * h, to: dh + r * h)
          }
        }
      }
    }
    return (dgatesBuffer, RecurrentState(h: dhBuffer.tensor([b, h])))
  }
}
