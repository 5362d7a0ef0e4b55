import XCTest

@testable import RNN

/// Numeric gradient checks by central differences, `(L(v + eps) - L(v - eps)) / 2 eps`, of every
/// layer's backward: each recurrent cell, `Linear`, `Embedding`, dropout with a fixed mask, masked
/// softmax cross-entropy and a whole two-layer `CharLM` with dropout.
///
/// The losses are random projections, `L = sum(y * R) + sum(h_n * Rh) [+ sum(c_n * Rc)]` with fixed
/// `R`, summed in Double from the float32 outputs. Every parameter (a sample of its elements when
/// it is large), every input and every initial state is checked. Each check then tests itself:
/// the same numeric gradients must flag the analytic ones with one parameter scaled by 1.1, one
/// element's sign flipped, or two gate blocks swapped, so a tolerance loose enough to hide a real
/// bug fails the test. Sizes: `T` 4, `B` 2, `D` 3, `H` 3 (legend as in `Tensor`).
final class GradientCheckTests: XCTestCase {
  func testLSTMGradients() { checkCell(.lstm) }
  func testGRUGradients() { checkCell(.gru) }
  func testTanhRNNGradients() { checkCell(.rnnTanh) }
  func testReluRNNGradients() { checkCell(.rnnRelu) }

  /// One layer of `cell` over `x [T,B,D]` from `(h0, c0)`, called directly (`forward`/`backward`).
  private func checkCell(_ cell: CellKind, file: StaticString = #filePath, line: UInt = #line) {
    let (t, b, d, h) = (4, 2, 3, 3)
    var layout = ParameterLayout()
    let layer = RecurrentLayer(cell, inputSize: d, hiddenSize: h, layout: &layout)
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 1000 + UInt64(CellKind.allCases.firstIndex(of: cell)!))
    layer.initialize(parameters, using: &generator)
    var x = random([t, b, d], &generator)
    var h0 = random([b, h], &generator, deviation: 0.5)
    var c0 = cell.hasCellState ? random([b, h], &generator, deviation: 0.5) : nil
    let r = random([t, b, h], &generator)
    let rh = random([b, h], &generator)
    let rc = cell.hasCellState ? random([b, h], &generator) : nil

    // The relu's kinks: a step whose sign pattern changes under the perturbation is skipped.
    func loss() -> Evaluation {
      let (y, final, _) = layer.forward(x, state: RecurrentState(h: h0, c: c0), parameters: parameters)
      let value = dot(y, r) + dot(final.h, rh) + (final.c.map { dot($0, rc!) } ?? 0)
      return Evaluation(value: value, pattern: cell == .rnnRelu ? y.scalars.map { $0 > 0 } : [])
    }

    parameters.zeroGradients()
    let (_, _, cache) = layer.forward(x, state: RecurrentState(h: h0, c: c0), parameters: parameters)
    let grads = layer.backward(r, dState: RecurrentState(h: rh, c: rc), cache: cache, parameters: parameters)
    XCTAssertEqual(grads.dx.shape, x.shape, file: file, line: line)
    XCTAssertEqual(grads.dState.c == nil, c0 == nil, "dc0 present exactly for an LSTM", file: file, line: line)

    var probes = layout.entries.map { Probe(parameters, $0) }
    probes.append(Probe("x", get: { x.scalars[$0] }, set: { x.scalars[$0] = $1 }, analytic: grads.dx))
    probes.append(Probe("h0", get: { h0.scalars[$0] }, set: { h0.scalars[$0] = $1 }, analytic: grads.dState.h))
    if let dc0 = grads.dState.c {
      probes.append(Probe("c0", get: { c0!.scalars[$0] }, set: { c0!.scalars[$0] = $1 }, analytic: dc0))
    }
    // A swapped gate: the analytic gradient of weight_hh with its first two gate blocks exchanged.
    var mutations: [Mutation] = []
    if cell.gates > 1 {
      mutations.append(
        Mutation(name: "weight_hh gates 0 and 1 swapped") { probes in
          var probes = probes
          let k = probes.firstIndex { $0.name == "weight_hh" }!
          let block = h * h
          for i in 0..<block { probes[k].analytic.swapAt(i, block + i) }
          return probes
        })
    }
    let checker = GradientChecker(loss: loss)
    checker.check(probes, mutations: mutations, file: file, line: line)

