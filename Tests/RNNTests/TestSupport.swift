import Foundation
import XCTest

@testable import RNN

/// The folder of PyTorch reference files made by `Scripts/make-references.py`.
let fixturesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Loads `Fixtures/<name>.safetensors`.
func fixture(_ name: String) throws -> SafeTensors {
  try SafeTensors(contentsOf: fixturesFolder.appendingPathComponent("\(name).safetensors").path)
}

extension SafeTensors {
  /// The tensor `name`, failing the test if it is missing.
  func require(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
    try XCTUnwrap(self[name], "fixture has no tensor \(name)", file: file, line: line)
  }
}

/// Asserts `actual` equals `expected` in shape and, elementwise, to `relative` of the element
/// plus `absolute` (for elements near zero).
func assertClose(
  _ actual: Tensor, _ expected: Tensor, relative: Float = 1e-5, absolute: Float = 1e-6, _ what: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
  guard actual.shape == expected.shape else { return }
  var worst: (index: Int, error: Float) = (0, 0)
  for i in 0..<actual.count {
    let (a, e) = (actual.scalars[i], expected.scalars[i])
    let excess = abs(a - e) - (relative * abs(e) + absolute)
    if !(excess <= worst.error) || excess.isNaN { worst = (i, excess.isNaN ? .infinity : excess) }
  }
  if worst.error > 0 {
    let i = worst.index
    XCTFail("\(what): element \(i) is \(actual.scalars[i]), expected \(expected.scalars[i])", file: file, line: line)
  }
}

/// The slice `[index]` of the first dimension.
func slice(_ tensor: Tensor, _ index: Int) -> Tensor {
  let inner = Array(tensor.shape.dropFirst())
  let size = inner.reduce(1, *)
  return Tensor(shape: inner, scalars: Array(tensor.scalars[index * size..<(index + 1) * size]))
}

/// Tensors stacked along a new first dimension.
func stack(_ tensors: [Tensor]) -> Tensor {
  Tensor(shape: [tensors.count] + tensors[0].shape, scalars: tensors.flatMap(\.scalars))
}

/// The token ids stored as floats in a fixture.
func tokens(_ tensor: Tensor) -> [Int32] { tensor.scalars.map { Int32($0) } }
