import XCTest

@testable import RNN

final class PaddedBatchTests: XCTestCase {
  func testSequencesAreTimeMajorWithLengths() {
    let batch = PaddedBatch([[3, 1, 4], [1, 5], []], padding: -1)
    XCTAssertEqual(batch.tokens, [3, 1, -1, 1, 5, -1, 4, -1, -1])
    XCTAssertEqual(batch.lengths, [3, 2, 0])
    XCTAssertEqual([batch.time, batch.batch], [3, 3])
    XCTAssertEqual(PaddedBatch([]).time, 0)
  }
}