    // Backward accumulates: a second call adds the same parameter gradients again.
    let once = parameters.gradientTensor(layer.weightHH)
    _ = layer.backward(r, dState: RecurrentState(h: rh, c: rc), cache: cache, parameters: parameters)
    assertClose(
      parameters.gradientTensor(layer.weightHH), Tensor(shape: once.shape, scalars: once.scalars.map { 2 * $0 }),
      "weight_hh gradient after two backward calls", file: file, line: line)
  }

  /// `Linear` over `x [T,B,I]` recorded on a tape: weight, bias and input.
  func testLinearGradients() throws {
    var layout = ParameterLayout()
    let linear = Linear(inputSize: 4, outputSize: 3, layout: &layout, name: "decoder")
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 2001)
    linear.initialize(parameters, using: &generator)
    var x = random([2, 3, 4], &generator)
    let r = random([2, 3, 3], &generator)
    func loss() -> Evaluation {
      Evaluation(value: dot(linear.forward(x, parameters: parameters), r))
    }

    let tape = Tape()
    let input = tape.input(x)
    let y = linear(input, parameters: parameters, on: tape)
    XCTAssertEqual(tape[y].shape, [2, 3, 3])
    backward(tape, weighting: [(y, r)])
    var probes = layout.entries.map { Probe(parameters, $0) }
    probes.append(
      Probe("x", get: { x.scalars[$0] }, set: { x.scalars[$0] = $1 }, analytic: try XCTUnwrap(tape.gradient(input))))
    GradientChecker(loss: loss).check(probes)
  }

  /// `Embedding` of `tokens [T,B]` with repeated tokens (their gradient rows must add up).
  func testEmbeddingGradients() {
    var layout = ParameterLayout()
    let embedding = Embedding(vocabularySize: 5, size: 3, layout: &layout)
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 2002)
    embedding.initialize(parameters, using: &generator)
    let tokens: [Int32] = [0, 3, 3, 1, 4, 3, 0, 2]
    let r = random([4, 2, 3], &generator)
    func loss() -> Evaluation {
      Evaluation(value: dot(embedding.forward(tokens, shape: [4, 2], parameters: parameters), r))
    }

    let tape = Tape()
    let y = embedding(tokens, shape: [4, 2], parameters: parameters, on: tape)
    backward(tape, weighting: [(y, r)])
    GradientChecker(loss: loss).check(layout.entries.map { Probe(parameters, $0) })
  }

  /// Inverted dropout with the mask fixed by the generator's seed: the gradient passes where the
  /// input was kept, scaled by `1/(1-p)`, and is zero where it was dropped.
  func testDropoutGradients() throws {
    let p: Float = 0.4
    var generator = RandomGenerator(seed: 2003)
    var x = random([3, 4, 5], &generator)
    let r = random([3, 4, 5], &generator)
    func run(_ tape: Tape) -> (input: Variable, output: Variable) {
      var maskGenerator = RandomGenerator(seed: 77)
      let input = tape.input(x)
      return (input, tape.dropout(input, probability: p, using: &maskGenerator))
    }
    func loss() -> Evaluation {
      let tape = Tape(recording: false)
      return Evaluation(value: dot(tape[run(tape).output], r))
    }

    let tape = Tape()
    let (input, output) = run(tape)
    backward(tape, weighting: [(output, r)])
    let dx = try XCTUnwrap(tape.gradient(input))
    let y = tape[output]
    let dropped = y.scalars.indices.filter { y.scalars[$0] == 0 }
    XCTAssert((10..<50).contains(dropped.count), "\(dropped.count) of 60 dropped at p = 0.4")
    for i in y.scalars.indices {
      let kept = y.scalars[i] != 0
      XCTAssertEqual(y.scalars[i], kept ? x.scalars[i] / (1 - p) : 0, accuracy: 1e-6, "y[\(i)]")
      XCTAssertEqual(dx.scalars[i], kept ? r.scalars[i] / (1 - p) : 0, accuracy: 1e-6, "dx[\(i)]")
    }
    GradientChecker(loss: loss).check([
      Probe("x", get: { x.scalars[$0] }, set: { x.scalars[$0] = $1 }, analytic: dx)
    ])
  }

  /// Softmax cross-entropy of `logits [T,B,V]` with one target masked (`-1`): the mean runs over
  /// the five counted rows, and the masked row gets exactly zero gradient.
  func testSoftmaxCrossEntropyGradients() throws {
    var generator = RandomGenerator(seed: 2004)
    var logits = random([2, 3, 5], &generator, deviation: 2)
    let targets: [Int32] = [2, -1, 0, 4, 4, 1]
    func loss() -> Evaluation {
      let tape = Tape(recording: false)
      return Evaluation(value: Double(tape[tape.softmaxCrossEntropy(tape.input(logits), targets: targets)].scalars[0]))
    }

    // The value against a Double reference.
    var expected = 0.0
    for (n, target) in targets.enumerated() where target >= 0 {
      let row = logits.scalars[n * 5..<(n + 1) * 5].map(Double.init)
      expected += log(row.map { exp($0) }.reduce(0, +)) - row[Int(target)]
    }
    XCTAssertEqual(loss().value, expected / 5, accuracy: 1e-6)

    let tape = Tape()
    let input = tape.input(logits)
    let value = tape.softmaxCrossEntropy(input, targets: targets)
    tape.backward(from: value)
    let dlogits = try XCTUnwrap(tape.gradient(input))
    XCTAssertEqual(Array(dlogits.scalars[5..<10]), [Float](repeating: 0, count: 5), "masked row")
    GradientChecker(loss: loss).check([
      Probe("logits", get: { logits.scalars[$0] }, set: { logits.scalars[$0] = $1 }, analytic: dlogits)
    ])

    // A seed other than 1 scales the gradient (the loss used inside a larger sum).
    let scaled = Tape()
    let scaledInput = scaled.input(logits)
    scaled.backward(from: scaled.softmaxCrossEntropy(scaledInput, targets: targets), seed: 2.5)
    assertClose(
      try XCTUnwrap(scaled.gradient(scaledInput)),
      Tensor(shape: dlogits.shape, scalars: dlogits.scalars.map { 2.5 * $0 }),
      "gradient with seed 2.5")
  }

  /// The whole model, `Embedding -> 2 x LSTM -> dropout -> Linear -> cross-entropy`, on a tape,
  /// plus random projections of both layers' final `h` and `c`: every parameter, `h0` and `c0`.
  func testCharLMGradients() throws {
    let config = CharLMConfig(cell: .lstm, layers: 2, hidden: 4, embedding: 3, vocabularySize: 6, dropout: 0.25)
    var generator = RandomGenerator(seed: 2005)
    let model = CharLM(config, using: &generator)
    let (time, batch) = (5, 2)
    let inputs: [Int32] = [0, 1, 2, 3, 4, 5, 1, 3, 5, 0]
    let targets: [Int32] = [1, 2, 3, -1, 5, 0, 3, 5, 0, 2]
    var h0 = (0..<2).map { _ in random([batch, 4], &generator, deviation: 0.5) }
    var c0 = (0..<2).map { _ in random([batch, 4], &generator, deviation: 0.5) }
    let rh = (0..<2).map { _ in random([batch, 4], &generator) }
    let rc = (0..<2).map { _ in random([batch, 4], &generator) }

    /// The model on `tape` with the same dropout masks every time; returns the cross-entropy,
    /// the initial and the final states.
    func run(_ tape: Tape) -> (loss: Variable, initial: [StateVariables], final: [StateVariables]) {
      var dropout = RandomGenerator(seed: 99)
      let initial = (0..<2).map { StateVariables(RecurrentState(h: h0[$0], c: c0[$0]), on: tape) }
      let (logits, final) = model(inputs, time: time, batch: batch, state: initial, on: tape, dropout: &dropout)
      return (tape.softmaxCrossEntropy(logits, targets: targets), initial, final)
    }
    func loss() -> Evaluation {
      let tape = Tape(recording: false)
      let (loss, _, final) = run(tape)
      var value = Double(tape[loss].scalars[0])
      for l in 0..<2 { value += dot(tape[final[l].h], rh[l]) + dot(tape[final[l].c!], rc[l]) }
      return Evaluation(value: value)
    }

    model.parameters.zeroGradients()
    let tape = Tape()
    let (value, initial, final) = run(tape)
    for l in 0..<2 {
      tape.accumulate(rh[l], into: final[l].h)
      tape.accumulate(rc[l], into: final[l].c!)
    }
    tape.backward(from: value)

    var probes = model.parameters.layout.entries.map { Probe(model.parameters, $0) }
    for l in 0..<2 {
      let dh0 = try XCTUnwrap(tape.gradient(initial[l].h), "no gradient reached h0[\(l)]")
      let dc0 = try XCTUnwrap(tape.gradient(initial[l].c!), "no gradient reached c0[\(l)]")
      probes.append(Probe("h0[\(l)]", get: { h0[l].scalars[$0] }, set: { h0[l].scalars[$0] = $1 }, analytic: dh0))
      probes.append(Probe("c0[\(l)]", get: { c0[l].scalars[$0] }, set: { c0[l].scalars[$0] = $1 }, analytic: dc0))
    }
    XCTAssertEqual(probes.count, 1 + 2 * 4 + 2 + 4)
    GradientChecker(loss: loss, samples: 24).check(probes)
  }

  // MARK: - Helpers

  /// A tensor of normal samples.
  private func random(_ shape: [Int], _ generator: inout RandomGenerator, deviation: Float = 1) -> Tensor {
    Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.normal(deviation: deviation) })
  }

  /// `sum(a * b)` in Double.
  private func dot(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape)
    return zip(a.scalars, b.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
  }

  /// Runs `tape` backward as if the loss were `sum(value(v) * weight)` over the pairs.
  private func backward(_ tape: Tape, weighting outputs: [(Variable, Tensor)]) {
    for (variable, weight) in outputs { tape.accumulate(weight, into: variable) }
    tape.backward(from: outputs[0].0, seed: 0)
  }
}

