import XCTest

@testable import RNN

/// Variable-length batches (`lengths`): against PyTorch's packed sequences
/// (`Fixtures/packed_<cell>.safetensors`: D=5, H=4, L=2, T=7, B=4, lengths 7, 3, 5, 1), against
/// each sequence run alone, against the plain path when every length is `T`, and by numeric
/// gradients.
final class VariableLengthTests: XCTestCase {
  func testLSTMMatchesPyTorch() throws { try checkStackAgainstPyTorch(.lstm, packed: true) }
  func testGRUMatchesPyTorch() throws { try checkStackAgainstPyTorch(.gru, packed: true) }
  func testTanhRNNMatchesPyTorch() throws { try checkStackAgainstPyTorch(.rnnTanh, packed: true) }

  // MARK: - Each row as a sequence of its own

  func testLSTMRowsMatchSequencesAlone() { checkRowsAlone(.lstm) }
  func testGRURowsMatchSequencesAlone() { checkRowsAlone(.gru) }
  func testTanhRNNRowsMatchSequencesAlone() { checkRowsAlone(.rnnTanh) }
  func testReluRNNRowsMatchSequencesAlone() { checkRowsAlone(.rnnRelu) }

  /// A batch with lengths 0, T and in between, through the tape, against each row run alone by
  /// the plain layer over its valid steps: outputs (zero past the length), final states, the
  /// gradients of `x` and the initial state, and the parameter gradients (the sum over rows).
  private func checkRowsAlone(_ cell: CellKind, file: StaticString = #filePath, line: UInt = #line) {
    let (t, b, d, h) = (6, 5, 3, 4)
    let lengths = [6, 0, 3, 1, 5]
    var layout = ParameterLayout()
    let layer = RecurrentLayer(cell, inputSize: d, hiddenSize: h, layout: &layout)
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 3100 + UInt64(CellKind.allCases.firstIndex(of: cell)!))
    layer.initialize(parameters, using: &generator)
    let x = randomTensor([t, b, d], &generator)
    let h0 = randomTensor([b, h], &generator)
    let c0 = cell.hasCellState ? randomTensor([b, h], &generator) : nil
    let dy = randomTensor([t, b, h], &generator)
    let dh = randomTensor([b, h], &generator)
    let dc = cell.hasCellState ? randomTensor([b, h], &generator) : nil

    // The batch, recorded on a tape.
    parameters.zeroGradients()
    let tape = Tape()
    let xVariable = tape.input(x)
    let state = StateVariables(RecurrentState(h: h0, c: c0), on: tape)
    let (y, final) = layer(xVariable, state: state, lengths: lengths, parameters: parameters, on: tape)
    tape.accumulate(dy, into: y)
    tape.accumulate(dh, into: final.h)
    if let c = final.c { tape.accumulate(dc!, into: c) }
    tape.backward(from: y, seed: 0)
    let batchGradients = layout.entries.map { parameters.gradientTensor($0.ref) }

