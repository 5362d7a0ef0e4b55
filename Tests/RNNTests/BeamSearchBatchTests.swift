import XCTest

@testable import RNN
@testable import RNNCore

/// `BeamSearch` over a whole batch: every row keeps its own beams, and its hypotheses are those
/// of decoding that row alone.
final class BeamSearchBatchTests: XCTestCase {
  func testEachRowDecodesAsItWouldAlone() {
    var generator = RandomGenerator(seed: 21)
    let model = Model(using: &generator) { make in
      (symbols: make.embedding(vocabularySize: 7, size: 5), decoder: make.recurrent(.lstm, inputSize: 5, hiddenSize: 12, layers: 2),
       output: make.linear(inputSize: 12, outputSize: 7))
    }
    let rows = 5
    let states = model.decoder.layers.map { _ in
      RecurrentState(h: randomTensor([rows, 12], &generator), c: randomTensor([rows, 12], &generator))
    }
    func step(_ tokens: PaddedBatch, _ state: [StateVariables], _ tape: Tape) -> (logits: Variable, state: [StateVariables]) {
      let (y, final) = model.decoder(tokens, embedding: model.symbols, state: state, on: tape)
      return (model.output(y, on: tape), final)
    }
    for search in [
      BeamSearch(width: 3, maxLength: 6, stop: 0), BeamSearch(width: 1, maxLength: 4, stop: 0, includesStop: false),
      BeamSearch(width: 4, maxLength: 5, lengthNormalization: .gnmt(alpha: 0.8)),
    ] {
      let batch = search(prime: [6, 2], rows: states, step: step)
      XCTAssertEqual(batch.count, rows)
      for row in 0..<rows {
        let alone = search(prime: [6, 2], state: states.map { $0.rows([row]) }, step: step)
        XCTAssertEqual(batch[row].map(\.tokens), alone.map(\.tokens), "row \(row) of \(search)")
        for (a, b) in zip(batch[row], alone) {
          XCTAssertEqual(a.logProbability, b.logProbability, accuracy: 1e-4)
          XCTAssertEqual(a.isStopped, b.isStopped)
        }
      }
    }
  }

  func testRowsStoppingAtDifferentStepsLeaveTheOthersRunning() {
    // A model whose row 0 always favours stop and row 1 never does: row 0's best stops at once,
    // row 1's runs to the maximum length.
    let v = 3
    let search = BeamSearch(width: 2, maxLength: 5, stop: 0)
    let result = search(prime: [1], rows: [RecurrentState(h: Tensor(shape: [2, 1], scalars: [1, -1]))]) {
      tokens, state, tape in
      let h = tape[state[0].h]
      let logits = Tensor(shape: [tokens.time, tokens.batch, v]) { out in
        for n in 0..<tokens.time * tokens.batch {
          let says = h.scalars[n % tokens.batch]
          for j in 0..<v { out[n * v + j] = j == 0 ? 5 * says : Float(j) }
        }
      }
      return (tape.input(logits), state)
    }
    XCTAssertEqual(result[0][0].tokens, [0])
    XCTAssertTrue(result[0][0].isStopped)
    XCTAssertEqual(result[1][0].tokens, [2, 2, 2, 2, 2])
    XCTAssertFalse(result[1][0].isStopped)
  }
}

extension RecurrentState {
  /// The state of the batch rows `rows`.
  fileprivate func rows(_ rows: [Int]) -> RecurrentState { BeamSearch.gather([self], rows: rows)[0] }
}