// MARK: - The checker

/// One evaluation of a scalar loss. `pattern` records the branch each kink took (a relu's sign);
/// a central difference whose evaluations took other branches than the unperturbed one is skipped.
private struct Evaluation {
  var value: Double
  var pattern: [Bool] = []
}

/// One array whose gradient is checked: a parameter, an input or an initial state.
private struct Probe {
  let name: String
  let count: Int
  /// Element `i` of the values the loss reads.
  let get: (Int) -> Float
  let set: (Int, Float) -> Void
  /// The gradient the code under test computed.
  var analytic: [Float]

  init(_ name: String, get: @escaping (Int) -> Float, set: @escaping (Int, Float) -> Void, analytic: Tensor) {
    self.name = name
    self.count = analytic.count
    self.get = get
    self.set = set
    self.analytic = analytic.scalars
  }

  /// A parameter of `parameters`, with the gradient accumulated there.
  init(_ parameters: Parameters, _ entry: ParameterLayout.Entry) {
    let value = parameters.value(entry.ref)
    self.init(
      entry.name, get: { value[$0] }, set: { value[$0] = $1 }, analytic: parameters.gradientTensor(entry.ref))
  }
}

/// A deliberate error made in a copy of the analytic gradients, which the check must flag.
private struct Mutation {
  let name: String
  let apply: ([Probe]) -> [Probe]
}

