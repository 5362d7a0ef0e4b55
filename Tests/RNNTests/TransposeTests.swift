import CKernels
import XCTest

/// `rnn_transpose`: 16 x 16 tiles in registers where the CPU has AVX-512, element by element at the
/// edges and elsewhere.
final class TransposeTests: XCTestCase {
  /// Every split into whole tiles and edges (rows and columns 1 to 70, below, at and past 16 and
  /// 64), source and destination rows wider than the matrix, written and accumulated: exactly the
  /// element-by-element transpose, and nothing outside the destination's columns touched.
  func testEveryShapeAgainstElementByElement() {
    for rows in stride(from: 1, through: 70, by: 3) {
      for columns in stride(from: 1, through: 70, by: 5) {
        for accumulate in [Int32(0), 1] {
          let (lds, ldd) = (columns + 3, rows + 5)
          let source = (0..<(rows * lds)).map { Float($0) * 0.5 }
          var destination = (0..<(columns * ldd)).map { -Float($0) }
          var expected = destination
          for i in 0..<rows {
            for j in 0..<columns {
              expected[j * ldd + i] = (accumulate != 0 ? expected[j * ldd + i] : 0) + source[i * lds + j]
            }
          }
          rnn_transpose(rows, columns, source, lds, &destination, ldd, accumulate)
          XCTAssertEqual(destination, expected, "\(rows) x \(columns), accumulate \(accumulate)")
        }
      }
    }
  }
}
