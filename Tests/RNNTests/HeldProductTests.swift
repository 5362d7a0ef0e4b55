import XCTest

@testable import RNN

/// fp32 products of few rows against a held weight (`BLAS.holdConstant`): a training step's time
/// loops multiply by each `W_hh` at every step, and on a CPU with AVX-512 those products run on
/// `gemm_packed.c`'s kernel from a copy packed once per hold.
final class HeldProductTests: XCTestCase {
  override func setUpWithError() throws {
    try super.setUpWithError()
    XCTAssertEqual(BLAS.productPrecision, .fp32)
    let probe = [Float](repeating: 0, count: 4)
    let packs = probe.withUnsafeBufferPointer { probe in
      BLAS.holdConstant(probe.baseAddress!, count: 4)
      defer { BLAS.releaseConstant(probe.baseAddress!) }
      return BLAS.packsHeld(probe.baseAddress!, count: 4, rows: 1)
    }
    guard packs else { throw XCTSkip("the packed fp32 kernel needs AVX-512") }
  }

  /// Shapes cut at every edge of the kernel (blocks of up to 9 rows, split evenly: 17 rows as
  /// 9 + 8, 19 as 7 + 6 + 6; 48-column panels of three 16-column parts; 256-deep slices of K),
  /// both layouts of the weight, `beta` 0 and 1, rows of A and C wider than the product: against
  /// exact sums, within fp32 accumulation; a second product reuses the packed copy and gives the
  /// same.
  func testFewRowsAgainstHeldWeight() {
    var generator = RandomGenerator(seed: 8)
    let shapes = [
      (1, 1, 1), (8, 48, 256), (9, 49, 257), (7, 17, 3), (25, 512, 128), (16, 100, 600), (17, 48, 256), (19, 97, 30),
      (128, 33, 40),
    ]
    for (m, n, k) in shapes {
      for transB in [false, true] {
        let (lda, ldb, ldc) = (k + 2, (transB ? k : n) + 3, n + 1)
        let a = (0..<m * lda).map { _ in generator.uniform(-1, 1) }
        let b = (0..<(transB ? n : k) * ldb).map { _ in generator.uniform(-1, 1) }
        let c0 = (0..<m * ldc).map { _ in generator.uniform(-1, 1) }
        for beta: Float in [0, 1] {
          var (c, again) = (c0, c0)
          b.withUnsafeBufferPointer { b in
            BLAS.holdConstant(b.baseAddress!, count: b.count)
            XCTAssertTrue(BLAS.packsHeld(b.baseAddress!, count: b.count, rows: m))
            XCTAssertFalse(BLAS.packsHeld(b.baseAddress!, count: b.count, rows: 129), "more rows than the kernel takes")
            BLAS.gemm(false, transB, m, n, k, a, lda: lda, b.baseAddress!, ldb: ldb, beta: beta, &c, ldc: ldc)
            BLAS.gemm(false, transB, m, n, k, a, lda: lda, b.baseAddress!, ldb: ldb, beta: beta, &again, ldc: ldc)
            BLAS.releaseConstant(b.baseAddress!)
            XCTAssertFalse(BLAS.packsHeld(b.baseAddress!, count: b.count, rows: m), "released")
          }
          let shape = "[\(m), \(n), \(k)] transB \(transB) beta \(beta)"
          XCTAssertEqual(again, c, "\(shape): the packed copy reused")
          for i in 0..<m {
            for j in 0..<n {
              var exact = Double(beta * c0[i * ldc + j])
              var magnitude = abs(exact)
              for p in 0..<k {
                let product = Double(a[i * lda + p]) * Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                exact += product
                magnitude += abs(product)
              }
              let bound = Double(k + 2) * 0x1p-24 * magnitude
              XCTAssertLessThanOrEqual(abs(Double(c[i * ldc + j]) - exact), bound, "\(shape) at [\(i), \(j)]")
            }
            XCTAssertEqual(c[i * ldc + n], c0[i * ldc + n], "\(shape): row \(i)'s padding untouched")
          }
        }
      }
    }
  }

  /// A row's result does not depend on how many rows share its product: data-parallel ranks,
  /// each with its share of the batch, then compute what one process computes.
  func testRowResultIndependentOfRowCount() {
    var generator = RandomGenerator(seed: 9)
    let (m, n, k) = (21, 150, 300)
    let a = (0..<m * k).map { _ in generator.uniform(-1, 1) }
    let b = (0..<n * k).map { _ in generator.uniform(-1, 1) }
    var (all, part) = ([Float](repeating: 0, count: m * n), [Float](repeating: 0, count: 5 * n))
    b.withUnsafeBufferPointer { b in
      BLAS.holdConstant(b.baseAddress!, count: b.count)
      BLAS.gemm(false, true, m, n, k, a, b.baseAddress!, beta: 0, &all)
      a.withUnsafeBufferPointer { a in
        BLAS.gemm(false, true, 5, n, k, a.baseAddress! + 11 * k, b.baseAddress!, beta: 0, &part)
      }
      BLAS.releaseConstant(b.baseAddress!)
    }
    XCTAssertEqual(Array(all[11 * n..<16 * n]), part)
  }

  /// A weight held again at the same address after it changed is packed again: the next
  /// training step's products read the updated weight.
  func testUpdatedWeightIsPackedAgain() {
    var b: [Float] = [1, 0, 0, 1]  // identity [2, 2]
    let a: [Float] = [1, 2, 3, 4]
    var c = [Float](repeating: 0, count: 4)
    b.withUnsafeMutableBufferPointer { b in
      for scale: Float in [1, 3] {
        b[0] = scale
        b[3] = scale
        BLAS.holdConstant(b.baseAddress!, count: 4)
        BLAS.gemm(false, false, 2, 2, 2, a, b.baseAddress!, beta: 0, &c)
        BLAS.releaseConstant(b.baseAddress!)
        XCTAssertEqual(c, a.map { $0 * scale }, "held with scale \(scale)")
      }
    }
  }
}
