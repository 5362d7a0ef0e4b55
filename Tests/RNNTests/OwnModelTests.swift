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

  func testReadmeShowsIt() throws {
    let readme = try String(
      contentsOfFile: #filePath.replacingOccurrences(of: "Tests/RNNTests/OwnModelTests.swift", with: "README.md"),
      encoding: .utf8)
    let snippets = try readmeSnippets(in: #filePath)
    XCTAssertEqual(snippets.count, 1)
    for (name, code) in snippets { XCTAssertTrue(readme.contains(code), "README.md lacks the \(name) snippet:\n\(code)") }
  }
}
