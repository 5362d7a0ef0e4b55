/// One kind of recurrent cell run over whole sequences (`LSTMCell`, `GRUCell`, `ElmanCell`,
/// `MinGRUCell`): everything `RecurrentLayer` needs to know about it, in one type.
///
/// `RecurrentLayer` holds the parameters and does the work common to every cell: the input
/// projections `xg = x W_ih^T + b_ih (+ b_hh)` of the whole sequence as one GEMM before the time
/// loop, the checks of shapes and lengths, the final state, and the input side of backward. It
/// hands the time loops to its cell, which keeps what its backward needs in its own `Cache`.
///
/// To add a cell, write one type conforming to this protocol (see `MinGRUCell.swift` for a small
/// one, `LSTMCell.swift` for one with a per-step GEMM), its fused step kernels (a built-in cell's
/// are `ComputeBackend` requirements, on the CPU in `CKernels/recurrent.c`), and its tests; its
/// loops reach the numbers through `parameters.backend`. Build layers with
/// `RecurrentLayer(MyCell(), ...)` or `RecurrentStack(MyCell(), ...)`. The built-in cells that checkpoints, the command line,
/// sampling and the GPU path know are also named by `CellKind`.
public protocol RecurrentCell: Sendable {
  /// What the cell's backward reads besides the layer's `RecurrentCache`.
  associatedtype Cache: RecurrentCellCache

  /// The cell's name in messages; for a built-in cell, its `CellKind` raw value.
  var name: String { get }

  /// `G`, the gate blocks of `H` rows each stacked in `weight_ih` (and `weight_hh`): the input
  /// projections are `[T,B,G*H]`.
  var gates: Int { get }

  /// Whether the state has a cell part `c [B,H]` besides `h` (an LSTM's). Default: false.
  var hasCellState: Bool { get }

  /// Whether the layer declares `weight_hh [G*H, H]` and `bias_hh [G*H]`, multiplied by the
  /// state each step. Default: true.
  var hasHiddenWeights: Bool { get }

  /// Whether the input projections include `b_hh` (`b_ih + b_hh`); false for a cell that adds
  /// `b_hh` inside the step itself (the GRU's reset gate). Default: true.
  var projectionIncludesHiddenBias: Bool { get }

  /// The forward time loop over `time` steps from the input projections `xg [T,B,G*H]` (a
  /// workspace buffer, which it may keep as its cache or overwrite) and `state` (`[B,H]`, with `c`
  /// for a cell that has one): every step's output `[T,B,H]` and the cell's cache. With
  /// `lengths`, a padded row carries its state unchanged (`Padding`). `layer` gives the sizes,
  /// the parameters' places and the workspaces its other buffers come from: `layer.workspace`
  /// for what the cache keeps, `layer.scratch` for what is done with when the call returns.
  func forward(
    _ xg: WorkspaceBuffer, time: Int, state: RecurrentState, lengths: [Int]?, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (y: Tensor, cache: Cache)

  /// The backward time loop: from `dy [T,B,H]` and the final state's gradient, accumulates the
  /// gradients of the hidden weights (if any: `layer.accumulateHiddenGradients`) and returns those
  /// of `xg [T,B,G*H]` (in a workspace buffer) and of the initial state. `sequence` is the layer's cache of the same
  /// forward (its input state, outputs and lengths); a padded row gets zero gradients for its
  /// padded steps and passes its state's gradient through them unchanged.
  func backward(
    _ dy: Tensor, dState: RecurrentState, cache: Cache, sequence: RecurrentCache, layer: RecurrentLayer,
    parameters: Parameters
  ) -> (dxg: WorkspaceBuffer, dState: RecurrentState)
}

extension RecurrentCell {
  public var hasCellState: Bool { false }
  public var hasHiddenWeights: Bool { true }
  public var projectionIncludesHiddenBias: Bool { true }
}

/// What a cell keeps for backward.
public protocol RecurrentCellCache: Sendable {
  /// The cell states `c_t` `[T,B,H]` of a cell that has them (an LSTM); nil by default.
  var cellStates: UnsafePointer<Float>? { get }
}

extension RecurrentCellCache {
  public var cellStates: UnsafePointer<Float>? { nil }
}

extension RecurrentLayer {
  /// The frame of a forward time loop in which each thread runs a slice of the batch through all
  /// `time` steps: allocates the outputs `y [T,B,H]`, and calls `body` per step and slice with
  /// the slice's `h_{t-1}` (the initial state's rows at step 0) and its rows of `y_t`, both
  /// `[rows, H]`; after it a padded row's `y_t` is its `h_{t-1}` (a cell with more state copies
  /// that itself). Returns `y`.
  func forwardSteps(
    time t: Int, state: RecurrentState, lengths: [Int]?,
    _ body: (_ step: Int, _ rows: Range<Int>, _ hPrev: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Void
  ) -> Tensor {
    let (b, h) = (state.h.shape[0], hiddenSize)
    var outputs = [Tensor(uninitializedShape: [t, b, h])]
    Tensor.withPointers(mutating: &outputs, reading: [state.h]) { outputs, inputs in
      let (y, h0) = (outputs[0], inputs[0])
      Parallel.split(b) { rows in
        for step in 0..<t {
          let now = (step * b + rows.lowerBound) * h
          let hPrev = step == 0 ? h0 + rows.lowerBound * h : UnsafePointer(y + now - b * h)
          body(step, rows, hPrev, y + now)
          if let lengths { Padding.copyPadded(lengths, rows, step: step, width: h, from: hPrev, to: y + now) }
        }
      }
    }
    return outputs[0]
  }

  /// Runs `cell`'s forward time loop and wraps its cache in the layer's (the cell's type opened
  /// from the layer's `any RecurrentCell`: one dynamic dispatch per call).
  func run<Cell: RecurrentCell>(
    _ cell: Cell, _ xg: WorkspaceBuffer, _ time: Int, _ state: RecurrentState, _ lengths: [Int]?,
    _ parameters: Parameters
  ) -> RecurrentCache {
    let (y, cellCache) = cell.forward(
      xg, time: time, state: state, lengths: lengths, layer: self, parameters: parameters)
    return RecurrentCache(initial: state, y: y, cell: cellCache)
  }

  /// Runs `cell`'s backward time loop with the cell's part of `cache`.
  func runBackward<Cell: RecurrentCell>(
    _ cell: Cell, _ dy: Tensor, _ dState: RecurrentState, _ cache: RecurrentCache, _ parameters: Parameters
  ) -> (dxg: WorkspaceBuffer, dState: RecurrentState) {
    guard let cellCache = cache.cell as? Cell.Cache else {
      fatalError("a cache of another cell than \(cell.name) passed to backward")
    }
    return cell.backward(dy, dState: dState, cache: cellCache, sequence: cache, layer: self, parameters: parameters)
  }
}
