import XCTest

@testable import RNN

final class BatchesTests: XCTestCase {
  func testExactTimeMajorLayout() throws {
    // 23 tokens, B = 2: streamLength = (23 - 1) / 2 = 11, T = 3: 3 batches; token 22 is unused.
    let tokens = (0..<23).map { Int32($0) }
    let batches = try BatchIterator(tokens: tokens, batchSize: 2, seqLength: 3)
    XCTAssertEqual(batches.streamLength, 11)
    XCTAssertEqual(batches.batchesPerEpoch, 3)

    // Stream 0 is tokens 0...10 (+ target 11), stream 1 is tokens 11...21 (+ target 22).
    // Element t * B + b: [t0: b0, b1, t1: b0, b1, t2: b0, b1].
    let first = batches.batch(0)
    XCTAssertEqual(first.inputs, [0, 11, 1, 12, 2, 13])
    XCTAssertEqual(first.targets, [1, 12, 2, 13, 3, 14])
    let last = batches.batch(2)
    XCTAssertEqual(last.inputs, [6, 17, 7, 18, 8, 19])
    XCTAssertEqual(last.targets, [7, 18, 8, 19, 9, 20])
  }

  func testRowsContinueFromBatchToBatch() throws {
    let tokens = (0..<1000).map { Int32(($0 * 7919) % 251) }
    let (b, t) = (4, 5)
    let batches = try BatchIterator(tokens: tokens, batchSize: b, seqLength: t)
    XCTAssertEqual(batches.batchesPerEpoch, (999 / b) / t)
    var rows = [[Int32]](repeating: [], count: b)
    for k in 0..<batches.batchesPerEpoch {
      let (inputs, targets) = batches.batch(k)
      XCTAssertEqual(inputs.count, t * b)
      for row in 0..<b {
        let rowInputs = (0..<t).map { inputs[$0 * b + row] }
        let rowTargets = (0..<t).map { targets[$0 * b + row] }
        // The targets are the inputs shifted by one step, and the first input of the next batch
        // is the last target of this one: the hidden state of row b can carry over.
        XCTAssertEqual(Array(rowInputs.dropFirst()), Array(rowTargets.dropLast()))
        if k + 1 < batches.batchesPerEpoch {
          XCTAssertEqual(batches.batch(k + 1).inputs[row], rowTargets.last)
        }
        rows[row] += rowInputs
      }
    }
    // Each row read over the epoch is one contiguous stretch of the text.
    for row in 0..<b {
      let start = row * batches.streamLength
      XCTAssertEqual(rows[row], Array(tokens[start..<(start + batches.batchesPerEpoch * t)]))
    }
  }

  func testSliceWithNonZeroStartIndex() throws {
    let tokens = (0..<100).map { Int32($0) }
    let batches = try BatchIterator(tokens: tokens[50..<61], batchSize: 2, seqLength: 5)
    XCTAssertEqual(batches.batchesPerEpoch, 1)
    XCTAssertEqual(batches.batch(0).inputs, [50, 55, 51, 56, 52, 57, 53, 58, 54, 59])
    XCTAssertEqual(batches.batch(0).targets, [51, 56, 52, 57, 53, 58, 54, 59, 55, 60])
  }

  func testTooShortSaysHowManyCharactersAreNeeded() throws {
    let tokens = [Int32](repeating: 1, count: 20)
    XCTAssertThrowsError(try BatchIterator(tokens: tokens, batchSize: 4, seqLength: 5)) { error in
      XCTAssertEqual(error as? BatchError, .tooShort(needed: 21, available: 20, batchSize: 4, seqLength: 5))
      let message = "\(error)"
      XCTAssertTrue(message.contains("21") && message.contains("20"), message)
    }
    // Exactly B * T + 1 tokens make one batch.
    let exact = try BatchIterator(tokens: tokens + [2], batchSize: 4, seqLength: 5)
    XCTAssertEqual(exact.batchesPerEpoch, 1)
    XCTAssertEqual(exact.batch(0).targets.last, 2)
  }
}
