import CKernels

/// The recurrent cells, with PyTorch's gate orders and parameter shapes.
public enum CellKind: String, Codable, Sendable, CaseIterable {
  /// `torch.nn.LSTM`: gates `i, f, g, o`; state `(h, c)`.
  case lstm
  /// `torch.nn.GRU`: gates `r, z, n`, the reset gate applied after the hidden product.
  case gru
  /// `torch.nn.RNN(nonlinearity: "tanh")`.
  case rnnTanh = "rnn_tanh"
  /// `torch.nn.RNN(nonlinearity: "relu")`.
  case rnnRelu = "rnn_relu"

  /// The cell type this name stands for.
  public var cell: any RecurrentCell {
    switch self {
    case .lstm: LSTMCell()
    case .gru: GRUCell()
    case .rnnTanh: ElmanCell(.tanh)
    case .rnnRelu: ElmanCell(.relu)
    }
  }

  /// Gate blocks stacked in `weight_ih`/`weight_hh`: rows are `gates * H`.
  public var gates: Int { cell.gates }

  /// Whether the state has a cell part `c` besides `h`.
  public var hasCellState: Bool { cell.hasCellState }
}

/// The state a recurrent layer carries from one step to the next: `h [B,H]`, and `c [B,H]` for an LSTM.
public struct RecurrentState: Equatable, Sendable {
  public var h: Tensor
  public var c: Tensor?

  public init(h: Tensor, c: Tensor? = nil) {
    self.h = h
    self.c = c
  }

  /// The zero state of a layer of `cell` for `batch` sequences.
  public static func zeros(_ cell: CellKind, batch: Int, hidden: Int) -> RecurrentState {
    zeros(of: cell.cell, batch: batch, hidden: hidden)
  }

  /// The zero state of a layer of `cell` for `batch` sequences.
  public static func zeros(of cell: any RecurrentCell, batch: Int, hidden: Int) -> RecurrentState {
    RecurrentState(h: .zeros([batch, hidden]), c: cell.hasCellState ? .zeros([batch, hidden]) : nil)
  }
}

/// What `RecurrentLayer.backward` needs from one `forward` over a sequence.
public struct RecurrentCache: Sendable {
  /// The input `[T,B,D]` (nil when the layer ran from projections).
  public internal(set) var x: Tensor?
  /// The initial state.
  public internal(set) var initial: RecurrentState
  /// Every step's output `h_t`, `[T,B,H]`.
  public internal(set) var y: Tensor
  /// The cell's own cache: its cell's `Cache` (`LSTMCell.Cache`, ...).
  public internal(set) var cell: any RecurrentCellCache
  /// Each row's number of valid steps, or nil when every row has all `T`. Past its length a row's
  /// `y` and the cell states hold its carried state, not zeros; the returned output has zeros there.
  public internal(set) var lengths: [Int]? = nil
}

/// One recurrent layer over whole sequences `[T,B,D] -> [T,B,H]`, with PyTorch's parameters:
/// `weight_ih [G*H, D]`, `weight_hh [G*H, H]`, `bias_ih [G*H]`, `bias_hh [G*H]` (`G` gates; the
/// hidden pair only for a cell that has hidden weights, `RecurrentCell.hasHiddenWeights`).
///
/// The input projection of all steps is one GEMM before the time loop; each step is one GEMM with
/// `weight_hh` and one fused pointwise kernel; the weight gradients are one GEMM each after the
/// backward loop. The time loops are the cell's (`LSTMCell`, `GRUCell`, `ElmanCell`,
/// `MinGRUCell`, or any `RecurrentCell`), reached through the cell's type, each of which writes
/// its gate order and memory kept for backward in its header: at most `T*B*(G+3)*H` floats per
/// layer (an LSTM's), besides the input.
public struct RecurrentLayer: Sendable {
  /// The cell whose time loops the layer runs.
  public let cell: any RecurrentCell
  /// `D`, the features of each input step.
  public let inputSize: Int
  /// `H`, the features of the state and of each output step.
  public let hiddenSize: Int
  public let weightIH: ParameterRef
  public let biasIH: ParameterRef
  /// `weight_hh` and `bias_hh`, nil for a cell without hidden weights.
  let hiddenWeights: (weight: ParameterRef, bias: ParameterRef)?

