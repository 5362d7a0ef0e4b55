/// A recurrent state whose parts are values on a tape.
public struct StateVariables: Sendable {
  public var h: Variable
  public var c: Variable?

  public init(h: Variable, c: Variable? = nil) {
    self.h = h
    self.c = c
  }

  /// Records `state` on `tape` as inputs.
  public init(_ state: RecurrentState, on tape: Tape) {
    h = tape.input(state.h)
    c = state.c.map { tape.input($0) }
  }

  /// The values, read back from `tape`.
  public func values(on tape: Tape) -> RecurrentState {
    RecurrentState(h: tape[h], c: c.map { tape[$0] })
  }
}

extension RecurrentLayer {
  /// Records the layer over a whole sequence on `tape`: `x [T,B,D] -> y [T,B,H]` and the final
  /// state, from `state` (nil: the zero state). Gradients flow from `y` and from the final state
  /// back to `x` and the initial state. `lengths` as in `forward(_:state:lengths:parameters:)`.
  public func callAsFunction(
    _ x: Variable, state: StateVariables? = nil, lengths: [Int]? = nil, parameters: Parameters, on tape: Tape
  ) -> (y: Variable, state: StateVariables) {
    let state = state ?? StateVariables(zeroState(batch: tape[x].shape[1]), on: tape)
    return record(x, state: state, on: tape) {
      forward($0, state: $1, lengths: lengths, parameters: parameters)
    } pullback: {
      backward($0, dState: $1, cache: $2, parameters: parameters)
    }
  }

  /// Records `embedding` followed by this layer on `tape`, for token ids `[T,B]`: the input
  /// projection comes from a per-character table (`projectionTable`), so neither the embedded
  /// sequence nor its `[T*B, D] x [D, G*H]` products are ever formed. Same results as
  /// `embedding` then the layer. From `state` (nil: the zero state); `lengths` as in
  /// `forward(_:state:lengths:parameters:)`.
  public func callAsFunction(
    _ tokens: [Int32], time: Int, batch: Int, embedding: Embedding, state: StateVariables? = nil,
    lengths: [Int]? = nil, parameters: Parameters, on tape: Tape
  ) -> (y: Variable, state: StateVariables) {
    require(tokens.count == time * batch, "\(tokens.count) tokens for [\(time), \(batch)]")
    let state = state ?? StateVariables(zeroState(batch: batch), on: tape)
    let table = projectionTable(embedding, parameters)
    let xg = gatherProjections(
      table, vocabularySize: embedding.vocabularySize, tokens: tokens, parameters: parameters)
    let (yValue, finalValue, cache) = forward(
      projections: xg, time: time, batch: batch, state: state.values(on: tape), lengths: lengths, parameters: parameters)
    let y = tape.input(yValue)
    let final = StateVariables(finalValue, on: tape)
    tape.onBackward { [self] in
      guard let (dy, dState) = outputGradients(y: y, final: final, on: tape) else { return }
      let grads = backwardToProjections(dy, dState: dState, cache: cache, parameters: parameters)
      tableGradients(grads.dxg.pointer, tokens: tokens, embedding: embedding, parameters: parameters)
      accumulateStateGradients(grads.dState, into: state, on: tape)
    }
    return (y, final)
  }

  /// Records `embedding` followed by this layer over the sequences of `batch` (`[T,B]` token ids
  /// with their lengths: a sequence's padded steps change neither its state nor any gradient),
  /// from `state` (nil: the zero state). Returns every step's output `[T,B,H]` and each sequence's
  /// state after its own last step.
  public func callAsFunction(
    _ batch: PaddedBatch, embedding: Embedding, state: StateVariables? = nil, parameters: Parameters, on tape: Tape
  ) -> (y: Variable, state: StateVariables) {
    self(
      batch.tokens, time: batch.time, batch: batch.batch, embedding: embedding, state: state, lengths: batch.lengths,
      parameters: parameters, on: tape)
  }

  /// Records a call over a whole sequence on `tape`, with this layer's cell: `run` maps the values
  /// of `x` and `state` to an output, a final state and a cache, which become new values on the
  /// tape; going back, `pullback` gets the gradients that reached them (nil: none) and the cache,
  /// and its gradients of the input and the initial state accumulate into `x` and `state`. Shared
  /// by this layer and `Bidirectional`.
  func record<Cache>(
    _ x: Variable, state: StateVariables, on tape: Tape,
    run: (Tensor, RecurrentState) -> (y: Tensor, state: RecurrentState, cache: Cache),
    pullback: @escaping (Tensor?, RecurrentState?, Cache) -> (dx: Tensor, dState: RecurrentState)
  ) -> (y: Variable, state: StateVariables) {
    let (yValue, finalValue, cache) = run(tape[x], state.values(on: tape))
    let y = tape.input(yValue)
    let final = StateVariables(finalValue, on: tape)
    tape.onBackward { [self] in
      guard let (dy, dState) = outputGradients(y: y, final: final, on: tape) else { return }
      let grads = pullback(dy, dState, cache)
      tape.accumulate(grads.dx, into: x)
      accumulateStateGradients(grads.dState, into: state, on: tape)
    }
    return (y, final)
  }

  /// The gradients that reached a recorded call's outputs, or nil if none did.
  func outputGradients(y: Variable, final: StateVariables, on tape: Tape) -> (Tensor?, RecurrentState?)? {
    let dy = tape.gradient(y)
    let dh = tape.gradient(final.h)
    let dc = final.c.flatMap { tape.gradient($0) }
    guard dy != nil || dh != nil || dc != nil else { return nil }
    let shape = tape[final.h].shape
    let dState: RecurrentState? =
      dh == nil && dc == nil
      ? nil : RecurrentState(h: dh ?? .zeros(shape), c: cell.hasCellState ? (dc ?? .zeros(shape)) : nil)
    return (dy, dState)
  }

  func accumulateStateGradients(_ dState: RecurrentState, into state: StateVariables, on tape: Tape) {
    tape.accumulate(dState.h, into: state.h)
    if let c = state.c, let dc = dState.c { tape.accumulate(dc, into: c) }
  }
}
