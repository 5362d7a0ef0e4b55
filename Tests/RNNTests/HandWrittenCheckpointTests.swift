import XCTest

@testable import RNN

/// A checkpoint exported from PyTorch by hand (`save_file(model.state_dict(), path, metadata=...)`,
/// as the README shows) names only the model's shape in its `config`: `dropout` and
/// `vocabulary_size` take their defaults (0, the vocabulary's length), and nothing else
/// (`format`, `step`, `encoding`) is needed.
final class HandWrittenCheckpointTests: XCTestCase {
  private let vocabulary = Vocabulary(building: "hello, world\n")

  /// The file a PyTorch user writes: the state dict and two metadata entries.
  private func exported(_ model: CharLM, config: String) -> SafeTensors {
    SafeTensors(
      tensors: model.parameters.stateDict(), metadata: ["vocabulary": vocabulary.jsonArray, "config": config])
  }

  func testConfigWithTheShapeOnlyLoads() throws {
    var generator = RandomGenerator(seed: 4)
    let config = CharLMConfig(cell: .gru, layers: 2, hidden: 8, embedding: 4, vocabularySize: vocabulary.count)
    let model = CharLM(config, using: &generator)
    let file = exported(model, config: #"{"cell": "gru", "layers": 2, "hidden": 8, "embedding": 4}"#)
    let loaded = try Checkpoint(SafeTensors(decoding: file.encoded()), path: "exported.safetensors")
    XCTAssertEqual(loaded.model.config, config)
    XCTAssertEqual(loaded.model.config.dropout, 0)
    XCTAssertEqual(loaded.vocabulary.scalars, vocabulary.scalars)
    XCTAssertEqual(loaded.step, 0)
    XCTAssertEqual(
      loaded.model.parameters.stateDict().map(\.tensor), model.parameters.stateDict().map(\.tensor))
  }

  func testAGivenVocabularySizeMustMatchAndTheShapeMustBeNamed() throws {
    var generator = RandomGenerator(seed: 4)
    let model = CharLM(
      CharLMConfig(cell: .lstm, layers: 1, hidden: 8, embedding: 4, vocabularySize: vocabulary.count), using: &generator)
    let cases = [
      (#"{"cell": "lstm", "layers": 1, "hidden": 8, "embedding": 4, "vocabulary_size": 99}"#, "vocabulary_size 99"),
      (#"{"cell": "lstm", "layers": 1, "embedding": 4}"#, "hidden"),
    ]
    for (config, mention) in cases {
      XCTAssertThrowsError(try Checkpoint(exported(model, config: config), path: "x.safetensors")) { error in
        let message = "\(error)"
        XCTAssertTrue(message.contains("\"config\"") && message.contains(mention), message)
      }
    }
  }
}
