import XCTest

@testable import RNN

/// Two stacked layers of each cell against PyTorch (`Fixtures/<cell>.safetensors`: D=5, H=4,
/// L=2, T=7, B=3): outputs, final states and the gradients of every parameter, input and state.
final class RecurrentLayerTests: XCTestCase {
  func testLSTMMatchesPyTorch() throws { try checkStackAgainstPyTorch(.lstm, packed: false) }
  func testGRUMatchesPyTorch() throws { try checkStackAgainstPyTorch(.gru, packed: false) }
  func testTanhRNNMatchesPyTorch() throws { try checkStackAgainstPyTorch(.rnnTanh, packed: false) }
  func testReluRNNMatchesPyTorch() throws { try checkStackAgainstPyTorch(.rnnRelu, packed: false) }
}
