import RNN
import XCTest

/// The tape's arithmetic, activations and elementwise losses: numeric gradient checks, and the
/// losses' values against PyTorch's.
final class TapeOperationTests: XCTestCase {
  /// Checks `op` over inputs of `shapes`: its gradients against central differences of
  /// `sum(op(inputs) * r)`; `kinks` gives the branch pattern (a relu's signs).
  private func check(
    _ shapes: [[Int]], seed: UInt64, kinks: (([Tensor]) -> [Bool])? = nil, file: StaticString = #filePath,
    line: UInt = #line, _ op: @escaping (Tape, [Variable]) -> Variable
  ) throws {
    var generator = RandomGenerator(seed: seed)
    var inputs = shapes.map { randomTensor($0, &generator) }
    let tape = Tape()
    let variables = inputs.map { tape.input($0) }
    let output = op(tape, variables)
    let r = randomTensor(tape[output].shape, &generator)
    tape.accumulate(r, into: output)
    tape.backward(from: output, seed: 0)
    func loss() -> Evaluation {
      let tape = Tape(recording: false)
      let y = op(tape, inputs.map { tape.input($0) })
      return Evaluation(value: weightedSum(tape[y], r), pattern: kinks?(inputs) ?? [])
    }
    let probes = try inputs.indices.map { k in
      Probe(
        "input \(k)", get: { inputs[k].scalars[$0] }, set: { inputs[k].scalars[$0] = $1 },
        analytic: try XCTUnwrap(tape.gradient(variables[k]), file: file, line: line))
    }
    GradientChecker(loss: loss).check(probes, file: file, line: line)
  }

  func testActivations() throws {
    try check([[3, 7]], seed: 1, kinks: { $0[0].scalars.map { $0 > 0 } }) { $0.relu($1[0]) }
    try check([[3, 7]], seed: 2) { $0.tanh($1[0]) }
    try check([[3, 7]], seed: 3) { $0.sigmoid($1[0]) }
  }

  func testAddAndConcatenate() throws {
    try check([[2, 3, 4], [2, 3, 4]], seed: 4) { $0.add($1[0], $1[1]) }
    try check([[2, 3, 4], [2, 3, 1], [2, 3, 5]], seed: 5) { $0.concatenate($1) }
  }

  func testMeanOverTimeWithAndWithoutLengths() throws {
    try check([[4, 3, 2]], seed: 6) { $0.meanOverTime($1[0]) }
    try check([[4, 3, 2]], seed: 7) { $0.meanOverTime($1[0], lengths: [4, 1, 2]) }
    // Padded steps get no gradient.
    let tape = Tape()
    let x = tape.input(Tensor(shape: [3, 2, 1], scalars: [1, 2, 3, 4, 5, 6]))
    let y = tape.meanOverTime(x, lengths: [3, 1])
    XCTAssertEqual(tape[y].scalars, [3, 2])
    tape.backward(from: tape.meanSquaredError(y, targets: Tensor(shape: [2, 1], scalars: [0, 0])))
    XCTAssertEqual(tape.gradient(x)!.scalars, [1, 2, 1, 0, 1, 0])
  }

  func testLossesMatchPyTorch() throws {
    let tape = Tape()
    let x = tape.input(Tensor(shape: [5], scalars: [0.1, -0.5, 2.0, 1.5, 0.0]))
    // torch.nn.functional.mse_loss
    XCTAssertEqual(
      tape[tape.meanSquaredError(x, targets: Tensor(shape: [5], scalars: [0, 0.5, 1, -1, 0.25]))].scalars[0],
      1.6644999980926514, accuracy: 1e-6)
    let z = tape.input(Tensor(shape: [5], scalars: [-2, 0.5, 3, -40, 40]))
    // torch.nn.functional.binary_cross_entropy_with_logits, with logits that would overflow exp
    XCTAssertEqual(
      tape[tape.binaryCrossEntropy(logits: z, targets: Tensor(shape: [5], scalars: [0, 1, 0.3, 1, 0]))].scalars[0],
      16.549917221069336, accuracy: 1e-5)
    var generator = RandomGenerator(seed: 8)
    let targets = randomTensor([3, 4], &generator)
    let probabilities = Tensor(shape: [3, 4], scalars: (0..<12).map { _ in generator.uniform(0, 1) })
    try check([[3, 4]], seed: 9) { $0.meanSquaredError($1[0], targets: targets) }
    try check([[3, 4]], seed: 10) { $0.binaryCrossEntropy(logits: $1[0], targets: probabilities) }
  }
}
