import CKernels
import XCTest

@testable import RNN

/// Training's matrix products in bf16 (`BLAS.setProductPrecision(.bf16)`) against fp32.
final class BF16TrainingTests: XCTestCase {
  override func setUpWithError() throws {
    try super.setUpWithError()
    guard BLAS.setProductPrecision(.bf16) == .bf16 else { throw XCTSkip("no bf16 products here: \(BLAS.bf16Kernel)") }
  }

  override func tearDown() {
    BLAS.setProductPrecision(.fp32)
    super.tearDown()
  }

  /// C = alpha op(A) op(B) + beta C for every transpose, with row strides wider than the rows:
  /// both operands rounded to bf16 (each by at most 2^-8 of itself), so each product a b moves by
  /// at most (2^-7 + 2^-16) |a b|, plus fp32 accumulation. An operand read from a held bf16 copy
  /// gives exactly what rounding it per product gives.
  func testProductWithinRoundingBound() {
    let (m, n, k, alpha, beta): (Int, Int, Int, Float, Float) = (37, 53, 70, 0.5, 1)
    var generator = RandomGenerator(seed: 12)
    for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
      let (aRows, aCols) = transA ? (k, m) : (m, k)
      let (bRows, bCols) = transB ? (n, k) : (k, n)
      let (lda, ldb) = (aCols + 3, bCols + 5)
      let a = (0..<aRows * lda).map { _ in generator.uniform(-1, 1) }
      let b = (0..<bRows * ldb).map { _ in generator.uniform(-1, 1) }
      let c0 = (0..<m * n).map { _ in generator.uniform(-1, 1) }
      func opA(_ i: Int, _ p: Int) -> Double { Double(transA ? a[p * lda + i] : a[i * lda + p]) }
      func opB(_ p: Int, _ j: Int) -> Double { Double(transB ? b[j * ldb + p] : b[p * ldb + j]) }
      var c = c0
      BLAS.gemm(transA, transB, m, n, k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, &c)
      for i in 0..<m {
        for j in 0..<n {
          var exact = Double(beta * c0[i * n + j])
          var magnitude = abs(exact)
          for p in 0..<k {
            exact += Double(alpha) * opA(i, p) * opB(p, j)
            magnitude += abs(Double(alpha) * opA(i, p) * opB(p, j))
          }
          let bound = (0x1p-7 + 0x1p-16) * magnitude + Double(k + 2) * 0x1p-24 * magnitude
          XCTAssertLessThanOrEqual(abs(Double(c[i * n + j]) - exact), bound, "\(transA) \(transB) [\(i), \(j)]")
        }
      }
      var held = c0
      a.withUnsafeBufferPointer { a in
        BLAS.holdConstant(a.baseAddress!, count: a.count)
        BLAS.gemm(transA, transB, m, n, k, alpha: alpha, a.baseAddress!, lda: lda, b, ldb: ldb, beta: beta, &held)
        BLAS.releaseConstant(a.baseAddress!)
      }
      XCTAssertEqual(held, c, "\(transA) \(transB): held copy")
    }
  }

  /// A time loop's products: few rows against a held weight (on a CPU with AMX, the tile kernel of
  /// `amx.c` from a copy packed once per hold), for shapes cut at every tile edge (16 rows, 32 of
  /// K, 16 and 64 columns), both layouts of the weight, `beta` 0 and 1, against the exact sums of
  /// the bf16-rounded operands within fp32 accumulation; a second product reuses the packed copy.
  func testFewRowsAgainstHeldWeight() {
    var generator = RandomGenerator(seed: 5)
    for (m, n, k) in [(1, 1, 1), (16, 64, 32), (13, 200, 77), (17, 33, 1), (40, 130, 96), (128, 64, 512)] {
      for transB in [false, true] {
        let ldb = (transB ? k : n) + 3
        let a = (0..<m * k).map { _ in generator.uniform(-1, 1) }
        let b = (0..<(transB ? n : k) * ldb).map { _ in generator.uniform(-1, 1) }
        let c0 = (0..<m * n).map { _ in generator.uniform(-1, 1) }
        for beta: Float in [0, 1] {
          var (c, again) = (c0, c0)
          b.withUnsafeBufferPointer { b in
            BLAS.holdConstant(b.baseAddress!, count: b.count)
            BLAS.gemm(false, transB, m, n, k, a, b.baseAddress!, ldb: ldb, beta: beta, &c)
            BLAS.gemm(false, transB, m, n, k, a, b.baseAddress!, ldb: ldb, beta: beta, &again)
            BLAS.releaseConstant(b.baseAddress!)
          }
          XCTAssertEqual(again, c, "[\(m), \(n), \(k)] transB \(transB) beta \(beta): the packed copy reused")
          for i in 0..<m {
            for j in 0..<n {
              var exact = Double(beta * c0[i * n + j])
              var magnitude = abs(exact)
              for p in 0..<k {
                let product =
                  Double(rnn_round_bf16(a[i * k + p])) * Double(rnn_round_bf16(transB ? b[j * ldb + p] : b[p * ldb + j]))
                exact += product
                magnitude += abs(product)
              }
              let bound = Double(k + 2) * 0x1p-24 * magnitude
              XCTAssertLessThanOrEqual(
                abs(Double(c[i * n + j]) - exact), bound, "[\(m), \(n), \(k)] transB \(transB) beta \(beta) at [\(i), \(j)]")
            }
          }
        }
      }
    }
  }

  /// While a buffer is held, products read its bf16 copy, made when the hold began: changing the
  /// buffer (which the contract forbids) shows which one they read. Released, they read it again.
  func testHeldBufferIsReadFromItsCopy() {
    var a: [Float] = [1, 2, 3, 4]  // [2, 2]
    let b: [Float] = [1, 0, 0, 1]  // identity
    var c = [Float](repeating: 0, count: 4)
    a.withUnsafeMutableBufferPointer { a in
      BLAS.holdConstant(a.baseAddress!, count: 4)
      a[0] = 10
      BLAS.gemm(false, false, 2, 2, 2, a.baseAddress!, b, beta: 0, &c)
      XCTAssertEqual(c, [1, 2, 3, 4], "the copy from the hold")
      BLAS.releaseConstant(a.baseAddress!)
      BLAS.gemm(false, false, 2, 2, 2, a.baseAddress!, b, beta: 0, &c)
      XCTAssertEqual(c, [10, 2, 3, 4], "released: the buffer itself")
    }
  }

  /// A 2 x 64 LSTM trained 40 steps from the same start on the same batches, in fp32 and with bf16
  /// products: the first loss (same weights) within 0.2% and its gradient norm within 2%; every
  /// later loss within 2% of fp32's. The master weights stay fp32 (not all representable in bf16).
  func testTrainingTracksFP32() throws {
    var generator = RandomGenerator(seed: 21)
    let config = CharLMConfig(cell: .lstm, layers: 2, hidden: 64, embedding: 16, vocabularySize: 30)
    let start = CharLM(config, using: &generator)
    // Text with structure to learn: a repeating pattern with noise.
    let tokens = (0..<20_000).map { i in generator.next() % 5 == 0 ? Int32(generator.next() % 30) : Int32(i % 17) }
    var trainConfig = TrainConfig()
    trainConfig.batchSize = 8
    trainConfig.seqLength = 25
    trainConfig.learningRate = 5e-3
    var reports: [BLAS.ProductPrecision: [Trainer.StepReport]] = [:]
    var finalModels: [BLAS.ProductPrecision: CharLM] = [:]
    for precision in BLAS.ProductPrecision.allCases {
      XCTAssertEqual(BLAS.setProductPrecision(precision), precision)
      let model = CharLM(config)
      model.parameters.values.baseAddress!.update(
        from: start.parameters.values.baseAddress!, count: start.parameters.count)
      let trainer = Trainer(
        model: model, batches: try BatchIterator(tokens: tokens, batchSize: 8, seqLength: 25), config: trainConfig)
      reports[precision] = try (0..<40).map { _ in try trainer.step() }
      finalModels[precision] = model
    }
    let (fp32, bf16) = (reports[.fp32]!, reports[.bf16]!)
    XCTAssertNotEqual(bf16[0].loss, fp32[0].loss, "bf16 products round")
    XCTAssertEqual(bf16[0].loss, fp32[0].loss, accuracy: 0.002 * fp32[0].loss)
    XCTAssertEqual(bf16[0].gradientNorm, fp32[0].gradientNorm, accuracy: 0.02 * fp32[0].gradientNorm)
    for step in 1..<40 {
      XCTAssertEqual(bf16[step].loss, fp32[step].loss, accuracy: 0.02 * fp32[step].loss, "step \(step + 1)")
    }
    XCTAssertLessThan(fp32[39].loss, 0.8 * fp32[0].loss, "the model learned")
    let weights = Array(finalModels[.bf16]!.parameters.values)
    XCTAssertTrue(weights.contains { rnn_round_bf16($0) != $0 }, "master weights stay fp32")
  }
}
