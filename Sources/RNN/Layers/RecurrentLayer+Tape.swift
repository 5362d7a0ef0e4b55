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
  /// state. Gradients flow from `y` and from the final state back to `x` and the initial state.
  public func callAsFunction(
    _ x: Variable, state: StateVariables, parameters: Parameters, on tape: Tape
  ) -> (y: Variable, state: StateVariables) {
    let (yValue, finalValue, cache) = forward(tape[x], state: state.values(on: tape), parameters: parameters)
    let y = tape.input(yValue)
    let final = StateVariables(finalValue, on: tape)
    tape.onBackward { [self] in
      let dy = tape.gradient(y)
      let dh = tape.gradient(final.h)
      let dc = final.c.flatMap { tape.gradient($0) }
      guard dy != nil || dh != nil || dc != nil else { return }
      let dState: RecurrentState? =
        dh == nil && dc == nil
        ? nil
        : RecurrentState(
          h: dh ?? .zeros(finalValue.h.shape), c: cell.hasCellState ? (dc ?? .zeros(finalValue.h.shape)) : nil)
      let grads = backward(dy, dState: dState, cache: cache, parameters: parameters)
      tape.accumulate(grads.dx, into: x)
      tape.accumulate(grads.dState.h, into: state.h)
      if let c = state.c, let dc0 = grads.dState.c { tape.accumulate(dc0, into: c) }
    }
    return (y, final)
  }
}
