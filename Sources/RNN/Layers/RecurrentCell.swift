/// One kind of recurrent cell run over whole sequences: `LSTMCell`, `GRUCell`, `ElmanCell`.
/// `RecurrentLayer` holds the parameters and the work common to every cell (input projections,
/// lengths, the final state, `W_hh`'s gradients) and hands the time loops to its cell; each cell
/// keeps what its backward needs in its own `Cache`.
protocol RecurrentCell: Sendable {
  /// What the cell's backward reads besides the layer's `RecurrentCache`.
  associatedtype Cache: RecurrentCellCache

  /// The layer whose parameters and sizes the cell uses.
  var layer: RecurrentLayer { get }

  /// The forward time loop from the input projections `xg [T,B,G*H]` (which it may reuse as
  /// storage) and `state` (with `c` for a cell that has one): every step's output `[T,B,H]` and
  /// the cell's cache. With `lengths`, a padded row carries its state unchanged.
  func forward(_ xg: consuming Tensor, state: RecurrentState, lengths: [Int]?, parameters: Parameters)
    -> (y: Tensor, cache: Cache)

  /// The backward time loop: from `dy [T,B,H]` and the final state's gradient, accumulates the
  /// gradients of `weight_hh` and `bias_hh` and returns those of `xg [T,B,G*H]` and of the
  /// initial state. `sequence` is the layer's cache of the same forward.
  func backward(
    _ dy: Tensor, dState: RecurrentState, cache: Cache, sequence: RecurrentCache, parameters: Parameters
  ) -> (dxg: Tensor, dState: RecurrentState)
}

/// What a cell keeps for backward.
protocol RecurrentCellCache: Sendable {
  /// The cell states `c_t` `[T,B,H]` of a cell that has them (an LSTM); nil by default.
  var cellStates: Tensor? { get }
}

extension RecurrentCellCache {
  var cellStates: Tensor? { nil }
}

/// The raw pointers of a forward time loop, taken once at its top.
struct ForwardLoopPointers {
  /// The recurrent weight of each part of the hidden units, as `withForwardHiddenWeights` lends it.
  let weights: [UnsafePointer<Float>]
  /// Whether the weights are multiplied transposed (`[G*w, H]`) or plain (`[H, G*w]`).
  let transposed: Bool
  /// The buffers the loop writes, in the order given.
  let outputs: [UnsafeMutablePointer<Float>]
  /// The tensors the loop reads, in the order given.
  let inputs: [UnsafePointer<Float>]
}

extension RecurrentLayer {
  /// Borrows everything a forward time loop touches in one closure: the recurrent weights for
  /// `parts` of the hidden units (`withForwardHiddenWeights`) and the elements of `outputs` and
  /// `inputs` (`Tensor.withPointers`).
  func withForwardLoop<R>(
    _ parameters: Parameters, parts: [Range<Int>], mutating outputs: inout [Tensor], reading inputs: [Tensor],
    _ body: (ForwardLoopPointers) -> R
  ) -> R {
    withForwardHiddenWeights(parameters, parts: parts) { weights, transposed in
      Tensor.withPointers(mutating: &outputs, reading: inputs) {
        body(ForwardLoopPointers(weights: weights, transposed: transposed, outputs: $0, inputs: $1))
      }
    }
  }

  /// Runs `cell`'s forward time loop and wraps its cache in the layer's.
  func run<Cell: RecurrentCell>(
    _ cell: Cell, _ xg: consuming Tensor, _ state: RecurrentState, _ lengths: [Int]?, _ parameters: Parameters
  ) -> RecurrentCache {
    let (y, cellCache) = cell.forward(consume xg, state: state, lengths: lengths, parameters: parameters)
    return RecurrentCache(initial: state, y: y, cell: cellCache)
  }

  /// Runs `cell`'s backward time loop with the cell's part of `cache`.
  func runBackward<Cell: RecurrentCell>(
    _ cell: Cell, _ dy: Tensor, _ dState: RecurrentState, _ cache: RecurrentCache, _ parameters: Parameters
  ) -> (dxg: Tensor, dState: RecurrentState) {
    guard let cellCache = cache.cell as? Cell.Cache else {
      fatalError("a cache of another cell than \(self.cell.rawValue) passed to backward")
    }
    return cell.backward(dy, dState: dState, cache: cellCache, sequence: cache, parameters: parameters)
  }
}
