import XCTest

@testable import RNN

/// Variable-length batches (`lengths`): against PyTorch's packed sequences
/// (`Fixtures/packed_<cell>.safetensors`: D=5, H=4, L=2, T=7, B=4, lengths 7, 3, 5, 1), against
/// each sequence run alone, against the plain path when every length is `T`, and by numeric
/// gradients.
final class VariableLengthTests: XCTestCase {
  func testLSTMMatchesPyTorch() throws { try checkAgainstPyTorch(.lstm) }
  func testGRUMatchesPyTorch() throws { try checkAgainstPyTorch(.gru) }
  func testTanhRNNMatchesPyTorch() throws { try checkAgainstPyTorch(.rnnTanh) }

  private func checkAgainstPyTorch(_ cell: CellKind) throws {
    let file = try fixture("packed_\(cell.rawValue)")
    let x = try file.require("x")
    let lengths = try file.require("lengths").scalars.map { Int($0) }
    let (d, h) = (x.shape[2], try file.require("h0").shape[2])
    var layout = ParameterLayout()
    let layers = (0..<2).map {
      RecurrentLayer(cell, inputSize: $0 == 0 ? d : h, hiddenSize: h, layout: &layout, suffix: "_l\($0)")
    }
    let parameters = Parameters(layout)
    for entry in layout.entries { parameters.assign(try file.require(entry.name), to: entry.ref) }

    let h0 = try file.require("h0")
    let c0 = cell.hasCellState ? try file.require("c0") : nil
    var input = x
    var caches: [RecurrentCache] = []
    var finals: [RecurrentState] = []
    for (l, layer) in layers.enumerated() {
      let state = RecurrentState(h: slice(h0, l), c: c0.map { slice($0, l) })
      let (y, final, cache) = layer.forward(input, state: state, lengths: lengths, parameters: parameters)
      input = y
      caches.append(cache)
      finals.append(final)
    }
    assertClose(input, try file.require("y"), "y")
    assertClose(stack(finals.map(\.h)), try file.require("h_n"), "h_n")
    if cell.hasCellState { assertClose(stack(finals.map { $0.c! }), try file.require("c_n"), "c_n") }

    let dhN = try file.require("dh_n")
    let dcN = cell.hasCellState ? try file.require("dc_n") : nil
    var dy = try file.require("dy")
    var dStates: [RecurrentState] = []
    for l in (0..<2).reversed() {
      let dState = RecurrentState(h: slice(dhN, l), c: dcN.map { slice($0, l) })
      let grads = layers[l].backward(dy, dState: dState, cache: caches[l], parameters: parameters)
      dy = grads.dx
      dStates.insert(grads.dState, at: 0)
    }
    assertClose(dy, try file.require("grad.x"), "grad.x")
    assertClose(stack(dStates.map(\.h)), try file.require("grad.h0"), "grad.h0")
    if cell.hasCellState { assertClose(stack(dStates.map { $0.c! }), try file.require("grad.c0"), "grad.c0") }
    for entry in layout.entries {
      assertClose(parameters.gradientTensor(entry.ref), try file.require("grad.\(entry.name)"), "grad.\(entry.name)")
    }
  }

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
    var layout = ParameterLayout()
    let layer = RecurrentLayer(cell, inputSize: d, hiddenSize: h, layout: &layout)
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 3300 + UInt64(CellKind.allCases.firstIndex(of: cell)!))
    layer.initialize(parameters, using: &generator)
    var x = randomTensor([t, b, d], &generator)
    var h0 = randomTensor([b, h], &generator, deviation: 0.5)
    var c0 = cell.hasCellState ? randomTensor([b, h], &generator, deviation: 0.5) : nil
    let r = randomTensor([t, b, h], &generator)
    let rh = randomTensor([b, h], &generator)
    let rc = cell.hasCellState ? randomTensor([b, h], &generator) : nil

    func loss() -> Double {
      let (y, final, _) = layer.forward(
        x, state: RecurrentState(h: h0, c: c0), lengths: lengths, parameters: parameters)
      return weightedSum(y, r) + weightedSum(final.h, rh) + (final.c.map { weightedSum($0, rc!) } ?? 0)
    }
    parameters.zeroGradients()
    let (_, _, cache) = layer.forward(x, state: RecurrentState(h: h0, c: c0), lengths: lengths, parameters: parameters)
    let grads = layer.backward(r, dState: RecurrentState(h: rh, c: rc), cache: cache, parameters: parameters)

    var probes = layout.entries.map { NumericProbe(parameters, $0) }
    probes.append(NumericProbe("x", get: { x.scalars[$0] }, set: { x.scalars[$0] = $1 }, analytic: grads.dx))
    probes.append(NumericProbe("h0", get: { h0.scalars[$0] }, set: { h0.scalars[$0] = $1 }, analytic: grads.dState.h))
    if let dc0 = grads.dState.c {
      probes.append(NumericProbe("c0", get: { c0!.scalars[$0] }, set: { c0!.scalars[$0] = $1 }, analytic: dc0))
    }
    let failures = numericGradientMismatches(probes, loss: loss)
    XCTAssert(failures.isEmpty, "\(failures.count) gradients wrong: \(failures.prefix(5))", file: file, line: line)
    // Padded steps get no input gradient.
    for step in 0..<t {
      for row in 0..<b where step >= lengths[row] {
        XCTAssert(rows(grads.dx, row, from: step, steps: 1).scalars.allSatisfy { $0 == 0 }, file: file, line: line)
      }
    }
  }
}

// MARK: - Helpers shared with BidirectionalTests

/// A tensor of normal samples.
func randomTensor(_ shape: [Int], _ generator: inout RandomGenerator, deviation: Float = 1) -> Tensor {
  Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.normal(deviation: deviation) })
}

/// `sum(a * b)` in Double.
func weightedSum(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(a.shape == b.shape)
  return zip(a.scalars, b.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

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

/// One array whose analytic gradient is checked against central differences.
struct NumericProbe {
  let name: String
  let get: (Int) -> Float
  let set: (Int, Float) -> Void
  let analytic: [Float]

  init(_ name: String, get: @escaping (Int) -> Float, set: @escaping (Int, Float) -> Void, analytic: Tensor) {
    (self.name, self.get, self.set, self.analytic) = (name, get, set, analytic.scalars)
  }

  init(_ parameters: Parameters, _ entry: ParameterLayout.Entry) {
    let value = parameters.value(entry.ref)
    self.init(entry.name, get: { value[$0] }, set: { value[$0] = $1 }, analytic: parameters.gradientTensor(entry.ref))
  }
}

/// The elements of `probes` whose analytic gradient differs from `(L(v+eps) - L(v-eps)) / 2eps`
/// by more than `1e-2` of the larger plus `1e-3` (float32 forward, `eps` 1e-2), described.
func numericGradientMismatches(_ probes: [NumericProbe], loss: () -> Double, eps: Float = 1e-2) -> [String] {
  var failures: [String] = []
  for probe in probes {
    for i in probe.analytic.indices {
      let v = probe.get(i)
      let (up, down) = (v + eps, v - eps)
      probe.set(i, up)
      let plus = loss()
      probe.set(i, down)
      let minus = loss()
      probe.set(i, v)
      let numeric = (plus - minus) / (Double(up) - Double(down))
      let analytic = Double(probe.analytic[i])
      if !(abs(analytic - numeric) <= 1e-2 * max(abs(analytic), abs(numeric)) + 1e-3) {
        failures.append("\(probe.name)[\(i)]: analytic \(analytic), numeric \(numeric)")
      }
    }
  }
  return failures
}
