import XCTest

@testable import RNN
@testable import RNNCore

/// `Tensor.withPointers`: the pointers a time loop takes at once, with value semantics kept.
final class TensorPointersTests: XCTestCase {
  /// Writes reach the outputs, in order; an output sharing storage with another tensor is copied
  /// first, so that tensor keeps its values; the inputs are read in order.
  func testWritesReachTheOutputsOnlyAndInputsReadInOrder() {
    let shared = Tensor(shape: [2], scalars: [1, 2])
    var outputs = [shared, Tensor.zeros([3])]
    let inputs = [Tensor(shape: [1], scalars: [7]), Tensor(shape: [2], scalars: [8, 9])]
    let read = Tensor.withPointers(mutating: &outputs, reading: inputs) { outputs, inputs in
      outputs[0][1] = 20
      outputs[1][2] = 30
      return [inputs[0][0], inputs[1][1]]
    }
    XCTAssertEqual(read, [7, 9])
    XCTAssertEqual(outputs[0].scalars, [1, 20])
    XCTAssertEqual(outputs[1].scalars, [0, 0, 30])
    XCTAssertEqual(shared.scalars, [1, 2])
  }
}
