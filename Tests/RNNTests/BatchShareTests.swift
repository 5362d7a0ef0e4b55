import XCTest

@testable import RNN

/// The pieces that let a rank train its share of a batch exactly as one process trains the whole
/// (no MPI needed): its rows of the batch, of the dropout masks, of the carried state and of scoring.
final class BatchShareTests: XCTestCase {
  /// A communicator of `size` ranks whose sums are never called (for argument checks).
  private final class Unconnected: Communicator {
    let rank = 0
    let size: Int
    init(size: Int) { self.size = size }
    func sum(_ buffer: UnsafeMutableBufferPointer<Float>) throws(DataParallelError) { XCTFail("sum called") }
    func sum(_ buffer: UnsafeMutableBufferPointer<Double>) throws(DataParallelError) { XCTFail("sum called") }
  }

  func testSharesPartitionTheBatchInRankOrder() throws {
    XCTAssertEqual((0..<4).map { BatchShare(rank: $0, of: 4, total: 8).streams }, [0..<2, 2..<4, 4..<6, 6..<8])
    XCTAssertEqual((0..<4).map { BatchShare(rank: $0, of: 4, total: 10).streams }, [0..<2, 2..<5, 5..<7, 7..<10])
    XCTAssertEqual((0..<3).map { BatchShare(rank: $0, of: 3, total: 2).streams }, [0..<0, 0..<1, 1..<2])
    XCTAssertTrue(BatchShare(whole: 5).isWhole)
    XCTAssertThrowsError(try DataParallel(Unconnected(size: 3), batchSize: 8)) {
      XCTAssertEqual($0 as? DataParallelError, .indivisibleBatch(batchSize: 8, ranks: 3))
    }
    XCTAssertEqual(try DataParallel(Unconnected(size: 4), batchSize: 8).equalShares.counts, [2, 2, 2, 2])
  }

  func testAShareOfABatchIsItsColumns() throws {
    let batches = try BatchIterator(tokens: (0..<200).map { Int32($0 % 37) }, batchSize: 6, seqLength: 4)
    let whole = batches.batch(3)
    let share = batches.batch(3, streams: 2..<5)
    for t in 0..<4 {
      XCTAssertEqual(Array(share.inputs[t * 3..<t * 3 + 3]), Array(whole.inputs[t * 6 + 2..<t * 6 + 5]))
      XCTAssertEqual(Array(share.targets[t * 3..<t * 3 + 3]), Array(whole.targets[t * 6 + 2..<t * 6 + 5]))
    }
  }

  func testAShareGetsItsRowsOfTheWholeBatchsDropoutMask() throws {
    let (t, b, h) = (3, 4, 5)
    let ones = Tensor(shape: [t, b, h], repeating: 1)
    var wholeGenerator = RandomGenerator(seed: 11)
    let tape = Tape(recording: false)
    let whole = tape[tape.dropout(tape.input(ones), probability: 0.5, using: &wholeGenerator)]
    // Shares of 2, 1 and (unequal, 1 or 2) rows.
    for share in [2, 4, 3].flatMap({ n in (0..<n).map { BatchShare(rank: $0, of: n, total: b) } }) {
      let streams = share.streams
      var generator = RandomGenerator(seed: 11)
      let x = Tensor(shape: [t, streams.count, h], repeating: 1)
      let rows = tape[tape.dropout(tape.input(x), probability: 0.5, using: &generator, share: share)]
      for step in 0..<t {
        for (row, stream) in streams.enumerated() {
          XCTAssertEqual(
            Array(rows.scalars[(step * streams.count + row) * h..<(step * streams.count + row + 1) * h]),
            Array(whole.scalars[(step * b + stream) * h..<(step * b + stream + 1) * h]),
            "step \(step), stream \(stream)")
        }
      }
      XCTAssertEqual(generator, wholeGenerator, "the generator advances as for the whole batch")
    }
    let dropped = whole.scalars.filter { $0 == 0 }.count
    XCTAssert((10..<50).contains(dropped), "\(dropped) of 60 dropped at p = 0.5")
  }

  func testScoringSharesOfTheStreamsSumsToTheWhole() throws {
    var generator = RandomGenerator(seed: 4)
    let model = CharLM(
      CharLMConfig(cell: .lstm, layers: 2, hidden: 16, embedding: 8, vocabularySize: 11), using: &generator)
    let tokens = (0..<400).map { _ in Int32(generator.next() % 11) }
    let whole = model.loss(of: tokens, batch: 5, chunk: 7)
    let parts = [0..<2, 2..<3, 3..<3, 3..<5].map { model.loss(of: tokens, batch: 5, chunk: 7, streams: $0) }
    XCTAssertEqual(parts.map(\.count).reduce(0, +), whole.count)
    XCTAssertEqual(parts.map(\.nats).reduce(0, +), whole.nats, accuracy: 1e-4 * whole.nats)
  }

  func testRowsOfACarriedState() {
    let state = RecurrentState(
      h: Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]), c: Tensor(shape: [3, 2], scalars: [7, 8, 9, 10, 11, 12]))
    XCTAssertEqual(
      state.rows(1..<3),
      RecurrentState(
        h: Tensor(shape: [2, 2], scalars: [3, 4, 5, 6]), c: Tensor(shape: [2, 2], scalars: [9, 10, 11, 12])))
  }
}
