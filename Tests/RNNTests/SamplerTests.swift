import CKernels
import XCTest

@testable import RNN
@testable import RNNCore

/// The batch-1 step model used for sampling (transposed weights, per-character table, hidden
/// units split over two threads) against the sequence model on the tape.
final class SamplerTests: XCTestCase {
  func testStepModelMatchesSequenceModelForEveryCell() throws {
    for cell in CellKind.allCases {
      // H = 80 splits unevenly (48 + 32 units) when two threads are available.
      checkStepModel(CharLMConfig(cell: cell, layers: 2, hidden: 80, embedding: 12, vocabularySize: 20))
    }
  }

  /// Weights over 1 MiB live in huge-page memory; V = 40 splits the decoder 32 + 8 (padded to 16).
  func testLargeStepModelMatchesSequenceModel() {
    checkStepModel(CharLMConfig(cell: .lstm, layers: 2, hidden: 256, embedding: 16, vocabularySize: 40))
  }

  private func checkStepModel(_ config: CharLMConfig, line: UInt = #line) {
    let (cell, v) = (config.cell, config.vocabularySize)
    var generator = RandomGenerator(seed: 7)
    let model = CharLM(config, using: &generator)
    let tokens = (0..<30).map { _ in Int32(generator.next() % UInt64(v)) }

    let tape = Tape(recording: false)
    let (logits, final) = model(
      tokens, time: tokens.count, batch: 1, state: model.zeroState(batch: 1).map { StateVariables($0, on: tape) },
      on: tape)
    let sequence = tape[logits]

    for threads in [1, 2] {
      let step = StepModel(model, threads: threads)
      for (t, token) in tokens.enumerated() {
        step.step(token)
        let expected = Tensor(shape: [v], scalars: Array(sequence.scalars[t * v..<(t + 1) * v]))
        assertClose(
          Tensor(shape: [v], scalars: Array(step.logits)), expected, relative: 1e-5, absolute: 1e-5,
          "\(cell) threads \(threads) step \(t)", line: line)
      }
      for (l, state) in step.state.enumerated() {
        assertClose(state.h, tape[final[l].h], relative: 1e-5, absolute: 1e-6, "\(cell) h_l\(l)", line: line)
        if let c = state.c {
          assertClose(c, tape[final[l].c!], relative: 1e-5, absolute: 1e-6, "\(cell) c_l\(l)", line: line)
        }
      }
    }
  }

  func testArgmaxAndTopKChoices() {
    var generator = RandomGenerator(seed: 1)
    let logits: [Float] = [0.1, 3, -1, 2.5]
    XCTAssertEqual(Sampler.choose(from: logits, SamplingOptions(argmax: true), using: &generator), 1)
    for _ in 0..<200 {
      let token = Sampler.choose(from: logits, SamplingOptions(topK: 2), using: &generator)
      XCTAssertTrue(token == 1 || token == 3, "top-2 sampled \(token)")
    }
    // A very low temperature is nearly argmax.
    for _ in 0..<50 {
      XCTAssertEqual(Sampler.choose(from: logits, SamplingOptions(temperature: 0.01), using: &generator), 1)
    }
  }

  /// The in-place top-k keeps exactly what ranking all values keeps, ties included.
  func testKeepTopKMatchesRanking() {
    var generator = RandomGenerator(seed: 5)
    for v in [1, 2, 7, 65, 200] {
      // Few distinct values, so that ties are common.
      let p = (0..<v).map { _ in Float(generator.next() % 9) / 8 }
      for k in 1...v + 1 {
        var kept = p
        var order = [Int32](repeating: 0, count: v)
        rnn_keep_top_k(v, &kept, k, &order)
        let expected = Set(p.withUnsafeBufferPointer { Sampler.mostProbable($0, k) })
        XCTAssertEqual(kept, p.indices.map { expected.contains($0) ? p[$0] : 0 }, "V \(v) k \(k)")
      }
    }
  }
}
