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
  /// The buffers the layer's calls reuse and its caches keep (projections, gates, cell states),
  /// shared by copies of the layer.
  public let workspace = RecurrentWorkspace()
  /// The buffers no call keeps past its own end (gate gradients, a step's scratch, the transposed
  /// `W_hh`), shared by the layers built together (a stack's, both directions'): one layer's
  /// backward is done with them before the next one's starts.
  public let scratch: RecurrentWorkspace

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
  /// Layers built together may share `scratch` (nil: one of its own).
  public init(
    _ cell: any RecurrentCell, inputSize: Int, hiddenSize: Int, layout: inout ParameterLayout,
    prefix: String = "", suffix: String = "", scratch: RecurrentWorkspace? = nil
  ) {
    let rows = cell.gates * hiddenSize
    self.cell = cell
    self.scratch = scratch ?? RecurrentWorkspace()
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
      projections: inputProjection(x, parameters), time: x.shape[0], batch: x.shape[1], state: state,
      lengths: lengths, parameters: parameters)
    result.cache.x = x
    return result
  }

  /// Runs the layer from its input projections `xg = x W_ih^T + b_ih` `[T,B,G*H]` (plus `b_hh`
  /// where `cell.projectionIncludesHiddenBias`: not for a GRU, whose `b_hh` stays inside the reset
  /// gate) instead of from `x`. `lengths` as in `forward(_:state:lengths:parameters:)`.
  public func forward(
    projected xg: Tensor, state: RecurrentState, lengths: [Int]? = nil, parameters: Parameters
  ) -> (y: Tensor, state: RecurrentState, cache: RecurrentCache) {
    require(xg.shape.count == 3 && xg.shape[2] == cell.gates * hiddenSize, "projection \(xg.shape) is not [T, B, G*H]")
    return forward(
      projections: workspace.buffer("projections", copying: xg), time: xg.shape[0], batch: xg.shape[1],
      state: state, lengths: lengths, parameters: parameters)
  }

  /// The forward from input projections `[T,B,G*H]` in a workspace buffer, which the cell may
  /// keep as its cache.
  func forward(
    projections xg: WorkspaceBuffer, time: Int, batch: Int, state: RecurrentState, lengths: [Int]?,
    parameters: Parameters
  ) -> (y: Tensor, state: RecurrentState, cache: RecurrentCache) {
    require(state.h.shape == [batch, hiddenSize], "state \(state.h.shape) is not [B, H]")
    require(
      cell.hasCellState || state.c == nil,
      "a \(cell.name) layer keeps no cell state c, but its state has one (an LSTM's state?)")
    require(state.c.map { $0.shape == state.h.shape } ?? true, "cell state \(state.c!.shape) is not [B, H]")
    let lengths = Padding.effectiveLengths(lengths, time: time, batch: state.h.shape[0])
    let state = cell.hasCellState ? RecurrentState(h: state.h, c: state.c ?? .zeros(state.h.shape)) : state
    var cache = run(cell, xg, time, state, lengths, parameters)
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
    let (dxg, dState) = backwardToProjections(dy, dState: dState, cache: cache, parameters: parameters)
    return (inputGradients(dxg.pointer, x: x, parameters: parameters), dState)
  }

  /// Like `backward`, but stops at the input projections: accumulates the gradients of
  /// `weight_hh` and `bias_hh` and returns the gradient of `xg [T,B,G*H]` and of the initial state.
  public func backwardToProjection(
    _ dy: Tensor?, dState: RecurrentState?, cache: RecurrentCache, parameters: Parameters
  ) -> (dxg: Tensor, dState: RecurrentState) {
    let (dxg, dState) = backwardToProjections(dy, dState: dState, cache: cache, parameters: parameters)
    return (dxg.tensor([cache.y.shape[0], cache.y.shape[1], cell.gates * hiddenSize]), dState)
  }

  /// `backwardToProjection` with the gradient of the projections in a workspace buffer.
  func backwardToProjections(
    _ dy: Tensor?, dState: RecurrentState?, cache: RecurrentCache, parameters: Parameters
  ) -> (dxg: WorkspaceBuffer, dState: RecurrentState) {
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
    let c = cache.cell.cellStates.map { cells in
      Tensor(shape: [b, hiddenSize]) { $0.update(from: cells + (t - 1) * size, count: size) }
    }
    return RecurrentState(
      h: Tensor(shape: [b, hiddenSize], scalars: Array(cache.y.scalars[(t - 1) * size..<t * size])), c: c)
  }

  /// The biases every input projection starts from: `b_ih + b_hh`, or `b_ih` for a GRU or a cell
  /// without hidden weights.
  func fillProjectionBiases(_ rows: Int, _ out: UnsafeMutablePointer<Float>, _ parameters: Parameters) {
    parameters.backend.fillRows(
      rows, cell.gates * hiddenSize, out, parameters.value(biasIH),
      cell.projectionIncludesHiddenBias ? hiddenWeights.map { UnsafePointer(parameters.value($0.bias)) } : nil)
  }

  /// `x W_ih^T` plus biases for every step at once, `[T,B,G*H]` in the workspace's
  /// `projections` buffer; rows split across threads.
  func inputProjection(_ x: Tensor, _ parameters: Parameters) -> WorkspaceBuffer {
    let (n, d) = (x.shape[0] * x.shape[1], inputSize)
    let rows = cell.gates * hiddenSize
    let out = workspace.buffer("projections", count: n * rows)
    fillProjectionBiases(n, out.pointer, parameters)
    x.withPointer { x in
      parameters.backend.parallelGemm(false, true, n, rows, d, x, parameters.value(weightIH), beta: 1, out.pointer)
    }
    return out
  }

  /// The input side of backward: `dW_ih += dxg^T x`, `db_ih += sum(dxg)`; returns `dx = dxg W_ih`.
  func inputGradients(_ dxg: UnsafePointer<Float>, x: Tensor, parameters: Parameters) -> Tensor {
    affineBackward(dxg, x: x, weight: weightIH, bias: biasIH, parameters: parameters)
  }
}
