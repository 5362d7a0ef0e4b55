import XCTest

@testable import RNN

/// `PaddedSequences`: feature vectors of different lengths laid out `[T,B,D]` with their lengths,
/// which recurrent layers read as they read `lengths:`.
final class PaddedSequencesTests: XCTestCase {
  func testSequencesArePaddedTimeMajor() {
    let a = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
    let b = Tensor(shape: [1, 2], scalars: [7, 8])
    let batch = PaddedSequences([a, b])
    XCTAssertEqual(batch.values, Tensor(shape: [3, 2, 2], scalars: [1, 2, 7, 8, 3, 4, 0, 0, 5, 6, 0, 0]))
    XCTAssertEqual(batch.lengths, [3, 1])
    XCTAssertEqual(batch.time, 3)
    XCTAssertEqual(batch.batch, 2)
    XCTAssertEqual(PaddedSequences(batch.values).lengths, [3, 3])
  }

  func testALayerReadsTheLengths() {
    var generator = RandomGenerator(seed: 5)
    let model = Model(using: &generator) { make in make.recurrent(.lstm, inputSize: 2, hiddenSize: 3) }
    let x = randomTensor([4, 2, 2], &generator)
    let tape = Tape(recording: false)
    let (y, final) = model.layers(PaddedSequences(x, lengths: [4, 2]), on: tape)
    let (yByHand, finalByHand) = model.layers(tape.input(x), lengths: [4, 2], on: tape)
    XCTAssertEqual(tape[y], tape[yByHand])
    XCTAssertEqual(tape[final[0].h], tape[finalByHand[0].h])
  }
}
