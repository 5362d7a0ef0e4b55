import XCTest

@testable import RNN

/// Two stacked layers of each cell against PyTorch (`Fixtures/<cell>.safetensors`: D=5, H=4,
/// L=2, T=7, B=3): outputs, final states and the gradients of every parameter, input and state.
final class RecurrentLayerTests: XCTestCase {
  func testLSTMMatchesPyTorch() throws { try checkAgainstPyTorch(.lstm) }
  func testGRUMatchesPyTorch() throws { try checkAgainstPyTorch(.gru) }
  func testTanhRNNMatchesPyTorch() throws { try checkAgainstPyTorch(.rnnTanh) }
  func testReluRNNMatchesPyTorch() throws { try checkAgainstPyTorch(.rnnRelu) }

  private func checkAgainstPyTorch(_ cell: CellKind) throws {
    let file = try fixture(cell.rawValue)
    let x = try file.require("x")
    let (d, h) = (x.shape[2], try file.require("h0").shape[2])
    var layout = ParameterLayout()
    let layers = (0..<2).map {
      RecurrentLayer(cell, inputSize: $0 == 0 ? d : h, hiddenSize: h, layout: &layout, suffix: "_l\($0)")
    }
    let parameters = Parameters(layout)
    for entry in layout.entries { parameters.assign(try file.require(entry.name), to: entry.ref) }

    let h0 = try file.require("h0")
    let c0 = cell.hasCellState ? try file.require("c0") : nil
    var input = x
    var caches: [RecurrentCache] = []
    var finals: [RecurrentState] = []
    for (l, layer) in layers.enumerated() {
      let state = RecurrentState(h: slice(h0, l), c: c0.map { slice($0, l) })
      let (y, final, cache) = layer.forward(input, state: state, parameters: parameters)
      input = y
      caches.append(cache)
      finals.append(final)
    }
    assertClose(input, try file.require("y"), "y")
    assertClose(stack(finals.map(\.h)), try file.require("h_n"), "h_n")
    if cell.hasCellState { assertClose(stack(finals.map { $0.c! }), try file.require("c_n"), "c_n") }

    let dhN = try file.require("dh_n")
    let dcN = cell.hasCellState ? try file.require("dc_n") : nil
    var dy = try file.require("dy")
    var dStates: [RecurrentState] = []
    for l in (0..<2).reversed() {
      let dState = RecurrentState(h: slice(dhN, l), c: dcN.map { slice($0, l) })
      let grads = layers[l].backward(dy, dState: dState, cache: caches[l], parameters: parameters)
      dy = grads.dx
      dStates.insert(grads.dState, at: 0)
    }
    assertClose(dy, try file.require("grad.x"), "grad.x")
    assertClose(stack(dStates.map(\.h)), try file.require("grad.h0"), "grad.h0")
    if cell.hasCellState { assertClose(stack(dStates.map { $0.c! }), try file.require("grad.c0"), "grad.c0") }
    for entry in layout.entries {
      assertClose(parameters.gradientTensor(entry.ref), try file.require("grad.\(entry.name)"), "grad.\(entry.name)")
    }
  }
}
