import RNN
import XCTest

/// The layers' shorthand: a `PaddedBatch` brings its lengths, and a missing state is the zero
/// state. Same values and gradients as the long forms.
final class PaddedBatchLayerTests: XCTestCase {
  func testAPaddedBatchAndADefaultStateMeanTheLongForm() {
    var layout = ParameterLayout()
    let symbols = Embedding(vocabularySize: 9, size: 4, layout: &layout, name: "symbols")
    let encoder = RecurrentLayer(.gru, inputSize: 4, hiddenSize: 6, layout: &layout, prefix: "encoder.")
    let output = Linear(inputSize: 6, outputSize: 9, layout: &layout, name: "output")
    var generator = RandomGenerator(seed: 2)
    let parameters = Parameters(layout, using: &generator)
    let batch = PaddedBatch([[1, 2, 3, 4], [5, 6], [7, 8, 1]])
    let targets = PaddedBatch([[2, 3, 4, 5], [6, 7], [8, 1, 2]], padding: -1)

    func run(_ body: (Tape) -> (y: Variable, state: StateVariables)) -> (Tensor, Tensor, [Float]) {
      parameters.zeroGradients()
      let tape = Tape()
      let (y, final) = body(tape)
      tape.backward(from: tape.softmaxCrossEntropy(output(y, parameters: parameters, on: tape), targets: targets.tokens))
      return (tape[y], tape[final.h], Array(parameters.gradients))
    }
    let short = run { encoder(batch, embedding: symbols, parameters: parameters, on: $0) }
    let long = run { tape in
      encoder(
        batch.tokens, time: batch.time, batch: batch.batch, embedding: symbols,
        state: StateVariables(encoder.zeroState(batch: batch.batch), on: tape), lengths: batch.lengths,
        parameters: parameters, on: tape)
    }
    XCTAssertEqual(short.0, long.0)
    XCTAssertEqual(short.1, long.1)
    XCTAssertEqual(short.2, long.2)
    let embedded = run { tape in
      encoder(symbols(batch, parameters: parameters, on: tape), lengths: batch.lengths, parameters: parameters, on: tape)
    }
    XCTAssertEqual(embedded.1, long.1, "embedding then the layer, from the default zero state")
  }
}
