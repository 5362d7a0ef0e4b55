import Foundation
import XCTest

@testable import RNN

/// The five structures of the RNN taxonomy exactly as the README shows them (the code between
/// `// README: NAME` and `// end`; `testReadmeShowsTheseSnippets` keeps the two in step): each
/// builds, runs forward and backward, and gives the shapes and gradients it should.
final class TaxonomyTests: XCTestCase {
  private var generator = RandomGenerator(seed: 7)
  private let b = 3

  func testOneToOne() {
    let images = randomTensor([b, 64], &generator)
    let labels: [Int32] = [1, 2, 3]
    // README: one-to-one
    var layout = ParameterLayout()
    let classifier = Linear(inputSize: 64, outputSize: 10, layout: &layout, name: "classifier")
    let parameters = Parameters(layout, using: &generator)  // as PyTorch initialises them
    let tape = Tape()
    let logits = classifier(tape.input(images), parameters: parameters, on: tape)  // [B,64] -> [B,10]
    let loss = tape.softmaxCrossEntropy(logits, targets: labels)
    // end
    tape.backward(from: loss)
    XCTAssertEqual(tape[logits].shape, [b, 10])
  }

  func testOneToMany() {
    let images = randomTensor([b, 64], &generator)
    let (go, stop): (Int32, Int32) = (27, 26)
    let names: [[Int32]] = [[25, 4, 17, 14], [14, 13, 4], [19, 22, 14]]
    // README: one-to-many
    var layout = ParameterLayout()
    let toState = Linear(inputSize: 64, outputSize: 128, layout: &layout, name: "to_state")
    let letters = Embedding(vocabularySize: 28, size: 16, layout: &layout, name: "letters")
    let decoder = RecurrentLayer(.gru, inputSize: 16, hiddenSize: 128, layout: &layout, prefix: "decoder.")
    let output = Linear(inputSize: 128, outputSize: 27, layout: &layout, name: "output")
    let parameters = Parameters(layout, using: &generator)  // as PyTorch initialises them
    let tape = Tape()
    let image = tape.input(images)                                     // [B,64]
    let start = StateVariables(h: toState(image, parameters: parameters, on: tape))   // [B,H]
    let read = PaddedBatch(names.map { [go] + $0 }, padding: go)       // [T,B] letters read
    let written = PaddedBatch(names.map { $0 + [stop] }, padding: -1)  // [T,B] to write; -1 not scored
    let (y, _) = decoder(read, embedding: letters, state: start, parameters: parameters, on: tape)  // [T,B,H]
    let loss = tape.softmaxCrossEntropy(output(y, parameters: parameters, on: tape), targets: written.tokens)
    // end
    tape.backward(from: loss)
    XCTAssertEqual(tape[y].shape, [5, b, 128])
    XCTAssertEqual(tape.gradient(image)?.shape, [b, 64])
    let oneImage = images.rowsSlice(0)
    // README: one-to-many decoding
    let first = RecurrentState(h: toState.forward(oneImage, parameters: parameters))  // [1,H]
    let name = BeamSearch(width: 1, maxLength: 8, stop: stop)(prime: [go], state: [first]) {
      tokens, time, batch, state in
      let tape = Tape(recording: false)
      let (y, final) = decoder(
        tokens, time: time, batch: batch, embedding: letters, state: StateVariables(state[0], on: tape),
        parameters: parameters, on: tape)
      return (tape[output(y, parameters: parameters, on: tape)], [final.values(on: tape)])
    }[0].tokens
    // end
    XCTAssertTrue((1...8).contains(name.count))
  }

  func testManyToOne() {
    let rows = randomTensor([8, b, 8], &generator)
    let lengths = [8, 5, 8]
    let labels: [Int32] = [4, 0, 9]
    // README: many-to-one
    var layout = ParameterLayout()
    let reader = RecurrentLayer(.lstm, inputSize: 8, hiddenSize: 128, layout: &layout, prefix: "reader.")
    let classifier = Linear(inputSize: 128, outputSize: 10, layout: &layout, name: "classifier")
    let parameters = Parameters(layout, using: &generator)  // as PyTorch initialises them
    let tape = Tape()
    let (_, final) = reader(tape.input(rows), lengths: lengths, parameters: parameters, on: tape)  // final h [B,H]
    let logits = classifier(final.h, parameters: parameters, on: tape) // [B,10]: one per sequence
    let loss = tape.softmaxCrossEntropy(logits, targets: labels)
    // end
    tape.backward(from: loss)
    XCTAssertEqual(tape[final.h].shape, [b, 128])
    // Row 1 has 5 steps: its padded steps get no gradient.
    let dx = tape.gradient(Variable(id: 0))!
    XCTAssertTrue((5..<8).allSatisfy { t in (0..<8).allSatisfy { dx.scalars[(t * b + 1) * 8 + $0] == 0 } })
  }

