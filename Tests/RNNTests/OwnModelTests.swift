import Foundation
import RNN
import XCTest

/// The README's "your own model": a classifier of variable-length strings, trained, saved,
/// loaded and scored, exactly as the README shows it (between `// README: NAME` and `// end`).
final class OwnModelTests: FolderTestCase {
  func testVariableLengthClassifier() throws {
    // Strings of 0s and 1s, 3 to 12 long; the label is whether 1s outnumber 0s.
    var generator = RandomGenerator(seed: 11)
    func strings(_ count: Int) -> (strings: [[Int32]], labels: [Int32]) {
      let strings = (0..<count).map { _ in
        (0..<(3 + Int(generator.next() % 10))).map { _ in Int32(generator.next() % 2) }
      }
      return (strings, strings.map { s in s.filter { $0 == 1 }.count > s.count / 2 ? 1 : 0 })
    }
    let trainingBatches = (0..<400).map { _ in strings(32) }
    let test = strings(500)
    let previous = FileManager.default.currentDirectoryPath
    _ = FileManager.default.changeCurrentDirectoryPath(folder)
    defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }

    // README: your own model
    let model = Model(using: &generator) { make in (characters: make.embedding(vocabularySize: 2, size: 8),
      reader: make.recurrent(.lstm, inputSize: 8, hiddenSize: 32), classify: make.linear(inputSize: 32, outputSize: 2)) }
    func logits(_ strings: [[Int32]], on tape: Tape) -> Variable {
      let (_, final) = model.reader(PaddedBatch(strings), embedding: model.characters, on: tape)
      return model.classify(final[0].h, on: tape)   // [B,2]: each string's state after its last step
    }
    var adam = Optimizer(.adam, for: model.parameters)
    for (strings, labels) in trainingBatches {
      adam.minimize(model.parameters, learningRate: 0.01) { $0.softmaxCrossEntropy(logits(strings, on: $0), targets: labels) }
    }
    try model.save(to: "classifier.safetensors")                 // a PyTorch state_dict

    try model.load(from: "classifier.safetensors")
    let tape = Tape(recording: false)
    let guesses = tape[logits(test.strings, on: tape)].argmaxRows()
    print("accuracy", accuracy(guesses, test.labels))
    // end
    XCTAssertGreaterThan(accuracy(guesses, test.labels), 0.95)
    let fresh = try Model(contentsOf: "classifier.safetensors") { make in
      (characters: make.embedding(vocabularySize: 2, size: 8), reader: make.recurrent(.lstm, inputSize: 8, hiddenSize: 32),
       classify: make.linear(inputSize: 32, outputSize: 2))
    }
    XCTAssertEqual(Array(fresh.parameters.values), Array(model.parameters.values))
    XCTAssertEqual(model.parameterCount, 16 + 4 * 32 * (8 + 32 + 2) + 32 * 2 + 2)
  }

  func testEncoderDecoderThatReversesDigits() throws {
    // Questions: 1 to 5 digits; answers: the same reversed. Tokens 0-9 are digits, 10 starts an
    // answer, 11 ends one.
    var generator = RandomGenerator(seed: 12)
    func questions(_ count: Int) -> [[Int32]] {
      (0..<count).map { _ in (0..<(1 + Int(generator.next() % 5))).map { _ in Int32(generator.next() % 10) } }
    }
    let trainingBatches = (0..<1500).map { _ in questions(32) }
    let test = questions(200)
    let previous = FileManager.default.currentDirectoryPath
    _ = FileManager.default.changeCurrentDirectoryPath(folder)
    defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }

    // README: your own encoder-decoder
    let (go, stop): (Int32, Int32) = (10, 11)
    let model = Model(using: &generator) { make in (digits: make.embedding(vocabularySize: 12, size: 16),
      encoder: make.recurrent(.gru, inputSize: 16, hiddenSize: 128), decoder: make.recurrent(.gru, inputSize: 16, hiddenSize: 128),
      output: make.linear(inputSize: 128, outputSize: 12)) }
    var adam = Optimizer(.adam, for: model.parameters)
    for questions in trainingBatches {
      let answers = questions.map { Array($0.reversed()) }
      adam.minimize(model.parameters, learningRate: 0.003) { tape in
        let (_, thought) = model.encoder(PaddedBatch(questions), embedding: model.digits, on: tape)
        let read = PaddedBatch(answers.map { [go] + $0 }), written = PaddedBatch(answers.map { $0 + [stop] }, padding: -1)
        let (y, _) = model.decoder(read, embedding: model.digits, state: thought, on: tape)
        return tape.softmaxCrossEntropy(model.output(y, on: tape), targets: written.tokens)
      }
    }
    try model.save(to: "reverser.safetensors")

    try model.load(from: "reverser.safetensors")
    let tape = Tape(recording: false)
    let (_, thought) = model.encoder(PaddedBatch(test), embedding: model.digits, on: tape)  // every question at once
    let search = BeamSearch(width: 1, maxLength: 6, stop: stop, includesStop: false)
    let answers = search(prime: [go], rows: thought.map { $0.values(on: tape) }) { tokens, state, tape in
      let (y, final) = model.decoder(tokens, embedding: model.digits, state: state, on: tape)
      return (model.output(y, on: tape), final)
    }.map { $0[0].tokens }
    print("exact", accuracy(answers, test.map { Array($0.reversed()) }))
    // end
    XCTAssertGreaterThan(accuracy(answers, test.map { Array($0.reversed()) }), 0.9)
  }

  func testReadmeShowsIt() throws {
    let readme = try String(
      contentsOfFile: #filePath.replacingOccurrences(of: "Tests/RNNTests/OwnModelTests.swift", with: "README.md"),
      encoding: .utf8)
    let snippets = try readmeSnippets(in: #filePath)
    XCTAssertEqual(snippets.count, 2)
    for (name, code) in snippets { XCTAssertTrue(readme.contains(code), "README.md lacks the \(name) snippet:\n\(code)") }
  }
}
