import XCTest

@testable import RNN

/// How the ranks of a data-parallel run divide a batch's streams by their speeds.
final class StreamBalanceTests: XCTestCase {
  /// Records `steps` steps in which rank `r` takes `secondsPerStream[r]` per stream of its share.
  private func record(_ balance: inout StreamBalance, _ secondsPerStream: [Double], steps: Int) -> [Bool] {
    (0..<steps).map { _ in
      balance.record(zip(balance.counts, secondsPerStream).map { Double($0) * $1 })
    }
  }

  private func assertPartition(_ balance: StreamBalance, total: Int, file: StaticString = #filePath, line: UInt = #line)
  {
    XCTAssertEqual(balance.total, total, file: file, line: line)
    XCTAssertTrue(balance.counts.allSatisfy { $0 >= 1 }, "\(balance.counts)", file: file, line: line)
    let shares = balance.counts.indices.map { balance.share(of: $0) }
    XCTAssertEqual(shares.first?.streams.lowerBound, 0, file: file, line: line)
    XCTAssertEqual(shares.last?.streams.upperBound, total, file: file, line: line)
    for (a, b) in zip(shares, shares.dropFirst()) {
      XCTAssertEqual(a.streams.upperBound, b.streams.lowerBound, "shares in rank order", file: file, line: line)
    }
    XCTAssertTrue(shares.allSatisfy { $0.total == total }, file: file, line: line)
  }

  func testSharesStartEqual() {
    let balance = StreamBalance(ranks: 4, total: 32)
    XCTAssertEqual(balance.counts, [8, 8, 8, 8])
    XCTAssertEqual(balance.share(of: 2), BatchShare(rank: 2, of: 4, total: 32))
    assertPartition(balance, total: 32)
  }

  func testEqualSpeedsMoveNothing() {
    var balance = StreamBalance(ranks: 2, total: 32)
    // Within the threshold: a rank 1% slower keeps its streams.
    XCTAssertEqual(record(&balance, [0.010, 0.0101], steps: 20), Array(repeating: false, count: 20))
    XCTAssertEqual(balance.counts, [16, 16])
  }

  func testASlowerRankGetsFewerStreamsSoTheRanksFinishTogether() {
    var balance = StreamBalance(ranks: 2, total: 32)
    // Rank 1 takes 1.5 times as long per stream: 19 and 13 streams take 0.19 s and 0.195 s.
    XCTAssertEqual(record(&balance, [0.010, 0.015], steps: 1), [true])
    _ = record(&balance, [0.010, 0.015], steps: 10)
    XCTAssertEqual(balance.counts, [19, 13])
    assertPartition(balance, total: 32)
    // The other way round, once rank 0 slows down: after a few steps of the new speeds.
    let moves = record(&balance, [0.015, 0.010], steps: 10)
    XCTAssertEqual(balance.counts, [13, 19])
    XCTAssertLessThanOrEqual(moves.filter { $0 }.count, 3, "\(moves)")
  }

  func testOneStepsJitterIsSmoothed() {
    var balance = StreamBalance(ranks: 2, total: 32)
    _ = record(&balance, [0.010, 0.010], steps: 5)
    // One step in which rank 0 took twice as long moves fewer streams than a lasting change would.
    _ = record(&balance, [0.020, 0.010], steps: 1)
    XCTAssertGreaterThan(balance.counts[0], 11, "\(balance.counts)")
    _ = record(&balance, [0.010, 0.010], steps: 10)
    XCTAssertEqual(balance.counts, [16, 16])
  }

  func testEveryRankKeepsAStreamHoweverSlow() {
    var balance = StreamBalance(ranks: 4, total: 8)
    _ = record(&balance, [0.001, 1.0, 1.0, 0.001], steps: 10)
    XCTAssertEqual(balance.counts, [3, 1, 1, 3])
    assertPartition(balance, total: 8)
  }

  func testFastestCountsMinimiseTheSlowestRank() {
    // Against every way to split 12 streams among three ranks of these speeds.
    let rates = [0.7, 1.3, 1.0]
    let best = StreamBalance.fastest(total: 12, secondsPerStream: rates)
    func slowest(_ counts: [Int]) -> Double { zip(counts, rates).map { Double($0) * $1 }.max()! }
    var optimum = Double.infinity
    for a in 1...10 {
      for b in 1...(11 - a) { optimum = min(optimum, slowest([a, b, 12 - a - b])) }
    }
    XCTAssertEqual(best.reduce(0, +), 12)
    XCTAssertEqual(slowest(best), optimum)
    XCTAssertEqual(best, [5, 3, 4])
  }

  func testFastestCountsAreTheStreamByStreamOnes() {
    // Against placing every stream one by one, from one each: equal speeds (ties), one rank far
    // slower or faster than the rest, and random speeds, for few and many ranks.
    func oneByOne(_ total: Int, _ rates: [Double]) -> [Int] {
      var counts = Array(repeating: 1, count: rates.count)
      for _ in rates.count..<total {
        let next = counts.indices.min { Double(counts[$0] + 1) * rates[$0] < Double(counts[$1] + 1) * rates[$1] }!
        counts[next] += 1
      }
      return counts
    }
    var generator = RandomGenerator(seed: 12)
    var cases: [(Int, [Double])] = [
      (32, [0.01, 0.01]), (12, [1, 1, 1]), (8, [1, 1000, 1000, 1000]), (8, [1000, 1, 1, 1]), (5, [3, 3, 3, 3, 3]),
      (4096, [0.5, 0.25, 1e-6, 2]),
    ]
    for _ in 0..<300 {
      let ranks = 1 + Int(generator.next() % 40)
      let total = ranks * (1 + Int(generator.next() % 20))
      cases.append((total, (0..<ranks).map { _ in pow(10, Double(generator.next() % 4000) / 1000 - 2) }))
    }
    for (total, rates) in cases {
      XCTAssertEqual(
        StreamBalance.fastest(total: total, secondsPerStream: rates), oneByOne(total, rates), "\(total), \(rates)")
    }
  }

  func testRanksRecordingTheSameTimesDecideAlike() {
    var a = StreamBalance(ranks: 3, total: 24)
    var b = a
    var generator = RandomGenerator(seed: 9)
    for _ in 0..<50 {
      let seconds = (0..<3).map { _ in Double(generator.next() % 1000) / 1000 + 0.1 }
      XCTAssertEqual(a.record(seconds), b.record(seconds))
      XCTAssertEqual(a, b)
      assertPartition(a, total: 24)
    }
  }
}
