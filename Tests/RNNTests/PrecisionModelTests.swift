import CKernels
import XCTest

@testable import RNN
@testable import RNNCore

/// The step model (sampling) with its weights in bf16 and int8, against fp32, with bounds
/// derived from the rounding.
final class PrecisionModelTests: XCTestCase {
  /// H = 80 splits unevenly over two threads (48 + 32 units); V = 40 splits the decoder 32 + 8.
  private func model(_ cell: CellKind, layers: Int = 2, seed: UInt64 = 5) -> CharLM {
    var generator = RandomGenerator(seed: seed)
    return CharLM(
      CharLMConfig(cell: cell, layers: layers, hidden: 80, embedding: 12, vocabularySize: 40), using: &generator)
  }

  private func tokens(_ count: Int, seed: UInt64 = 9) -> [Int32] {
    var generator = RandomGenerator(seed: seed)
    return (0..<count).map { _ in Int32(generator.next() % 40) }
  }

  /// bf16's portable kernel rounds exactly the weights of the products it runs (W_hh, W_ih after
  /// layer 0, the decoder) and nothing else, so it computes what fp32 computes with those weights
  /// rounded. (The AVX512-BF16 kernel rounds each product's input too: `PrecisionKernelTests`
  /// checks it product by product, `testStepLossAtEachPrecision` the model it makes.)
  func testBF16IsFP32WithTheProductWeightsRounded() {
    rnn_packed_portable_only(1)
    defer { rnn_packed_portable_only(0) }
    for cell in CellKind.allCases {
      let original = model(cell)
      let rounded = CharLM(original.config)
      rounded.parameters.values.baseAddress!.update(
        from: original.parameters.values.baseAddress!, count: original.parameters.count)
      var matrices = [rounded.decoder.weight]
      for (l, layer) in rounded.layers.enumerated() {
        matrices += l == 0 ? [layer.weightHH] : [layer.weightIH, layer.weightHH]
      }
      for ref in matrices {
        let values = rounded.parameters.value(ref)
        for i in 0..<ref.count { values[i] = rnn_round_bf16(values[i]) }
      }
      for threads in [1, 2] {
        let bf16 = StepModel(original, threads: threads, precision: .bf16)
        let reference = StepModel(rounded, threads: threads)
        for (t, token) in tokens(25).enumerated() {
          bf16.step(token)
          reference.step(token)
          assertClose(
            Tensor(shape: [40], scalars: Array(bf16.logits)), Tensor(shape: [40], scalars: Array(reference.logits)),
            relative: 1e-5, absolute: 1e-5, "\(cell) threads \(threads) step \(t)")
        }
      }
    }
  }

  /// One character from the zero state through one layer: the layer's products are exact (layer
  /// 0's input projection is an fp32 table, h_0 = 0), so h is fp32's and the logits differ only by
  /// the decoder product's rounding: |dy_j| <= sx/2 sum_k (|W_jk| + s_j/2) + s_j/2 sum_k |h_k|.
  func testInt8FirstStepWithinTheDecoderBound() {
    for cell in CellKind.allCases {
      let charLM = model(cell, layers: 1)
      let decoder = charLM.parameters.value(charLM.decoder.weight)  // [V, H]
      for threads in [1, 2] {
        let (int8, fp32) = (StepModel(charLM, threads: threads, precision: .int8), StepModel(charLM, threads: threads))
        int8.step(7)
        fp32.step(7)
        let h = fp32.state[0].h.scalars
        XCTAssertEqual(int8.state[0].h.scalars, h, "\(cell): layer 0 is exact on the first step")
        let sx = Double(h.map(abs).max()!) / 127
        let sumH = h.reduce(0) { $0 + abs(Double($1)) }
        for j in 0..<40 {
          let row = (0..<80).map { abs(Double(decoder[j * 80 + $0])) }
          let s = row.max()! / 127
          let bound = sx / 2 * (row.reduce(0, +) + 80 * s / 2) + s / 2 * sumH + 1e-5 * abs(Double(fp32.logits[j]))
          XCTAssertLessThanOrEqual(
            abs(Double(int8.logits[j] - fp32.logits[j])), bound, "\(cell) threads \(threads) class \(j)")
        }
      }
    }
  }

  /// Over many steps the rounding compounds through the recurrence; a randomly initialised model
  /// (weights ~ U(-1/sqrt(H), 1/sqrt(H))) stays close: the loss over 200 characters within 1%
  /// (int8) and 0.3% (bf16) of fp32's, the targets `rnn eval --precision` is held to.
  func testStepLossAtEachPrecision() {
    let text = tokens(200, seed: 11)
    for cell in CellKind.allCases {
      let charLM = model(cell)
      let sequence = charLM.loss(of: text, batch: 1, chunk: 64)
      let fp32 = charLM.stepLoss(of: text, precision: .fp32)
      XCTAssertEqual(fp32.count, sequence.count)
      XCTAssertEqual(fp32.nats, sequence.nats, accuracy: 1e-4 * sequence.nats, "\(cell): step vs sequence model")
      for (precision, tolerance) in [(Precision.bf16, 0.003), (.int8, 0.01)] {
        let loss = charLM.stepLoss(of: text, precision: precision)
        XCTAssertEqual(loss.count, fp32.count)
        XCTAssertEqual(loss.nats, fp32.nats, accuracy: tolerance * fp32.nats, "\(cell) \(precision)")
        XCTAssertNotEqual(loss.nats, fp32.nats, "\(cell) \(precision): the weights are rounded")
      }
    }
  }
}
