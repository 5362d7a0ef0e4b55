import Foundation
import RNN
import XCTest

/// Any model's parameters saved as a PyTorch `state_dict` and read back; counts as PyTorch's.
final class ParameterFileTests: FolderTestCase {
  private func model() -> (ParameterLayout, Linear) {
    var layout = ParameterLayout()
    _ = RecurrentLayer(.lstm, inputSize: 3, hiddenSize: 5, layout: &layout, prefix: "rnn.", suffix: "_l0")
    let output = Linear(inputSize: 5, outputSize: 7, layout: &layout, name: "output")
    return (layout, output)
  }

  func testSavedParametersReadBackByName() throws {
    let (layout, _) = model()
    var generator = RandomGenerator(seed: 3)
    let parameters = Parameters(layout, using: &generator)
    try parameters.save(to: folder + "/model.safetensors", metadata: ["note": "x"])
    let loaded = try Parameters(layout, contentsOf: folder + "/model.safetensors")
    XCTAssertEqual(Array(loaded.values), Array(parameters.values))
    // nn.LSTM(3, 5) has 4*5*(3+5) + 2*4*5 = 200 parameters, nn.Linear(5, 7) 42.
    XCTAssertEqual(layout.parameterCount, 242)
    XCTAssertGreaterThan(layout.count, 242, "the flat store pads each parameter")
  }

  func testAFileOfAnotherModelIsRefusedNamingTheTensor() throws {
    let (layout, output) = model()
    var generator = RandomGenerator(seed: 3)
    let parameters = Parameters(layout, using: &generator)
    var tensors = parameters.stateDict().filter { $0.name != "output.bias" }
    try SafeTensors(tensors: tensors).write(to: folder + "/missing.safetensors")
    XCTAssertThrowsError(try Parameters(layout, contentsOf: folder + "/missing.safetensors")) {
      XCTAssertEqual("\($0)", "\(folder!)/missing.safetensors: tensor output.bias is missing")
    }
    tensors.append(("output.bias", Tensor(shape: [6], repeating: 0)))
    try SafeTensors(tensors: tensors).write(to: folder + "/shape.safetensors")
    XCTAssertThrowsError(try Parameters(layout, contentsOf: folder + "/shape.safetensors")) {
      XCTAssertTrue("\($0)".contains("output.bias"), "\($0)")
    }
    XCTAssertEqual(output.bias.shape, [7])
  }
}
