import Foundation
import XCTest

@testable import RNN

/// The five structures of the RNN taxonomy exactly as the README shows them (the code between
/// `// README: NAME` and `// end`; `testReadmeShowsTheseSnippets` keeps the two in step): each
/// builds its model, takes one training step, and gives the gradients it should.
final class TaxonomyTests: XCTestCase {
  private var generator = RandomGenerator(seed: 7)
  private let b = 3

  func testOneToOne() {
    let images = randomTensor([b, 64], &generator)
    let labels: [Int32] = [1, 2, 3]
    // README: one-to-one
    let model = Model(using: &generator) { make in make.linear(inputSize: 64, outputSize: 10) }
    var sgd = Optimizer(.sgd, for: model.parameters)
    let loss = sgd.minimize(model.parameters, learningRate: 0.1) { tape in
      tape.softmaxCrossEntropy(model.layers(tape.input(images), on: tape), targets: labels)  // [B,64] -> [B,10]
    }
    // end
    XCTAssertTrue(loss.isFinite)
    XCTAssertEqual(model.parameters.layout.entries.map(\.name), ["weight", "bias"])
    assertEveryParameterLearns(model.parameters)
  }

  func testOneToMany() {
    let images = randomTensor([b, 64], &generator)
    let (go, stop): (Int32, Int32) = (27, 26)
    let names: [[Int32]] = [[25, 4, 17, 14], [14, 13, 4], [19, 22, 14]]
    // README: one-to-many
    let model = Model(using: &generator) { make in (image: make.linear(inputSize: 64, outputSize: 128),
      letters: make.embedding(vocabularySize: 28, size: 16), decoder: make.recurrent(.gru, inputSize: 16, hiddenSize: 128),
      output: make.linear(inputSize: 128, outputSize: 27)) }
    var adam = Optimizer(.adam, for: model.parameters)
    adam.minimize(model.parameters, learningRate: 2e-3) { tape in
      let start = StateVariables(h: model.image(tape.input(images), on: tape))        // image [B,64] -> h [B,H]
      let read = PaddedBatch(names.map { [go] + $0 }), written = PaddedBatch(names.map { $0 + [stop] }, padding: -1)
      let (y, _) = model.decoder(read, embedding: model.letters, state: [start], on: tape)  // [T,B,H]
      return tape.softmaxCrossEntropy(model.output(y, on: tape), targets: written.tokens)  // -1: not scored
    }
    // end
    assertEveryParameterLearns(model.parameters)
    let oneImage = images.rowsSlice(0)
    // README: one-to-many decoding
    let h0 = RecurrentState(h: model.image.forward(oneImage))  // [1,H]
    let name = BeamSearch(width: 1, maxLength: 8, stop: stop)(prime: [go], state: [h0]) { tokens, state, tape in
      let (y, final) = model.decoder(tokens, embedding: model.letters, state: state, on: tape)
      return (model.output(y, on: tape), final)
    }[0].tokens
    // end
    XCTAssertTrue((1...8).contains(name.count))
  }

  func testManyToOne() {
    let images = PaddedSequences(randomTensor([8, b, 8], &generator), lengths: [8, 5, 8])
    let labels: [Int32] = [4, 0, 9]
    // README: many-to-one
    let model = Model(using: &generator) { make in (reader: make.recurrent(.lstm, inputSize: 8, hiddenSize: 128),
      classify: make.linear(inputSize: 128, outputSize: 10)) }
    var adam = Optimizer(.adam, for: model.parameters)
    adam.minimize(model.parameters, learningRate: 2e-3) { tape in
      let (_, final) = model.reader(images, on: tape)  // rows [T,B,8] and lengths -> each image's final state
      return tape.softmaxCrossEntropy(model.classify(final[0].h, on: tape), targets: labels)  // [B,10]
    }
    // end
    assertEveryParameterLearns(model.parameters)
    XCTAssertEqual(model.parameters.layout.entries.first?.name, "reader.weight_ih_l0")
  }

