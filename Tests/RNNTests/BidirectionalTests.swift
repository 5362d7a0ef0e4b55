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
    let file = try fixture("bidirectional_\(cell.rawValue)")
    let x = try file.require("x")
    let lengths = try file.require("lengths").scalars.map { Int($0) }
    let (d, h) = (x.shape[2], try file.require("h0").shape[2])
    var layout = ParameterLayout()
    let layers = (0..<2).map {
      Bidirectional(cell, inputSize: $0 == 0 ? d : 2 * h, hiddenSize: h, layout: &layout, suffix: "_l\($0)")
    }
    XCTAssertEqual(
      layout.entries.prefix(8).map(\.name),
      ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
        + ["weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"])
    let parameters = Parameters(layout)
    for entry in layout.entries { parameters.assign(try file.require(entry.name), to: entry.ref) }

    let h0 = try file.require("h0")
    let c0 = cell.hasCellState ? try file.require("c0") : nil
    // States [2L,B,H] in PyTorch's order: l0, l0_reverse, l1, l1_reverse.
    func pair(_ s: Tensor, _ l: Int) -> Tensor { stack([slice(s, 2 * l), slice(s, 2 * l + 1)]) }
    func unpair(_ states: [Tensor]) -> Tensor { stack(states.flatMap { [slice($0, 0), slice($0, 1)] }) }

    let tape = Tape()
    let input = tape.input(x)
    var y = input
    var states: [StateVariables] = []
    var finals: [StateVariables] = []
    for (l, layer) in layers.enumerated() {
      let state = StateVariables(RecurrentState(h: pair(h0, l), c: c0.map { pair($0, l) }), on: tape)
      let (out, final) = layer(y, state: state, lengths: lengths, parameters: parameters, on: tape)
      y = out
      states.append(state)
      finals.append(final)
    }
    assertClose(tape[y], try file.require("y"), "y")
    assertClose(unpair(finals.map { tape[$0.h] }), try file.require("h_n"), "h_n")
    if cell.hasCellState { assertClose(unpair(finals.map { tape[$0.c!] }), try file.require("c_n"), "c_n") }

    let dhN = try file.require("dh_n")
    let dcN = cell.hasCellState ? try file.require("dc_n") : nil
    tape.accumulate(try file.require("dy"), into: y)
    for (l, final) in finals.enumerated() {
      tape.accumulate(pair(dhN, l), into: final.h)
      if let c = final.c { tape.accumulate(pair(dcN!, l), into: c) }
    }
    tape.backward(from: y, seed: 0)
    assertClose(try XCTUnwrap(tape.gradient(input)), try file.require("grad.x"), "grad.x")
    assertClose(unpair(states.map { tape.gradient($0.h)! }), try file.require("grad.h0"), "grad.h0")
    if cell.hasCellState {
      assertClose(unpair(states.map { tape.gradient($0.c!)! }), try file.require("grad.c0"), "grad.c0")
    }
    for entry in layout.entries {
      assertClose(parameters.gradientTensor(entry.ref), try file.require("grad.\(entry.name)"), "grad.\(entry.name)")
    }
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
    var layout = ParameterLayout()
    let layer = Bidirectional(cell, inputSize: d, hiddenSize: h, layout: &layout)
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 3400 + UInt64(CellKind.allCases.firstIndex(of: cell)!))
    layer.initialize(parameters, using: &generator)
    var x = randomTensor([t, b, d], &generator)
    var h0 = randomTensor([2, b, h], &generator, deviation: 0.5)
    var c0 = cell.hasCellState ? randomTensor([2, b, h], &generator, deviation: 0.5) : nil
    let r = randomTensor([t, b, 2 * h], &generator)
    let rh = randomTensor([2, b, h], &generator)
    let rc = cell.hasCellState ? randomTensor([2, b, h], &generator) : nil

    func loss() -> Double {
      let (y, final, _) = layer.forward(
        x, state: RecurrentState(h: h0, c: c0), lengths: lengths, parameters: parameters)
      return weightedSum(y, r) + weightedSum(final.h, rh) + (final.c.map { weightedSum($0, rc!) } ?? 0)
    }
    parameters.zeroGradients()
    let (y, final, cache) = layer.forward(
      x, state: RecurrentState(h: h0, c: c0), lengths: lengths, parameters: parameters)
    XCTAssertEqual(y.shape, [t, b, 2 * h], file: file, line: line)
    XCTAssertEqual(final.h.shape, [2, b, h], file: file, line: line)
    let grads = layer.backward(r, dState: RecurrentState(h: rh, c: rc), cache: cache, parameters: parameters)

    var probes = layout.entries.map { NumericProbe(parameters, $0) }
    probes.append(NumericProbe("x", get: { x.scalars[$0] }, set: { x.scalars[$0] = $1 }, analytic: grads.dx))
    probes.append(NumericProbe("h0", get: { h0.scalars[$0] }, set: { h0.scalars[$0] = $1 }, analytic: grads.dState.h))
    if let dc0 = grads.dState.c {
      probes.append(NumericProbe("c0", get: { c0!.scalars[$0] }, set: { c0!.scalars[$0] = $1 }, analytic: dc0))
    }
    let failures = numericGradientMismatches(probes, loss: loss)
    XCTAssert(failures.isEmpty, "\(failures.count) gradients wrong: \(failures.prefix(5))", file: file, line: line)
    // The check is sharp enough to see the reverse direction's gradients scaled by 1.1.
    let k = probes.firstIndex { $0.name == "weight_hh_reverse" }!
    let scaled = NumericProbe(
      probes[k].name, get: probes[k].get, set: probes[k].set,
      analytic: Tensor(shape: [probes[k].analytic.count], scalars: probes[k].analytic.map { $0 * 1.1 }))
    XCTAssertFalse(numericGradientMismatches([scaled], loss: loss).isEmpty, file: file, line: line)
  }
}
