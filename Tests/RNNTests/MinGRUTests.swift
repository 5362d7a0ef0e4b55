import XCTest

@testable import RNN

/// `MinGRUCell`, the cell added by one file: two stacked layers against the PyTorch `MinGRU`
/// module of `Scripts/make-references.py` (`Fixtures/mingru.safetensors` and, over rows of lengths
/// `7, 3, 0, 5`, `packed_mingru`), a step-by-step Double version, numeric gradients, and a small
/// model of `Embedding`, a `RecurrentStack` of minGRU layers and `Linear` that learns.
final class MinGRUTests: XCTestCase {
  func testMatchesPyTorch() throws { try checkStackAgainstPyTorch(MinGRUCell(), packed: false) }
  func testPackedMatchesPyTorch() throws { try checkStackAgainstPyTorch(MinGRUCell(), packed: true) }

  /// The layer has only `weight_ih [2H, D]` and `bias_ih [2H]`, and no cell state.
  func testParametersAndState() {
    var layout = ParameterLayout()
    let layer = RecurrentLayer(MinGRUCell(), inputSize: 5, hiddenSize: 4, layout: &layout, suffix: "_l0")
    XCTAssertEqual(layout.entries.map(\.name), ["weight_ih_l0", "bias_ih_l0"])
    XCTAssertEqual(layout.entries.map(\.ref.shape), [[8, 5], [8]])
    XCTAssertNil(layer.kind)
    XCTAssertNil(layer.zeroState(batch: 2).c)
  }

  /// Against `h' = (1 - z) h + z h~` computed in Double, one row and one step at a time.
  func testMatchesNaiveSteps() {
    let (t, b, d, h) = (5, 3, 4, 6)
    var generator = RandomGenerator(seed: 31)
    var layout = ParameterLayout()
    let layer = RecurrentLayer(MinGRUCell(), inputSize: d, hiddenSize: h, layout: &layout)
    let parameters = Parameters(layout)
    layer.initialize(parameters, using: &generator)
    let x = randomTensor([t, b, d], &generator)
    let h0 = randomTensor([b, h], &generator, deviation: 0.5)
    let (y, final, _) = layer.forward(x, state: RecurrentState(h: h0), parameters: parameters)

    let w = parameters.tensor(layer.weightIH).scalars.map(Double.init)
    let bias = parameters.tensor(layer.biasIH).scalars.map(Double.init)
    var expected = [Float](repeating: 0, count: t * b * h)
    var last = [Float](repeating: 0, count: b * h)
    for row in 0..<b {
      var state = (0..<h).map { Double(h0.scalars[row * h + $0]) }
      for step in 0..<t {
        let input = (0..<d).map { Double(x.scalars[(step * b + row) * d + $0]) }
        func projection(_ r: Int) -> Double { (0..<d).reduce(bias[r]) { $0 + w[r * d + $1] * input[$1] } }
        for j in 0..<h {
          let z = 1 / (1 + exp(-projection(j)))
          state[j] = (1 - z) * state[j] + z * projection(h + j)
          expected[(step * b + row) * h + j] = Float(state[j])
        }
      }
      for j in 0..<h { last[row * h + j] = Float(state[j]) }
    }
    assertClose(y, Tensor(shape: [t, b, h], scalars: expected), "y")
    assertClose(final.h, Tensor(shape: [b, h], scalars: last), "h_n")
  }

  /// Central differences of `L = sum(y * R) + sum(h_n * Rh)` for every parameter, the input and
  /// `h0`, with all rows full and with padded rows; swapping the `z` and `h~` blocks of
  /// `weight_ih`'s gradient must be caught.
  func testGradients() {
    let (t, b, d, h) = (4, 3, 3, 3)
    for lengths in [nil, [4, 2, 0]] as [[Int]?] {
      let problem = RecurrentGradientProblem(MinGRUCell(), seed: 1010, t: t, b: b, d: d, h: h, lengths: lengths) {
        RecurrentLayer(MinGRUCell(), inputSize: d, hiddenSize: h, layout: &$0)
      }
      problem.parameters.zeroGradients()
      let (_, _, cache) = problem.forward()
      let probes = problem.probes(problem.backward(cache))
      let swapped = Mutation(name: "weight_ih blocks z and h~ swapped") { probes in
        var probes = probes
        let k = probes.firstIndex { $0.name == "weight_ih" }!
        for i in 0..<h * d { probes[k].analytic.swapAt(i, h * d + i) }
        return probes
      }
      let checker = GradientChecker {
        let (y, final, _) = problem.forward()
        return Evaluation(value: problem.loss(y, final))
      }
      checker.check(probes, mutations: [swapped])
    }
  }

  /// A model of one's own with minGRU layers trains: `Embedding -> 2 x minGRU -> Linear` learns
  /// to continue a repeating sequence, through the stack's token form and a plain `Variable` input.
  func testStackTrains() {
    let (v, t, b) = (5, 8, 4)
    var layout = ParameterLayout()
    let embedding = Embedding(vocabularySize: v, size: 6, layout: &layout)
    let rnn = RecurrentStack(MinGRUCell(), inputSize: 6, hiddenSize: 16, layers: 2, layout: &layout)
    let decoder = Linear(inputSize: 16, outputSize: v, layout: &layout, name: "decoder")
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 5)
    embedding.initialize(parameters, using: &generator)
    for layer in rnn.layers { layer.initialize(parameters, using: &generator) }
    decoder.initialize(parameters, using: &generator)
    let inputs = (0..<t * b).map { Int32(($0 / b + $0 % b) % v) }
    let targets = inputs.map { ($0 + 1) % Int32(v) }

    var adam = Optimizer(.adam, parameterCount: parameters.count)
    var losses: [Float] = []
    for step in 0..<60 {
      losses.append(
        adam.minimize(parameters, learningRate: 1e-2) { tape in
          let y =
            step % 2 == 0
            ? rnn(inputs, time: t, batch: b, embedding: embedding, parameters: parameters, on: tape).y
            : rnn(embedding(inputs, shape: [t, b], parameters: parameters, on: tape), parameters: parameters, on: tape)
              .y
          return tape.softmaxCrossEntropy(decoder(y, parameters: parameters, on: tape), targets: targets)
        })
    }
    XCTAssertLessThan(losses.last!, 0.2 * losses.first!, "losses \(losses.first!) -> \(losses.last!)")
  }
}
