import CKernels
import XCTest

@testable import RNN
@testable import RNNCore

/// The bf16 and int8 products of `rnn_gemv_packed` against the fp32 product, with bounds derived
/// from the rounding: bf16 changes each weight by at most 2^-8 of itself (8 significant bits,
/// nearest); int8 changes W[k, j] by at most scale_j / 2 (scale_j = max_k |W[k, j]| / 127) and x_k
/// by at most sx / 2 (sx = max|x| / 127).
final class PrecisionKernelTests: XCTestCase {
  // K = 70 is not a multiple of 4 (int8 pads it); N = 200 packs as panels 128, 64 and 16 (8 real);
  // split in parts of 96 (64 + 32) and 104 (64 + 48, 40 real), every panel width is run.
  let (k, n) = (70, 200)

  /// y = x W through `rnn_gemv_packed` with W packed in `precision`, in parts split at `bounds`.
  private func product(_ precision: Precision, _ w: [Float], _ x: [Float], bounds: [Int]) -> [Float] {
    let kind = precision.kind
    let padded = (n + 15) / 16 * 16
    let bytes = rnn_packed_rows(kind, k) * padded * rnn_precision_bytes(kind)
    let panels = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    let scale = UnsafeMutablePointer<Float>.allocate(capacity: padded)
    let sum = UnsafeMutablePointer<Int32>.allocate(capacity: padded)
    var scratch = [UInt8](repeating: 0, count: rnn_packed_scratch_bytes(kind, k))
    defer {
      panels.deallocate()
      scale.deallocate()
      sum.deallocate()
    }
    var packed = rnn_packed(precision: kind, K: k, panels: panels, scale: scale, sum: sum)
    var y = [Float](repeating: 0, count: padded)
    w.withUnsafeBufferPointer { w in
      for part in 0..<bounds.count - 1 {
        rnn_pack_part(&packed, bounds[part], bounds[part + 1] - bounds[part], w.baseAddress! + bounds[part], n)
      }
    }
    for part in 0..<bounds.count - 1 {
      let first = bounds[part]
      y.withUnsafeMutableBufferPointer { y in
        rnn_gemv_packed(&packed, first, bounds[part + 1] - first, x, y.baseAddress! + first, &scratch)
      }
    }
    return Array(y[..<n])
  }

  private func randomProblem(seed: UInt64) -> (w: [Float], x: [Float]) {
    var generator = RandomGenerator(seed: seed)
    // Columns of different magnitudes, so that the per-column scales matter.
    let w = (0..<k * n).map { i in generator.uniform(-1, 1) * Float(1 + (i % n) % 7) }
    let x = (0..<k).map { _ in generator.uniform(-1, 1) }
    return (w, x)
  }

  func testBF16RoundsToNearestEven() {
    XCTAssertEqual(rnn_round_bf16(1 + 0x1p-8), 1, "a tie rounds to the even neighbour (down)")
    XCTAssertEqual(rnn_round_bf16(1 + 3 * 0x1p-8), 1 + 0x1p-6, "a tie rounds to the even neighbour (up)")
    XCTAssertEqual(rnn_round_bf16(1 + 0x1p-8 + 0x1p-20), 1 + 0x1p-7, "above the tie rounds up")
    XCTAssertEqual(rnn_round_bf16(-2.5), -2.5, "representable values stay")
    XCTAssertTrue(rnn_round_bf16(.nan).isNaN)
    XCTAssertEqual(rnn_round_bf16(.infinity), .infinity)
    var generator = RandomGenerator(seed: 3)
    for _ in 0..<10_000 {
      let x = generator.uniform(-1, 1) * Float(pow(2.0, Double(generator.uniform(-20, 20))))
      XCTAssertLessThanOrEqual(abs(rnn_round_bf16(x) - x), 0x1p-8 * abs(x), "\(x)")
    }
  }

