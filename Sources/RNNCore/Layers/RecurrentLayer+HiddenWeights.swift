// The hidden side of a layer whose cell has hidden weights (`RecurrentCell.hasHiddenWeights`):
// `W_hh` as the forward time loops multiply by it, and its gradients after the backward loop.

/// The recurrent weight of each part of the hidden units as a forward time loop multiplies by
/// it (`RecurrentLayer.forwardHiddenWeights`); `release()` when the loop is done.
struct ForwardHiddenWeights {
  /// Each part's weight: its gate rows `[G*w, H]` (`transposed`) or their transpose `[H, G*w]`.
  let parts: [UnsafePointer<Float>]
  /// Whether the weights are multiplied transposed (`[G*w, H]`) or plain (`[H, G*w]`).
  let transposed: Bool
  /// The workspace copy the parts point into, if not `W_hh` itself.
  let copy: WorkspaceBuffer?
  /// The backend that holds the copy as a constant operand.
  let backend: any ComputeBackend

  /// Ends the copy's hold as a constant operand (bf16 products round it once for every step).
  func release() {
    if let copy { backend.releaseConstant(copy.pointer) }
  }
}

extension RecurrentLayer {
  /// With two threads, the hidden units each computes when both share every step of a GRU's
  /// forward time loop (`[0, u)` and `[u, H)`); nil when each thread runs a slice of the batch
  /// through all steps on its own instead (one thread, or more than two).
  ///
  /// Sharing steps costs a barrier per step, but each thread's product has all `B` rows instead
  /// of `B/2` and needs only its half of `W_hh`, which stays in its core's L2 at `H = 512` (two
  /// cores at once, per step: `[32, 512] x [512, 768]` 251-299 us against 324-377 us for
  /// `[16, 512] x [512, 1536]`; 2x512 GRU training +14%). An LSTM's half of `W_hh` is 2 MiB, the
  /// whole L2, and its loops measured no faster shared (2x128 slower), so they split the batch.
  var unitParts: [Range<Int>]? {
    guard Parallel.width == 2, Parallel.timeStepsSharedByUnits, hiddenSize >= 2 else { return nil }
    let half = hiddenSize >= 32 ? (hiddenSize / 2 + 7) / 8 * 8 : (hiddenSize + 1) / 2
    return [0..<half, half..<hiddenSize]
  }

  /// The recurrent weight as the forward time loop multiplies by it, `h W_hh^T`, for each part
  /// of the hidden units (`parts`): the part's gate rows `q*H + j`, `[G*w, H]` (`transposed`
  /// true: multiplied transposed on the fly), or their transpose `[H, G*w]` (`transposed` false: a
  /// plain product), as the backend multiplies faster (`multipliesHiddenWeightsTransposed`: on the
  /// CPU, transposed below `H = 256` or when `W_hh` is held and packed for our own kernel). One
  /// part of all units uses `W_hh` itself; otherwise the copy lives in the scratch workspace
  /// (`hidden weights`) until `release()`. `batch` is `B`: with one part the loop's threads each
  /// multiply a slice of its rows, with several each multiplies all of them.
  func forwardHiddenWeights(_ parameters: Parameters, parts: [Range<Int>], batch b: Int) -> ForwardHiddenWeights {
    let (g, h, whh, backend) = (cell.gates, hiddenSize, parameters.value(weightHH), parameters.backend)
    let slices = parts.count > 1 ? 1 : max(1, min(Parallel.width, b))
    let transposed = backend.multipliesHiddenWeightsTransposed(
      whh, count: g * h * h, hiddenSize: h, rows: (b + slices - 1) / slices)
    if transposed && parts.count == 1 {
      return ForwardHiddenWeights(parts: [whh], transposed: true, copy: nil, backend: backend)
    }
    let offsets = parts.map { g * $0.lowerBound * h }
    let copy = scratch.buffer("hidden weights", count: g * h * h)
    for (units, offset) in zip(parts, offsets) {
      for q in 0..<g {
        let rows = whh + (q * h + units.lowerBound) * h
        if transposed {
          (copy.pointer + offset + q * units.count * h).update(from: rows, count: units.count * h)
        } else {
          backend.transpose(units.count, h, rows, lds: h, copy.pointer + offset + q * units.count, ldd: g * units.count)
        }
      }
    }
    backend.holdConstant(copy.pointer, count: g * h * h)  // with bf16 products: rounded once for every step
    return ForwardHiddenWeights(
      parts: offsets.map { UnsafePointer(copy.pointer + $0) }, transposed: transposed, copy: copy, backend: backend)
  }

  /// The hidden side of backward, once every step's gradient `dhg [T,B,G*H]` of the hidden
  /// products is known: `dW_hh += dhg^T h_{t-1}`, `db_hh += sum(dhg)`, as whole-sequence GEMMs.
  func accumulateHiddenGradients(dhg: UnsafePointer<Float>, cache: RecurrentCache, parameters: Parameters) {
    let (t, b, h) = (cache.y.shape[0], cache.y.shape[1], hiddenSize)
    let rows = cell.gates * h
    let n = t * b
    guard n > 0 else { return }
    let backend = parameters.backend
    cache.initial.h.withPointer { h0 in
      cache.y.withPointer { y in
        parameters.accumulateWeightGradient(
          of: weightHH,
          [
            .init(n: b, dy: dhg, ldy: rows, x: h0),  // h_{t-1} of step 0 is the initial state
            .init(n: n - b, dy: dhg + b * rows, ldy: rows, x: y),
          ])
      }
    }
    backend.addColumnSums(n, rows, dhg, into: parameters.gradient(biasHH))
  }
}
