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
    let problem = RecurrentGradientProblem(cell, seed: 1000, t: t, b: b, d: d, h: h) {
      RecurrentLayer(cell, inputSize: d, hiddenSize: h, layout: &$0)
    }

    // The relu's kinks: a step whose sign pattern changes under the perturbation is skipped.
    func loss() -> Evaluation {
      let (y, final, _) = problem.forward()
      return Evaluation(value: problem.loss(y, final), pattern: cell == .rnnRelu ? y.scalars.map { $0 > 0 } : [])
    }

    problem.parameters.zeroGradients()
    let (_, _, cache) = problem.forward()
    let grads = problem.backward(cache)
    XCTAssertEqual(grads.dx.shape, problem.x.shape, file: file, line: line)
    XCTAssertEqual(grads.dState.c == nil, problem.c0 == nil, "dc0 present exactly for an LSTM", file: file, line: line)

    let probes = problem.probes(grads)
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
    let weightHH = problem.layer.weightHH
    let once = problem.parameters.gradientTensor(weightHH)
    _ = problem.backward(cache)
    assertClose(
      problem.parameters.gradientTensor(weightHH), Tensor(shape: once.shape, scalars: once.scalars.map { 2 * $0 }),
      "weight_hh gradient after two backward calls", file: file, line: line)
  }

  /// `Linear` over `x [T,B,I]` recorded on a tape: weight, bias and input.
  func testLinearGradients() throws {
    var layout = ParameterLayout()
    let linear = Linear(inputSize: 4, outputSize: 3, layout: &layout, name: "decoder")
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 2001)
    linear.initialize(parameters, using: &generator)
    var x = randomTensor([2, 3, 4], &generator)
    let r = randomTensor([2, 3, 3], &generator)
    func loss() -> Evaluation {
      Evaluation(value: weightedSum(linear.forward(x, parameters: parameters), r))
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
    let r = randomTensor([4, 2, 3], &generator)
    func loss() -> Evaluation {
      Evaluation(value: weightedSum(embedding.forward(tokens, shape: [4, 2], parameters: parameters), r))
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
    var x = randomTensor([3, 4, 5], &generator)
    let r = randomTensor([3, 4, 5], &generator)
    func run(_ tape: Tape) -> (input: Variable, output: Variable) {
      var maskGenerator = RandomGenerator(seed: 77)
      let input = tape.input(x)
      return (input, tape.dropout(input, probability: p, using: &maskGenerator))
    }
    func loss() -> Evaluation {
      let tape = Tape(recording: false)
      return Evaluation(value: weightedSum(tape[run(tape).output], r))
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
    var logits = randomTensor([2, 3, 5], &generator, deviation: 2)
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
    var h0 = (0..<2).map { _ in randomTensor([batch, 4], &generator, deviation: 0.5) }
    var c0 = (0..<2).map { _ in randomTensor([batch, 4], &generator, deviation: 0.5) }
    let rh = (0..<2).map { _ in randomTensor([batch, 4], &generator) }
    let rc = (0..<2).map { _ in randomTensor([batch, 4], &generator) }

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
      for l in 0..<2 { value += weightedSum(tape[final[l].h], rh[l]) + weightedSum(tape[final[l].c!], rc[l]) }
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

  /// Runs `tape` backward as if the loss were `sum(value(v) * weight)` over the pairs.
  private func backward(_ tape: Tape, weighting outputs: [(Variable, Tensor)]) {
    for (variable, weight) in outputs { tape.accumulate(weight, into: variable) }
    tape.backward(from: outputs[0].0, seed: 0)
  }
}