/// Central differences of a float32 computation. `eps` 1e-2 keeps the rounding noise of the
/// forward (about 1e-6 of the loss) well under the tolerance after dividing by `2 eps`, while the
/// truncation error (`eps^2 L''' / 6`) stays near 1e-5.
private struct GradientChecker {
  let loss: () -> Evaluation
  var eps: Float = 1e-2
  /// An element fails when `|analytic - numeric| > relative * max(|analytic|, |numeric|) + absolute`.
  var relative = 1e-2
  var absolute = 1e-3
  /// Elements checked per probe at most (a fixed random subset of larger ones).
  var samples = 64

  /// One checked element.
  struct Element {
    let probe: Int
    let index: Int
    let numeric: Double
  }

  /// Numeric gradients of a sample of every probe's elements; elements at a kink are left out.
  func numericGradients(_ probes: [Probe]) -> (elements: [Element], skipped: Int) {
    let base = loss().pattern
    var generator = RandomGenerator(seed: 7)
    var elements: [Element] = []
    var skipped = 0
    for (k, probe) in probes.enumerated() {
      var indices = Array(0..<probe.count)
      if probe.count > samples {
        indices.shuffle(using: &generator)
        indices = indices.prefix(samples).sorted()
      }
      for i in indices {
        let v = probe.get(i)
        let (up, down) = (v + eps, v - eps)
        probe.set(i, up)
        let plus = loss()
        probe.set(i, down)
        let minus = loss()
        probe.set(i, v)
        guard plus.pattern == base, minus.pattern == base else {
          skipped += 1
          continue
        }
        elements.append(Element(probe: k, index: i, numeric: (plus.value - minus.value) / (Double(up) - Double(down))))
      }
    }
    return (elements, skipped)
  }

