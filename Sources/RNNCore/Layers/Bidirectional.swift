/// What `Bidirectional.backward` needs from one `forward`.
public struct BidirectionalCache: Sendable {
  /// The forward direction's cache.
  var forward: RecurrentCache
  /// The reverse direction's cache; its time axis runs over each row's valid steps reversed.
  var reverse: RecurrentCache
  /// Each row's number of valid steps, or nil when every row has all `T`.
  var lengths: [Int]?
}

/// Two recurrent layers of one cell over a sequence, one forward in time and one backward, as one
/// layer of `torch.nn.LSTM/GRU/RNN(bidirectional: true)`: `x [T,B,D] -> y [T,B,2H]`, the forward
/// direction's features first. Parameters `<prefix>weight_ih<suffix>` ... for the forward
/// direction and `<prefix>weight_ih<suffix>_reverse` ... for the reverse one (PyTorch's names
/// with `suffix` `_l0`). States are `[2,B,H]`: forward, then reverse.
///
/// With `lengths`, row `b`'s reverse direction reads steps `lengths[b]-1, ..., 0` (as PyTorch's
/// packed sequences), so it starts at the row's last valid step, not at `T-1`.
public struct Bidirectional: Sendable {
  public let cell: any RecurrentCell
  /// `D`, the features of each input step.
  public let inputSize: Int
  /// `H`, the features of each direction's state; outputs have `2H`.
  public let hiddenSize: Int
  public let forwardLayer: RecurrentLayer
  public let reverseLayer: RecurrentLayer

  /// Both directions of the built-in cell `kind`.
  public init(
    _ kind: CellKind, inputSize: Int, hiddenSize: Int, layout: inout ParameterLayout, prefix: String = "",
    suffix: String = ""
  ) {
    self.init(kind.cell, inputSize: inputSize, hiddenSize: hiddenSize, layout: &layout, prefix: prefix, suffix: suffix)
  }

  /// Declares both directions' parameters, forward then reverse (PyTorch's order).
  public init(
    _ cell: any RecurrentCell, inputSize: Int, hiddenSize: Int, layout: inout ParameterLayout, prefix: String = "",
    suffix: String = ""
  ) {
    self.cell = cell
    self.inputSize = inputSize
    self.hiddenSize = hiddenSize
    let scratch = RecurrentWorkspace()
    forwardLayer = RecurrentLayer(
      cell, inputSize: inputSize, hiddenSize: hiddenSize, layout: &layout, prefix: prefix, suffix: suffix,
      scratch: scratch)
    reverseLayer = RecurrentLayer(
      cell, inputSize: inputSize, hiddenSize: hiddenSize, layout: &layout, prefix: prefix,
      suffix: suffix + "_reverse", scratch: scratch)
  }

  /// PyTorch's initialisation, as `RecurrentLayer.initialize`, forward direction first.
  public func initialize(_ parameters: Parameters, using generator: inout RandomGenerator) {
    forwardLayer.initialize(parameters, using: &generator)
    reverseLayer.initialize(parameters, using: &generator)
  }

  /// The zero state `[2,B,H]`.
  public func zeroState(batch: Int) -> RecurrentState {
    RecurrentState(h: .zeros([2, batch, hiddenSize]), c: cell.hasCellState ? .zeros([2, batch, hiddenSize]) : nil)
  }

  /// Runs both directions over `x [T,B,D]` from `state [2,B,H]`; returns `y [T,B,2H]`, the final
  /// state `[2,B,H]` and the cache for `backward`. `lengths` as in `RecurrentLayer.forward`.
  public func forward(_ x: Tensor, state: RecurrentState, lengths: [Int]? = nil, parameters: Parameters)
    -> (y: Tensor, state: RecurrentState, cache: BidirectionalCache)
  {
    require(x.shape.count == 3 && x.shape[2] == inputSize, "input \(x.shape) is not [T, B, \(inputSize)]")
    let b = x.shape[1]
    require(state.h.shape == [2, b, hiddenSize], "state \(state.h.shape) is not [2, B, H]")
    let lengths = Padding.effectiveLengths(lengths, time: x.shape[0], batch: b)
    let (forwardState, reverseState) = Self.directions(state)
    let ahead = forwardLayer.forward(x, state: forwardState, lengths: lengths, parameters: parameters)
    let back = reverseLayer.forward(
      Self.reversedInTime(x, lengths), state: reverseState, lengths: lengths, parameters: parameters)
    let y = Self.concatenatedFeatures(ahead.y, Self.reversedInTime(back.y, lengths))
    let cache = BidirectionalCache(forward: ahead.cache, reverse: back.cache, lengths: lengths)
    return (y, Self.stacked(ahead.state, back.state), cache)
  }

  /// Back-propagates `dy [T,B,2H]` (nil: zero) and the final state's gradient `[2,B,H]` (nil:
  /// zero); accumulates into both directions' parameter gradients and returns the gradients of
  /// `x` and of the initial state `[2,B,H]`. Gradients at padded outputs are ignored.
  public func backward(
    _ dy: Tensor?, dState: RecurrentState?, cache: BidirectionalCache, parameters: Parameters
  ) -> (dx: Tensor, dState: RecurrentState) {
    let lengths = cache.lengths
    let halves = dy.map { Self.splitFeatures($0, hiddenSize) }
    let states = dState.map { Self.directions($0) }
    let ahead = forwardLayer.backward(
      halves?.0, dState: states?.0, cache: cache.forward, parameters: parameters)
    let back = reverseLayer.backward(
      halves.map { Self.reversedInTime($0.1, lengths) }, dState: states?.1, cache: cache.reverse,
      parameters: parameters)
    var dx = ahead.dx
    let reverseDx = Self.reversedInTime(back.dx, lengths)
    dx.withMutablePointer { dx in reverseDx.withPointer { parameters.backend.add(reverseDx.count, dx, $0) } }
    return (dx, Self.stacked(ahead.dState, back.dState))
  }

