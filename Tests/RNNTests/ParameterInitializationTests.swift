import RNN
import XCTest

/// `Parameters(layout, using:)` initialises every parameter as the layers' own `initialize` calls
/// do, in declaration order: the same numbers from the same generator.
final class ParameterInitializationTests: XCTestCase {
  func testOneCallInitialisesAsEachLayerWould() {
    var layout = ParameterLayout()
    let embedding = Embedding(vocabularySize: 11, size: 5, layout: &layout)
    let tagger = Bidirectional(.gru, inputSize: 5, hiddenSize: 7, layout: &layout, prefix: "tagger.")
    let output = Linear(inputSize: 14, outputSize: 3, layout: &layout, name: "output")
    var first = RandomGenerator(seed: 4)
    let together = Parameters(layout, using: &first)
    var second = RandomGenerator(seed: 4)
    let apart = Parameters(layout)
    embedding.initialize(apart, using: &second)
    tagger.initialize(apart, using: &second)
    output.initialize(apart, using: &second)
    XCTAssertEqual(Array(together.values), Array(apart.values))
    XCTAssertEqual(first.next(), second.next(), "both drew as many numbers")
    // PyTorch's rules: embedding N(0, 1); the others uniform within 1/sqrt(fan).
    let (e, w) = (together.tensor(embedding.weight).scalars, together.tensor(output.weight).scalars)
    XCTAssertGreaterThan(e.map(abs).max()!, Float(1 / 14.0).squareRoot())
    XCTAssertLessThanOrEqual(w.map(abs).max()!, 1 / Float(14).squareRoot())
  }
}
