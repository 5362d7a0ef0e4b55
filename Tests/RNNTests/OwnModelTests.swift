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
    FileManager.default.changeCurrentDirectoryPath(folder)
    defer { FileManager.default.changeCurrentDirectoryPath(previous) }

    // README: your own model
    var layout = ParameterLayout()
    let characters = Embedding(vocabularySize: 2, size: 8, layout: &layout, name: "characters")
    let reader = RecurrentStack(.lstm, inputSize: 8, hiddenSize: 32, layers: 1, layout: &layout)
    let classify = Linear(inputSize: 32, outputSize: 2, layout: &layout, name: "classify")
    func logits(_ strings: [[Int32]], _ parameters: Parameters, on tape: Tape) -> Variable {
      let (_, final) = reader(PaddedBatch(strings), embedding: characters, parameters: parameters, on: tape)
      return classify(final[0].h, parameters: parameters, on: tape)   // [B,2]: each string's last step
    }
    let parameters = Parameters(layout, using: &generator)
    var adam = Optimizer(.adam, parameterCount: parameters.count)
    for (strings, labels) in trainingBatches {
      adam.minimize(parameters, learningRate: 0.01) { tape in
        tape.softmaxCrossEntropy(logits(strings, parameters, on: tape), targets: labels)
      }
    }
    try parameters.save(to: "classifier.safetensors")                 // a PyTorch state_dict

    let loaded = try Parameters(layout, contentsOf: "classifier.safetensors")
    let tape = Tape(recording: false)
    let guesses = tape[logits(test.strings, loaded, on: tape)].argmaxRows()
    print("accuracy", accuracy(guesses, test.labels))
    // end
    XCTAssertGreaterThan(accuracy(guesses, test.labels), 0.95)
    XCTAssertEqual(Array(loaded.values), Array(parameters.values))
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
    FileManager.default.changeCurrentDirectoryPath(folder)
    defer { FileManager.default.changeCurrentDirectoryPath(previous) }

    // README: your own encoder-decoder
    let (go, stop): (Int32, Int32) = (10, 11)
    var layout = ParameterLayout()
    let digits = Embedding(vocabularySize: 12, size: 16, layout: &layout, name: "digits")
    let encoder = RecurrentStack(.gru, inputSize: 16, hiddenSize: 128, layers: 1, layout: &layout, prefix: "encoder.")
    let decoder = RecurrentStack(.gru, inputSize: 16, hiddenSize: 128, layers: 1, layout: &layout, prefix: "decoder.")
    let output = Linear(inputSize: 128, outputSize: 12, layout: &layout, name: "output")
    let parameters = Parameters(layout, using: &generator)
    var adam = Optimizer(.adam, parameterCount: parameters.count)
    for questions in trainingBatches {
      let answers = questions.map { Array($0.reversed()) }
      adam.minimize(parameters, learningRate: 0.003) { tape in
        let (_, thought) = encoder(PaddedBatch(questions), embedding: digits, parameters: parameters, on: tape)
        let read = PaddedBatch(answers.map { [go] + $0 }), written = PaddedBatch(answers.map { $0 + [stop] }, padding: -1)
        let (y, _) = decoder(read, embedding: digits, state: thought, parameters: parameters, on: tape)
        return tape.softmaxCrossEntropy(output(y, parameters: parameters, on: tape), targets: written.tokens)
      }
    }
    try parameters.save(to: "reverser.safetensors")

    let loaded = try Parameters(layout, contentsOf: "reverser.safetensors")
    let answers = test.map { question in
      let tape = Tape(recording: false)
      let (_, thought) = encoder(PaddedBatch([question]), embedding: digits, parameters: loaded, on: tape)
      return BeamSearch(width: 1, maxLength: 6, stop: stop, includesStop: false)(
        prime: [go], state: thought.map { $0.values(on: tape) }
      ) { tokens, time, batch, state in
        let (y, final) = decoder(
          tokens, time: time, batch: batch, embedding: digits, state: state.map { StateVariables($0, on: tape) },
          parameters: loaded, on: tape)
        return (tape[output(y, parameters: loaded, on: tape)], final.map { $0.values(on: tape) })
      }[0].tokens
    }
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