  /// `weight_hh [G*H, H]`; only for a cell with hidden weights.
  public var weightHH: ParameterRef {
    require(hiddenWeights != nil, "a \(cell.name) layer has no weight_hh")
    return hiddenWeights!.weight
  }

  /// `bias_hh [G*H]`; only for a cell with hidden weights.
  public var biasHH: ParameterRef {
    require(hiddenWeights != nil, "a \(cell.name) layer has no bias_hh")
    return hiddenWeights!.bias
  }

  /// The built-in cell the layer runs, or nil for another cell.
  public var kind: CellKind? { CellKind(rawValue: cell.name) }

  /// Declares the layer's parameters as `<prefix>weight_ih<suffix>` etc. (e.g. `rnn.` and `_l0`),
  /// in PyTorch's order, each uniform in `[-1/sqrt(H), 1/sqrt(H)]` as PyTorch initialises them.
  public init(
    _ cell: any RecurrentCell, inputSize: Int, hiddenSize: Int, layout: inout ParameterLayout,
    prefix: String = "", suffix: String = ""
  ) {
    let rows = cell.gates * hiddenSize
    self.cell = cell
    self.inputSize = inputSize
    self.hiddenSize = hiddenSize
    let bound = ParameterInitialization.uniform(bound: 1 / Float(hiddenSize).squareRoot())
    func declare(_ name: String, _ shape: [Int]) -> ParameterRef {
      layout.declare("\(prefix)\(name)\(suffix)", shape: shape, initialization: bound)
    }
    weightIH = declare("weight_ih", [rows, inputSize])
    let weightHH = cell.hasHiddenWeights ? declare("weight_hh", [rows, hiddenSize]) : nil
    biasIH = declare("bias_ih", [rows])
    hiddenWeights = weightHH.map { ($0, declare("bias_hh", [rows])) }
  }

  /// A layer of the built-in cell `kind`.
  public init(
    _ kind: CellKind, inputSize: Int, hiddenSize: Int, layout: inout ParameterLayout,
    prefix: String = "", suffix: String = ""
  ) {
    self.init(kind.cell, inputSize: inputSize, hiddenSize: hiddenSize, layout: &layout, prefix: prefix, suffix: suffix)
  }

  /// The layer's parameters in declaration order.
  public var parameterRefs: [ParameterRef] {
    [weightIH] + (hiddenWeights.map { [$0.weight] } ?? []) + [biasIH] + (hiddenWeights.map { [$0.bias] } ?? [])
  }

  /// PyTorch's initialisation: every parameter uniform in `[-1/sqrt(H), 1/sqrt(H)]`.
  public func initialize(_ parameters: Parameters, using generator: inout RandomGenerator) {
    parameters.initialize(parameterRefs, using: &generator)
  }

  /// The zero state `[B,H]` (and `c` for an LSTM) for `batch` sequences.
  public func zeroState(batch: Int) -> RecurrentState { .zeros(of: cell, batch: batch, hidden: hiddenSize) }

  /// Runs the layer over `x [T,B,D]` from `state`; returns every step's output `[T,B,H]`, the
  /// final state and the cache for `backward`.
  ///
  /// `lengths` (one per row of the batch, each in `0...T`; nil: all `T`) makes a variable-length
  /// batch, as PyTorch's `pack_padded_sequence(x, lengths, enforce_sorted=False)` then
  /// `pad_packed_sequence(y, total_length: T)`: row `b` reads only its first `lengths[b]` steps,
  /// its outputs after them are zero and its final state is the one after step `lengths[b] - 1`
  /// (the initial state for length 0). `backward` ignores gradients at padded outputs.
  public func forward(_ x: Tensor, state: RecurrentState, lengths: [Int]? = nil, parameters: Parameters)
    -> (y: Tensor, state: RecurrentState, cache: RecurrentCache)
  {
    require(x.shape.count == 3 && x.shape[2] == inputSize, "input \(x.shape) is not [T, B, \(inputSize)]")
    var result = forward(
      projected: inputProjection(x, parameters), state: state, lengths: lengths, parameters: parameters)
    result.cache.x = x
    return result
  }