  /// The elements whose analytic gradient disagrees with the numeric one, described.
  func mismatches(_ probes: [Probe], _ elements: [Element]) -> [String] {
    elements.compactMap { e in
      let a = Double(probes[e.probe].analytic[e.index])
      let bound = relative * max(abs(a), abs(e.numeric)) + absolute
      guard !(abs(a - e.numeric) <= bound) else { return nil }
      return "\(probes[e.probe].name)[\(e.index)]: analytic \(a), numeric \(e.numeric)"
    }
  }

  /// Asserts the analytic gradients agree with numeric ones, then that the check flags each
  /// probe scaled by 1.1, each probe's largest element with its sign flipped, and `mutations`.
  func check(_ probes: [Probe], mutations: [Mutation] = [], file: StaticString = #filePath, line: UInt = #line) {
    let (elements, skipped) = numericGradients(probes)
    XCTAssertLessThanOrEqual(skipped, elements.count / 10, "too many elements at a kink", file: file, line: line)
    let failures = mismatches(probes, elements)
    XCTAssert(failures.isEmpty, "\(failures.count) gradients wrong: \(failures.prefix(5))", file: file, line: line)

    // Self-test: deliberate errors in a copy of the analytic gradients must be flagged.
    var all = mutations
    for (k, probe) in probes.enumerated() {
      all.append(
        Mutation(name: "\(probe.name) scaled by 1.1") { probes in
          var probes = probes
          probes[k].analytic = probes[k].analytic.map { $0 * 1.1 }
          return probes
        })
      let checked = elements.filter { $0.probe == k }.map(\.index)
      if let largest = checked.max(by: { abs(probe.analytic[$0]) < abs(probe.analytic[$1]) }) {
        all.append(
          Mutation(name: "\(probe.name)[\(largest)] negated") { probes in
            var probes = probes
            probes[k].analytic[largest].negate()
            return probes
          })
      }
    }
    for mutation in all {
      XCTAssertFalse(
        mismatches(mutation.apply(probes), elements).isEmpty, "the check misses \(mutation.name)", file: file,
        line: line)
    }
  }
}
