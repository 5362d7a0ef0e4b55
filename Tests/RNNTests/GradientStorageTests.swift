import XCTest

@testable import RNNCore

/// `Parameters.keepGradients(in:)`: the gradients move into memory the caller owns (a data-parallel
/// run's shared memory), keeping their values, and everything that reads or writes gradients
/// follows them there.
final class GradientStorageTests: XCTestCase {
  func testGradientsMovedIntoGivenStorageKeepTheirValuesAndAreUsedThere() {
    var layout = ParameterLayout()
    let weight = layout.declare("weight", shape: [3, 5])
    let bias = layout.declare("bias", shape: [3])
    let parameters = Parameters(layout)
    for i in 0..<parameters.count { parameters.gradients[i] = Float(i) }
    let raw = UnsafeMutableRawPointer.allocate(byteCount: parameters.count * 4, alignment: 64)
    defer { raw.deallocate() }
    let storage = UnsafeMutableBufferPointer(
      start: raw.initializeMemory(as: Float.self, repeating: -1, count: parameters.count), count: parameters.count)

    parameters.keepGradients(in: storage)
    XCTAssertEqual(parameters.gradients.baseAddress, storage.baseAddress)
    XCTAssertEqual(Array(storage), (0..<parameters.count).map(Float.init))
    XCTAssertEqual(parameters.gradient(bias), storage.baseAddress! + bias.offset)
    parameters.gradient(weight)[4] = 40
    XCTAssertEqual(storage[weight.offset + 4], 40)
    parameters.zeroGradients()
    XCTAssert(storage.allSatisfy { $0 == 0 })
  }
}