  /// Runs the layer from its input projections `xg = x W_ih^T + b_ih` `[T,B,G*H]` (plus `b_hh`
  /// where `cell.projectionIncludesHiddenBias`: not for a GRU, whose `b_hh` stays inside the reset gate) instead of from `x`. `lengths`
  /// as in `forward(_:state:lengths:parameters:)`.
  public func forward(
    projected xg: consuming Tensor, state: RecurrentState, lengths: [Int]? = nil, parameters: Parameters
  ) -> (y: Tensor, state: RecurrentState, cache: RecurrentCache) {
    require(xg.shape.count == 3 && xg.shape[2] == cell.gates * hiddenSize, "projection \(xg.shape) is not [T, B, G*H]")
    require(state.h.shape == [xg.shape[1], hiddenSize], "state \(state.h.shape) is not [B, H]")
    require(
      cell.hasCellState || state.c == nil,
      "a \(cell.name) layer keeps no cell state c, but its state has one (an LSTM's state?)")
    require(state.c.map { $0.shape == state.h.shape } ?? true, "cell state \(state.c!.shape) is not [B, H]")
    let lengths = Padding.effectiveLengths(lengths, time: xg.shape[0], batch: xg.shape[1])
    let state = cell.hasCellState ? RecurrentState(h: state.h, c: state.c ?? .zeros(state.h.shape)) : state
    var cache = run(cell, consume xg, state, lengths, parameters)
    guard let lengths else { return (cache.y, finalState(cache), cache) }
    cache.lengths = lengths
    return (Padding.zeroingPadded(cache.y, lengths: lengths), finalState(cache), cache)
  }

  /// Back-propagates `dy [T,B,H]` (nil: zero) and the gradient of the final state (nil: zero)
  /// through the sequence; accumulates into the parameters' gradients and returns the gradients
  /// of `x` and of the initial state.
  public func backward(
    _ dy: Tensor?, dState: RecurrentState?, cache: RecurrentCache, parameters: Parameters
  ) -> (dx: Tensor, dState: RecurrentState) {
    guard let x = cache.x else { fatalError("the cache is of forward(projected:); use backwardToProjection") }
    let (dxg, dState) = backwardToProjection(dy, dState: dState, cache: cache, parameters: parameters)
    return (inputGradients(dxg, x: x, parameters: parameters), dState)
  }

  /// Like `backward`, but stops at the input projections: accumulates the gradients of
  /// `weight_hh` and `bias_hh` and returns the gradient of `xg [T,B,G*H]` and of the initial state.
  public func backwardToProjection(
    _ dy: Tensor?, dState: RecurrentState?, cache: RecurrentCache, parameters: Parameters
  ) -> (dxg: Tensor, dState: RecurrentState) {
    let (t, b) = (cache.y.shape[0], cache.y.shape[1])
    let dy = dy ?? .zeros([t, b, hiddenSize])
    require(dy.shape == [t, b, hiddenSize], "output gradient \(dy.shape) is not [T, B, H]")
    let dState = dState ?? zeroState(batch: b)
    return runBackward(cell, dy, dState, cache, parameters)
  }

  private func finalState(_ cache: RecurrentCache) -> RecurrentState {
    let (t, b) = (cache.y.shape[0], cache.y.shape[1])
    guard t > 0 else { return cache.initial }
    let size = b * hiddenSize
    func last(_ sequence: Tensor) -> Tensor {
      Tensor(shape: [b, hiddenSize], scalars: Array(sequence.scalars[(t - 1) * size..<t * size]))
    }
    return RecurrentState(h: last(cache.y), c: cache.cell.cellStates.map(last))
  }

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

