import XCTest

@testable import RNN

/// `Bidirectional` against PyTorch's bidirectional modules over packed sequences
/// (`Fixtures/bidirectional_<cell>.safetensors`: D=5, H=4, L=2, T=7, B=4, lengths 7, 3, 5, 1),
/// through the tape, and by numeric gradients.
final class BidirectionalTests: XCTestCase {
  func testLSTMMatchesPyTorch() throws { try checkAgainstPyTorch(.lstm) }
  func testGRUMatchesPyTorch() throws { try checkAgainstPyTorch(.gru) }
  func testTanhRNNMatchesPyTorch() throws { try checkAgainstPyTorch(.rnnTanh) }

  /// Two stacked bidirectional layers, the second reading `2H` features, recorded on a tape.
  private func checkAgainstPyTorch(_ cell: CellKind) throws {
    let reference = try fixture("bidirectional_\(cell.rawValue)")
    let lengths = try reference.require("lengths").scalars.map { Int($0) }
    let (layers, layout, parameters) = try loadStack(reference) { l, d, h, layout in
      Bidirectional(cell, inputSize: l == 0 ? d : 2 * h, hiddenSize: h, layout: &layout, suffix: "_l\(l)")
    }
    XCTAssertEqual(
      layout.entries.prefix(8).map(\.name),
      ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
        + ["weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"])

    let initial = try reference.requireState("h0", "c0", cell.cell)
    // States [2L,B,H] in PyTorch's order: l0, l0_reverse, l1, l1_reverse.
    func pair(_ s: Tensor, _ l: Int) -> Tensor { stack([slice(s, 2 * l), slice(s, 2 * l + 1)]) }
    func unpair(_ states: [Tensor]) -> Tensor { stack(states.flatMap { [slice($0, 0), slice($0, 1)] }) }

    let tape = Tape()
    let input = tape.input(try reference.require("x"))
    var y = input
    var states: [StateVariables] = []
    var finals: [StateVariables] = []
    for (l, layer) in layers.enumerated() {
      let state = StateVariables(RecurrentState(h: pair(initial.h, l), c: initial.c.map { pair($0, l) }), on: tape)
      let (out, final) = layer(y, state: state, lengths: lengths, parameters: parameters, on: tape)
      y = out
      states.append(state)
      finals.append(final)
    }
    try assertOutputs(
      reference, cell.cell, y: tape[y], hN: unpair(finals.map { tape[$0.h] }), cN: unpair(finals.map { tape[$0.c!] }))

    let dFinal = try reference.requireState("dh_n", "dc_n", cell.cell)
    tape.accumulate(try reference.require("dy"), into: y)
    for (l, final) in finals.enumerated() {
      tape.accumulate(pair(dFinal.h, l), into: final.h)
      if let c = final.c { tape.accumulate(pair(dFinal.c!, l), into: c) }
    }
    tape.backward(from: y, seed: 0)
    try assertGradients(
      reference, cell.cell, dx: try XCTUnwrap(tape.gradient(input)), dh0: unpair(states.map { tape.gradient($0.h)! }),
      dc0: unpair(states.map { tape.gradient($0.c!)! }), layout: layout, parameters: parameters)
  }

  // MARK: - Numeric gradients

  func testLSTMGradients() { checkGradients(.lstm, lengths: [4, 0, 2]) }
  func testGRUGradients() { checkGradients(.gru, lengths: [1, 4, 3]) }
  func testTanhRNNGradients() { checkGradients(.rnnTanh, lengths: nil) }

  /// Central differences of `sum(y * R) + sum(h_n * Rh) [+ sum(c_n * Rc)]` over every parameter,
  /// input and initial state element, called directly (`forward`/`backward`).
  private func checkGradients(
    _ cell: CellKind, lengths: [Int]?, file: StaticString = #filePath, line: UInt = #line
  ) {
    let (t, b, d, h) = (4, 3, 3, 3)
    let problem = RecurrentGradientProblem(cell, seed: 3400, t: t, b: b, d: d, h: h, directions: 2, lengths: lengths) {
      Bidirectional(cell, inputSize: d, hiddenSize: h, layout: &$0)
    }
    problem.parameters.zeroGradients()
    let (y, final, cache) = problem.forward()
    XCTAssertEqual(y.shape, [t, b, 2 * h], file: file, line: line)
    XCTAssertEqual(final.h.shape, [2, b, h], file: file, line: line)
    let grads = problem.backward(cache)

    let probes = problem.probes(grads)
    let failures = problem.mismatches(probes)
    XCTAssert(failures.isEmpty, "\(failures.count) gradients wrong: \(failures.prefix(5))", file: file, line: line)
    // The check is sharp enough to see the reverse direction's gradients scaled by 1.1.
    var scaled = probes.first { $0.name == "weight_hh_reverse" }!
    scaled.analytic = scaled.analytic.map { $0 * 1.1 }
    XCTAssertFalse(problem.mismatches([scaled]).isEmpty, file: file, line: line)
  }
}