  func testManyToManyEncoderDecoder() {
    let questions = PaddedBatch([[3, 5, 7, 10, 4, 0, 9], [1, 10, 2], [9, 9, 10, 1]])
    let answersIn = PaddedBatch([[11, 4, 4, 6], [11, 3], [11, 1, 0, 0]], padding: 11)
    let answersOut = PaddedBatch([[4, 4, 6, 10], [3, 10], [1, 0, 0, 10]], padding: -1)
    // README: many-to-many, encoder-decoder
    let model = Model(using: &generator) { make in (symbols: make.embedding(vocabularySize: 12, size: 16),
      encoder: make.recurrent(.lstm, inputSize: 16, hiddenSize: 128), decoder: make.recurrent(.lstm, inputSize: 16, hiddenSize: 128),
      output: make.linear(inputSize: 128, outputSize: 11)) }
    var adam = Optimizer(.adam, for: model.parameters)
    adam.minimize(model.parameters, learningRate: 2e-3) { tape in
      let (_, thought) = model.encoder(questions, embedding: model.symbols, on: tape)  // each question's final state
      let (y, _) = model.decoder(answersIn, embedding: model.symbols, state: thought, on: tape)  // [T',B,H]
      return tape.softmaxCrossEntropy(model.output(y, on: tape), targets: answersOut.tokens)
    }
    // end
    assertEveryParameterLearns(model.parameters)
  }

  func testSyncedManyToMany() {
    let text = PaddedBatch([[5, 2, 2, 7], [1, 3]])
    let tags = PaddedBatch([[0, 1, 1, 2], [0, 0]], padding: -1)
    // README: synced many-to-many
    let model = Model(using: &generator) { make in (characters: make.embedding(vocabularySize: 96, size: 32),
      tagger: make.bidirectional(.lstm, inputSize: 32, hiddenSize: 64), classify: make.linear(inputSize: 128, outputSize: 3)) }
    var adam = Optimizer(.adam, for: model.parameters)
    adam.minimize(model.parameters, learningRate: 2e-3) { tape in
      let (y, _) = model.tagger(text, embedding: model.characters, on: tape)  // [T,B,2H]: both directions
      return tape.softmaxCrossEntropy(model.classify(y, on: tape), targets: tags.tokens)
    }
    // end
    assertEveryParameterLearns(model.parameters)
    XCTAssertTrue(model.parameters.layout.entries.contains { $0.name == "tagger.weight_hh_l0_reverse" })
  }

  /// Every parameter got a gradient from the step just taken.
  private func assertEveryParameterLearns(_ parameters: Parameters, file: StaticString = #filePath, line: UInt = #line) {
    for entry in parameters.layout.entries {
      XCTAssertGreaterThan(
        parameters.gradientTensor(entry.ref).scalars.map(abs).max() ?? 0, 0, entry.name, file: file, line: line)
    }
  }
}

extension TaxonomyTests {
  func testReadmeShowsTheseSnippets() throws {
    let readme = try String(contentsOfFile: #filePath.replacingOccurrences(of: "Tests/RNNTests/TaxonomyTests.swift", with: "README.md"), encoding: .utf8)
    let snippets = try readmeSnippets(in: #filePath)
    XCTAssertEqual(snippets.count, 6)
    for (name, code) in snippets { XCTAssertTrue(readme.contains(code), "README.md lacks the \(name) snippet:\n\(code)") }
  }

  func testTheDocumentationShowsTheseSnippets() throws {
    let catalog = #filePath.replacingOccurrences(of: "Tests/RNNTests/TaxonomyTests.swift", with: "Sources/RNN/RNN.docc")
    let articles = try FileManager.default.contentsOfDirectory(atPath: catalog).map {
      try String(contentsOfFile: catalog + "/" + $0, encoding: .utf8)
    }
    for (name, code) in try readmeSnippets(in: #filePath) {
      XCTAssertTrue(articles.contains { $0.contains(code) }, "no article of RNN.docc shows the \(name) snippet:\n\(code)")
    }
  }
}

extension Tensor {
  /// Row `i` of a `[N, F]` tensor as `[1, F]`.
  fileprivate func rowsSlice(_ i: Int) -> Tensor {
    let f = shape[1]
    return Tensor(shape: [1, f], scalars: Array(scalars[i * f..<(i + 1) * f]))
  }
}
