import XCTest

@testable import RNN

/// `Minibatches`: every index once per epoch, in an order that changes from epoch to epoch.
final class MinibatchesTests: XCTestCase {
  func testEachEpochDrawsEveryIndexOnce() {
    var generator = RandomGenerator(seed: 2)
    var batches = Minibatches(count: 10, size: 3)
    let epochs = (0..<2).map { _ in (0..<3).flatMap { _ in batches.next(using: &generator) } }
    for epoch in epochs {
      XCTAssertEqual(epoch.count, 9)  // the partial last batch is dropped
      XCTAssertEqual(Set(epoch).count, 9)
      XCTAssertTrue(epoch.allSatisfy { (0..<10).contains($0) })
    }
    XCTAssertNotEqual(epochs[0], epochs[1])
  }
}