    // Each row alone.
    parameters.zeroGradients()
    for row in 0..<b {
      let n = lengths[row]
      let xRow = rows(x, row, steps: n)
      let stateRow = RecurrentState(h: rows(h0, row), c: c0.map { rows($0, row) })
      let (yRow, finalRow, cache) = layer.forward(xRow, state: stateRow, parameters: parameters)
      let grads = layer.backward(
        rows(dy, row, steps: n), dState: RecurrentState(h: rows(dh, row), c: dc.map { rows($0, row) }), cache: cache,
        parameters: parameters)
      let padding = Tensor.zeros([t - n, 1, h])
      assertClose(rows(tape[y], row, steps: t), concatenated(yRow, padding), "y row \(row)", file: file, line: line)
      assertClose(rows(tape[final.h], row), finalRow.h, "h_n row \(row)", file: file, line: line)
      if let c = final.c { assertClose(rows(tape[c], row), finalRow.c!, "c_n row \(row)", file: file, line: line) }
      let dx = tape.gradient(xVariable)!
      assertClose(
        rows(dx, row, steps: t), concatenated(grads.dx, .zeros([t - n, 1, d])), "dx row \(row)", file: file, line: line)
      assertClose(rows(tape.gradient(state.h)!, row), grads.dState.h, "dh0 row \(row)", file: file, line: line)
      if let c = state.c {
        assertClose(rows(tape.gradient(c)!, row), grads.dState.c!, "dc0 row \(row)", file: file, line: line)
      }
    }
    for (entry, batch) in zip(layout.entries, batchGradients) {
      assertClose(batch, parameters.gradientTensor(entry.ref), "grad.\(entry.name)", file: file, line: line)
    }
  }

  // MARK: - Full lengths

  /// Every length `T` gives bit for bit the plain path's outputs, states and gradients.
  func testFullLengthsEqualPlainPath() {
    for cell in CellKind.allCases {
      let (t, b, d, h) = (5, 3, 3, 4)
      var layout = ParameterLayout()
      let layer = RecurrentLayer(cell, inputSize: d, hiddenSize: h, layout: &layout)
      let parameters = Parameters(layout)
      var generator = RandomGenerator(seed: 3200)
      layer.initialize(parameters, using: &generator)
      let x = randomTensor([t, b, d], &generator)
      let state = RecurrentState(
        h: randomTensor([b, h], &generator), c: cell.hasCellState ? randomTensor([b, h], &generator) : nil)
      let dy = randomTensor([t, b, h], &generator)
      let dState = RecurrentState(
        h: randomTensor([b, h], &generator), c: cell.hasCellState ? randomTensor([b, h], &generator) : nil)

      func run(_ lengths: [Int]?) -> [Tensor] {
        parameters.zeroGradients()
        let (y, final, cache) = layer.forward(x, state: state, lengths: lengths, parameters: parameters)
        let grads = layer.backward(dy, dState: dState, cache: cache, parameters: parameters)
        return [y, final.h, final.c ?? .zeros([0]), grads.dx, grads.dState.h, grads.dState.c ?? .zeros([0])]
          + layout.entries.map { parameters.gradientTensor($0.ref) }
      }
      XCTAssertEqual(run([Int](repeating: t, count: b)), run(nil), "\(cell)")
    }
  }

  // MARK: - Numeric gradients

  func testLSTMMaskedGradients() { checkMaskedGradients(.lstm) }
  func testGRUMaskedGradients() { checkMaskedGradients(.gru) }
  func testTanhRNNMaskedGradients() { checkMaskedGradients(.rnnTanh) }

  /// Central differences of `sum(y * R) + sum(h_n * Rh) [+ sum(c_n * Rc)]` with lengths 4, 0, 2,
  /// over every parameter, input and initial state element.
  private func checkMaskedGradients(_ cell: CellKind, file: StaticString = #filePath, line: UInt = #line) {
    let (t, b, d, h) = (4, 3, 3, 3)
    let lengths = [4, 0, 2]
    let problem = RecurrentGradientProblem(cell, seed: 3300, t: t, b: b, d: d, h: h, lengths: lengths) {
      RecurrentLayer(cell, inputSize: d, hiddenSize: h, layout: &$0)
    }
    problem.parameters.zeroGradients()
    let grads = problem.backward(problem.forward().cache)
    let failures = problem.mismatches(problem.probes(grads))
    XCTAssert(failures.isEmpty, "\(failures.count) gradients wrong: \(failures.prefix(5))", file: file, line: line)
    // Padded steps get no input gradient.
    for step in 0..<t {
      for row in 0..<b where step >= lengths[row] {
        XCTAssert(rows(grads.dx, row, from: step, steps: 1).scalars.allSatisfy { $0 == 0 }, file: file, line: line)
      }
    }
  }
}

// MARK: - Helpers

/// Row `row` of `x [B,F]` as `[1,F]`.
func rows(_ x: Tensor, _ row: Int) -> Tensor {
  let f = x.shape[1]
  return Tensor(shape: [1, f], scalars: Array(x.scalars[row * f..<(row + 1) * f]))
}

/// Row `row` of `x [T,B,F]` over steps `from..<from+steps`, as `[steps,1,F]`.
func rows(_ x: Tensor, _ row: Int, from: Int = 0, steps: Int) -> Tensor {
  let (b, f) = (x.shape[1], x.shape[2])
  var scalars: [Float] = []
  for step in from..<from + steps {
    let start = (step * b + row) * f
    scalars += x.scalars[start..<start + f]
  }
  return Tensor(shape: [steps, 1, f], scalars: scalars)
}

/// `a [T1,B,F]` then `b [T2,B,F]` along time.
func concatenated(_ a: Tensor, _ b: Tensor) -> Tensor {
  Tensor(shape: [a.shape[0] + b.shape[0]] + a.shape.dropFirst(), scalars: a.scalars + b.scalars)
}