  // MARK: - Layout helpers

  /// `sequence [T,B,F]` with each row's valid steps in reverse order: row `b`'s step `t` is its
  /// step `lengths[b]-1-t` (`T-1-t` without lengths); padded steps are zero. Its own inverse on
  /// the valid steps.
  static func reversedInTime(_ sequence: Tensor, _ lengths: [Int]?) -> Tensor {
    let (t, b) = (sequence.shape[0], sequence.shape[1])
    let f = sequence.count / max(t * b, 1)
    return Tensor(shape: sequence.shape) { out in
      sequence.withPointer { source in
        for row in 0..<b {
          let length = lengths?[row] ?? t
          for step in 0..<t {
            let target = out + (step * b + row) * f
            if step < length {
              target.update(from: source + ((length - 1 - step) * b + row) * f, count: f)
            } else {
              target.initialize(repeating: 0, count: f)
            }
          }
        }
      }
    }
  }

  /// `[T,B,H]` and `[T,B,H]` side by side: `[T,B,2H]`.
  static func concatenatedFeatures(_ a: Tensor, _ b: Tensor) -> Tensor {
    let h = a.shape[2]
    let rows = a.count / max(h, 1)
    return Tensor(shape: [a.shape[0], a.shape[1], 2 * h]) { out in
      a.withPointer { a in
        b.withPointer { b in
          for n in 0..<rows {
            (out + 2 * n * h).update(from: a + n * h, count: h)
            (out + (2 * n + 1) * h).update(from: b + n * h, count: h)
          }
        }
      }
    }
  }

  /// `[T,B,2H]` split into its two halves of features, `[T,B,H]` each.
  static func splitFeatures(_ x: Tensor, _ h: Int) -> (Tensor, Tensor) {
    require(x.shape.count == 3 && x.shape[2] == 2 * h, "gradient \(x.shape) is not [T, B, 2H]")
    let rows = x.count / (2 * h)
    func half(_ part: Int) -> Tensor {
      Tensor(shape: [x.shape[0], x.shape[1], h]) { out in
        x.withPointer { x in
          for n in 0..<rows { (out + n * h).update(from: x + (2 * n + part) * h, count: h) }
        }
      }
    }
    return (half(0), half(1))
  }

  /// A state `[2,B,H]` as the forward and reverse directions' states `[B,H]`.
  static func directions(_ state: RecurrentState) -> (RecurrentState, RecurrentState) {
    func part(_ x: Tensor, _ k: Int) -> Tensor {
      let size = x.count / 2
      return Tensor(shape: Array(x.shape.dropFirst()), scalars: Array(x.scalars[k * size..<(k + 1) * size]))
    }
    return (
      RecurrentState(h: part(state.h, 0), c: state.c.map { part($0, 0) }),
      RecurrentState(h: part(state.h, 1), c: state.c.map { part($0, 1) })
    )
  }

  /// The two directions' states `[B,H]` as one `[2,B,H]`.
  static func stacked(_ a: RecurrentState, _ b: RecurrentState) -> RecurrentState {
    func both(_ x: Tensor, _ y: Tensor) -> Tensor { Tensor(shape: [2] + x.shape, scalars: x.scalars + y.scalars) }
    return RecurrentState(h: both(a.h, b.h), c: a.c.flatMap { c in b.c.map { both(c, $0) } })
  }
}

extension Bidirectional {
  /// Records both directions over a whole sequence on `tape`: `x [T,B,D] -> y [T,B,2H]` and the
  /// final state `[2,B,H]`, from `state` (nil: the zero state). Gradients flow from `y` and the
  /// final state back to `x` and the initial state. `lengths` as in `forward`.
  public func callAsFunction(
    _ x: Variable, state: StateVariables? = nil, lengths: [Int]? = nil, parameters: Parameters, on tape: Tape
  ) -> (y: Variable, state: StateVariables) {
    let state = state ?? StateVariables(zeroState(batch: tape[x].shape[1]), on: tape)
    return forwardLayer.record(x, state: state, on: tape) {
      forward($0, state: $1, lengths: lengths, parameters: parameters)
    } pullback: {
      backward($0, dState: $1, cache: $2, parameters: parameters)
    }
  }

  /// Records `embedding` then both directions over a padded batch of token ids `[T,B]`, its
  /// lengths included: `y [T,B,2H]` and the final state `[2,B,H]`, from `state` (nil: zeros).
  public func callAsFunction(
    _ batch: PaddedBatch, embedding: Embedding, state: StateVariables? = nil, parameters: Parameters, on tape: Tape
  ) -> (y: Variable, state: StateVariables) {
    self(embedding(batch, parameters: parameters, on: tape), state: state, lengths: batch.lengths, parameters: parameters, on: tape)
  }
}
