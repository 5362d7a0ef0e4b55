import RNN
import XCTest

/// `RecurrentStack` on a tape against PyTorch's two-layer `nn.LSTM`/`nn.GRU`/`nn.RNN`
/// (`Fixtures/<cell>.safetensors`, and `packed_<cell>` over its lengths): outputs, final states and
/// every gradient.
final class RecurrentStackTests: XCTestCase {
  private func check(_ cell: CellKind, packed: Bool) throws {
    let reference = try fixture((packed ? "packed_" : "") + cell.rawValue)
    let lengths = packed ? try reference.require("lengths").scalars.map { Int($0) } : nil
    let x = try reference.require("x")
    let initial = try reference.requireState("h0", "c0", cell.cell)
    var layout = ParameterLayout()
    let rnn = RecurrentStack(cell, inputSize: x.shape[2], hiddenSize: initial.h.shape[2], layers: 2, layout: &layout, prefix: "")
    let parameters = Parameters(layout)
    for entry in layout.entries { parameters.assign(try reference.require(entry.name), to: entry.ref) }

    let tape = Tape()
    let input = tape.input(x)
    let states = (0..<2).map { l in
      StateVariables(RecurrentState(h: slice(initial.h, l), c: initial.c.map { slice($0, l) }), on: tape)
    }
    let (y, final) = rnn(input, state: states, lengths: lengths, parameters: parameters, on: tape)
    try assertOutputs(
      reference, cell.cell, y: tape[y], hN: stack(final.map { tape[$0.h] }), cN: stack(final.map { tape[$0.c!] }))

    let dFinal = try reference.requireState("dh_n", "dc_n", cell.cell)
    for l in 0..<2 {
      tape.accumulate(slice(dFinal.h, l), into: final[l].h)
      if let c = final[l].c { tape.accumulate(slice(dFinal.c!, l), into: c) }
    }
    tape.accumulate(try reference.require("dy"), into: y)
    tape.backward(from: y, seed: 0)
    try assertGradients(
      reference, cell.cell, dx: tape.gradient(input)!, dh0: stack(states.map { tape.gradient($0.h)! }),
      dc0: stack(states.map { tape.gradient($0.c!)! }), layout: layout, parameters: parameters)
  }

  func testLSTMGRUAndRNNStacksMatchPyTorch() throws {
    for cell in [CellKind.lstm, .gru, .rnnTanh] {
      try check(cell, packed: false)
      try check(cell, packed: true)
    }
  }
}