  /// With AVX512-BF16 (not `portable`) the input is rounded to bf16 too: each product x w then
  /// moves by at most (2^-7 + 2^-16) |x w|; otherwise by 2^-8 |x w| (the weight alone).
  func testBF16ProductWithinRoundingBound() {
    let (w, x) = randomProblem(seed: 1)
    let roundsInput = Precision.bf16.kernel.contains("inputs rounded")
    for portable in [false, true] {
      rnn_packed_portable_only(portable ? 1 : 0)
      defer { rnn_packed_portable_only(0) }
      let input = roundsInput && !portable ? x.map(rnn_round_bf16) : x
      for bounds in [[0, n], [0, 96, n]] {
        let y = product(.bf16, w, x, bounds: bounds)
        for j in 0..<n {
          var exact = 0.0
          var magnitude = 0.0
          var rounded = 0.0
          for i in 0..<k {
            exact += Double(x[i]) * Double(w[i * n + j])
            rounded += Double(input[i]) * Double(rnn_round_bf16(w[i * n + j]))
            magnitude += abs(Double(x[i]) * Double(w[i * n + j]))
          }
          // fp32 accumulation: at most K roundings of 2^-24 of the running sum's magnitude.
          let accumulation = Double(k) * 0x1p-24 * magnitude * 1.01
          let rounding = input == x ? 0x1p-8 : 0x1p-7 + 0x1p-16
          let what = "column \(j), portable \(portable)"
          XCTAssertLessThanOrEqual(abs(Double(y[j]) - exact), rounding * magnitude + accumulation, what)
          XCTAssertEqual(Double(y[j]), rounded, accuracy: accumulation, "\(what): the operands rounded to bf16")
        }
      }
    }
  }

  func testInt8ProductWithinRoundingBound() {
    let (w, x) = randomProblem(seed: 2)
    let largestX = x.map(abs).max()!
    let (sx, inverseX) = (Double(largestX / 127), 127 / largestX)  // as the kernel computes them
    for portable in [false, true] {
      rnn_packed_portable_only(portable ? 1 : 0)
      defer { rnn_packed_portable_only(0) }
      for bounds in [[0, n], [0, 96, n]] {
        let y = product(.int8, w, x, bounds: bounds)
        for j in 0..<n {
          let column = (0..<k).map { Double(w[$0 * n + j]) }
          let scaleF = Float(column.map(abs).max()!) / 127
          let scale = Double(scaleF)
          var exact = 0.0
          var sumX = 0.0
          var sumW = 0.0
          var integer = 0.0
          for i in 0..<k {
            exact += Double(x[i]) * column[i]
            sumX += abs(Double(x[i]))
            sumW += abs(column[i]) + scale / 2
            // The quantised product, as the kernel forms it (in integers, then scaled).
            let q = Double(w[i * n + j] / scaleF).rounded(.toNearestOrEven)
            let xq = Double(x[i] * inverseX).rounded(.toNearestOrEven)
            integer += q * xq
          }
          let what = "column \(j), portable \(portable), parts \(bounds.count - 1)"
          // |x^ w^ - x w| <= |x^ - x| |w^| + |x| |w^ - w|, plus fp32 rounding of the result.
          let bound = sx / 2 * sumW + scale / 2 * sumX + 1e-5 * (sumX * scale * 127)
          XCTAssertLessThanOrEqual(abs(Double(y[j]) - exact), bound, what)
          // The integer products are exact: within half a unit of sx * scale of the expected.
          XCTAssertEqual(Double(y[j]), sx * scale * integer, accuracy: 0.5 * sx * scale + 1e-6 * abs(exact), what)
        }
      }
    }
  }

  /// A zero input adds nothing (its scale would be 0), in every precision.
  func testZeroInputAddsNothing() {
    let (w, _) = randomProblem(seed: 4)
    for precision in Precision.allCases {
      XCTAssertEqual(
        product(precision, w, [Float](repeating: 0, count: k), bounds: [0, n]), [Float](repeating: 0, count: n))
    }
  }

  func testKernelNamesThePrecision() {
    for precision in Precision.allCases {
      XCTAssertTrue(precision.kernel.hasPrefix(precision.rawValue), precision.kernel)
    }
  }
}