  /// Calls `body` with the recurrent weight as the forward time loop multiplies by it,
  /// `h W_hh^T`, for each part of the hidden units (`parts`): the part's gate rows `q*H + j`,
  /// `[G*w, H]` (`transposed` true: multiplied transposed on the fly), or from `H = 256` up their
  /// transpose `[H, G*w]` (`transposed` false: a plain product), which oneDNN runs about twice as
  /// fast there (`[16, 512] x [512, 2048]`: 154-173 against 71 GFLOP/s on two cores; 2x512 LSTM
  /// training +20-25%) and slower at `H = 128`. One part of all units uses `W_hh` itself.
  func withForwardHiddenWeights<R>(
    _ parameters: Parameters, parts: [Range<Int>], _ body: (_ weights: [UnsafePointer<Float>], _ transposed: Bool) -> R
  ) -> R {
    let (g, h, whh) = (cell.gates, hiddenSize, parameters.value(weightHH))
    let transposed = h < 256
    if transposed && parts.count == 1 { return body([whh], true) }
    let offsets = parts.map { g * $0.lowerBound * h }
    let copy = Tensor(shape: [g * h, h]) { out in
      for (units, offset) in zip(parts, offsets) {
        for q in 0..<g {
          let rows = whh + (q * h + units.lowerBound) * h
          if transposed {
            (out + offset + q * units.count * h).update(from: rows, count: units.count * h)
          } else {
            rnn_transpose(units.count, h, rows, h, out + offset + q * units.count, g * units.count, 0)
          }
        }
      }
    }
    return copy.withPointer { base in
      BLAS.holdConstant(base, count: g * h * h)  // with bf16 products: rounded once for every step
      defer { BLAS.releaseConstant(base) }
      return body(offsets.map { base + $0 }, transposed)
    }
  }

  /// The biases every input projection starts from: `b_ih + b_hh`, or `b_ih` for a GRU or a cell
  /// without hidden weights.
  func fillProjectionBiases(_ rows: Int, _ out: UnsafeMutablePointer<Float>, _ parameters: Parameters) {
    Parallel.fillRows(
      rows, cell.gates * hiddenSize, out, parameters.value(biasIH),
      cell.projectionIncludesHiddenBias ? hiddenWeights.map { UnsafePointer(parameters.value($0.bias)) } : nil)
  }

  /// `x W_ih^T` plus biases for every step at once: `[T,B,G*H]`, rows split across threads.
  func inputProjection(_ x: Tensor, _ parameters: Parameters) -> Tensor {
    let (n, d) = (x.shape[0] * x.shape[1], inputSize)
    let rows = cell.gates * hiddenSize
    return Tensor(shape: [x.shape[0], x.shape[1], rows]) { out in
      fillProjectionBiases(n, out, parameters)
      x.withPointer { x in BLAS.parallelGemm(false, true, n, rows, d, x, parameters.value(weightIH), beta: 1, out) }
    }
  }

  /// The input side of backward: `dW_ih += dxg^T x`, `db_ih += sum(dxg)`; returns `dx = dxg W_ih`.
  func inputGradients(_ dxg: Tensor, x: Tensor, parameters: Parameters) -> Tensor {
    affineBackward(dxg, x: x, weight: weightIH, bias: biasIH, parameters: parameters)
  }

  /// The hidden side of backward, once every step's gradient `dhg [T,B,G*H]` of the hidden
  /// products is known: `dW_hh += dhg^T h_{t-1}`, `db_hh += sum(dhg)`, as whole-sequence GEMMs.
  func accumulateHiddenGradients(dhg: UnsafePointer<Float>, cache: RecurrentCache, parameters: Parameters) {
    let (t, b, h) = (cache.y.shape[0], cache.y.shape[1], hiddenSize)
    let rows = cell.gates * h
    let n = t * b
    guard n > 0 else { return }
    cache.initial.h.withPointer { h0 in
      cache.y.withPointer { y in
        BLAS.accumulateWeightGradient(
          rows, h,
          [
            .init(n: b, dy: dhg, ldy: rows, x: h0),  // h_{t-1} of step 0 is the initial state
            .init(n: n - b, dy: dhg + b * rows, ldy: rows, x: y),
          ], into: parameters.gradient(weightHH))
      }
    }
    Parallel.addColumnSums(n, rows, dhg, into: parameters.gradient(biasHH))
  }
}