  func testManyToManyEncoderDecoder() {
    let questions = PaddedBatch([[3, 5, 7, 10, 4, 0, 9], [1, 10, 2], [9, 9, 10, 1]])
    let answersIn = PaddedBatch([[11, 4, 4, 6], [11, 3], [11, 1, 0, 0]], padding: 11)
    let answersOut = PaddedBatch([[4, 4, 6, 10], [3, 10], [1, 0, 0, 10]], padding: -1)
    // README: many-to-many, encoder-decoder
    var layout = ParameterLayout()
    let symbols = Embedding(vocabularySize: 12, size: 16, layout: &layout, name: "symbols")
    let encoder = RecurrentLayer(.lstm, inputSize: 16, hiddenSize: 128, layout: &layout, prefix: "encoder.")
    let decoder = RecurrentLayer(.lstm, inputSize: 16, hiddenSize: 128, layout: &layout, prefix: "decoder.")
    let output = Linear(inputSize: 128, outputSize: 11, layout: &layout, name: "output")
    let parameters = Parameters(layout, using: &generator)  // as PyTorch initialises them
    let tape = Tape()
    let (_, thought) = encoder(questions, embedding: symbols, parameters: parameters, on: tape)  // final states
    let (y, _) = decoder(answersIn, embedding: symbols, state: thought, parameters: parameters, on: tape)  // [T',B,H]
    let loss = tape.softmaxCrossEntropy(output(y, parameters: parameters, on: tape), targets: answersOut.tokens)
    // end
    tape.backward(from: loss)
    XCTAssertEqual(tape[y].shape, [4, b, 128])
    XCTAssertGreaterThan(parameters.gradientTensor(encoder.weightHH).scalars.map(abs).max()!, 0)
  }

  func testSyncedManyToMany() {
    let text = PaddedBatch([[5, 2, 2, 7], [1, 3]])
    let tags = PaddedBatch([[0, 1, 1, 2], [0, 0]], padding: -1)
    // README: synced many-to-many
    var layout = ParameterLayout()
    let characters = Embedding(vocabularySize: 96, size: 32, layout: &layout, name: "characters")
    let tagger = Bidirectional(.lstm, inputSize: 32, hiddenSize: 64, layout: &layout, prefix: "tagger.")
    let classify = Linear(inputSize: 128, outputSize: 3, layout: &layout, name: "classify")
    let parameters = Parameters(layout, using: &generator)  // as PyTorch initialises them
    let tape = Tape()
    let x = characters(text, parameters: parameters, on: tape)                       // [T,B,32]
    let (y, _) = tagger(x, lengths: text.lengths, parameters: parameters, on: tape)  // [T,B,2H]: both directions
    let loss = tape.softmaxCrossEntropy(classify(y, parameters: parameters, on: tape), targets: tags.tokens)
    // end
    tape.backward(from: loss)
    XCTAssertEqual(tape[y].shape, [4, 2, 128])
  }
}

extension TaxonomyTests {
  func testReadmeShowsTheseSnippets() throws {
    let readme = try String(contentsOfFile: #filePath.replacingOccurrences(of: "Tests/RNNTests/TaxonomyTests.swift", with: "README.md"), encoding: .utf8)
    let snippets = try readmeSnippets(in: #filePath)
    XCTAssertEqual(snippets.count, 6)
    for (name, code) in snippets { XCTAssertTrue(readme.contains(code), "README.md lacks the \(name) snippet:\n\(code)") }
  }
}

extension Tensor {
  /// Row `i` of a `[N, F]` tensor as `[1, F]`.
  fileprivate func rowsSlice(_ i: Int) -> Tensor {
    let f = shape[1]
    return Tensor(shape: [1, f], scalars: Array(scalars[i * f..<(i + 1) * f]))
  }
}
