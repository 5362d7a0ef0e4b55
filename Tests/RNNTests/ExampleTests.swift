import Foundation
@testable import Examples
import XCTest

@testable import RNN

/// The CI-sized (`quick`) versions of the addition and digit examples, seeded, with thresholds no
/// broken model reaches (chance: about 0% for sums, 10% for digits).
final class ExampleTests: XCTestCase {
  func testAdditionLearnsToAdd() {
    let result = Addition.run(ExampleSettings(seed: 1, quick: true)) { _ in }
    XCTAssertGreaterThanOrEqual(result.accuracy, 0.3, result.metric)
  }

  func testDigitRowsClassifiesHeldOutDigits() throws {
    let result = try DigitRows.run(ExampleSettings(seed: 1, quick: true, data: try scikitLearnDigits())) { _ in }
    XCTAssertGreaterThanOrEqual(result.accuracy, 0.75, result.metric)
  }

  func testDigitNamesSpellsHeldOutDigits() throws {
    let result = try DigitNames.run(ExampleSettings(seed: 1, quick: true, data: try scikitLearnDigits())) { _ in }
    XCTAssertGreaterThanOrEqual(result.accuracy, 0.75, result.metric)
  }

  /// scikit-learn's digits, or a skip saying how to install them (`.ci/run` does).
  private func scikitLearnDigits() throws -> [String] {
    do {
      return [try DigitImages.locateScikitLearnDigits()]
    } catch let error as ExampleError {
      throw XCTSkip(error.description)
    }
  }
}

final class ExampleCommandLineTests: CommandLineTestCase {
  func testExamplePrintsAccuracyAndTime() throws {
    let result = try rnnSucceeding(["example", "addition", "--quick", "--steps", "50", "--threads", "1"])
    let last = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
    XCTAssertTrue(last.hasPrefix("addition: exact-match accuracy on 300 held-out sums"), last)
    XCTAssertNotNil(last.range(of: #"\d+\.\d\d% in \d+s \(\d+\.\d s\)$"#, options: .regularExpression), last)
  }

  func testBadExampleData() throws {
    try assertCleanFailure(["example", "digit-rows", "--data", "missing.csv"], mentioning: ["missing.csv", "cannot read"])
    try write("letters.csv", "1,2,3\n4,x,0\n")
    try assertCleanFailure(["example", "digit-rows", "--data", "letters.csv"], mentioning: ["letters.csv:2", "\"x\""])
    try assertCleanFailure(["example", "digit-rows", "--data", "a", "b", "c"], mentioning: ["--data", "3 files"])
    try assertCleanFailure(["example", "nonsense"], mentioning: ["nonsense"])
    try assertCleanFailure(["example", "addition", "--steps", "0"], mentioning: ["--steps", "positive"])
  }
}
