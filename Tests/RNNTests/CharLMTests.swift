import XCTest

@testable import RNN

/// The whole char-level model (embedding, two recurrent layers, decoder, cross-entropy) against
/// PyTorch (`Fixtures/charlm_<cell>.safetensors`): logits, loss, final state, every gradient.
final class CharLMTests: XCTestCase {
  func testLSTMModelMatchesPyTorch() throws { try checkAgainstPyTorch(.lstm) }
  func testGRUModelMatchesPyTorch() throws { try checkAgainstPyTorch(.gru) }
  func testRNNModelMatchesPyTorch() throws { try checkAgainstPyTorch(.rnnTanh) }

  private func checkAgainstPyTorch(_ cell: CellKind) throws {
    let file = try fixture("charlm_\(cell.rawValue)")
    let embedding = try file.require("embedding.weight")
    let h0 = try file.require("h0")
    let inputs = try file.require("inputs")
    let config = CharLMConfig(
      cell: cell, layers: h0.shape[0], hidden: h0.shape[2], embedding: embedding.shape[1],
      vocabularySize: embedding.shape[0])
    let model = CharLM(config)
    for entry in model.parameters.layout.entries {
      model.parameters.assign(try file.require(entry.name), to: entry.ref)
    }
    let (time, batch) = (inputs.shape[0], inputs.shape[1])
    let c0 = cell.hasCellState ? try file.require("c0") : nil
    let tape = Tape()
    let state = (0..<config.layers).map { l in
      StateVariables(RecurrentState(h: slice(h0, l), c: c0.map { slice($0, l) }), on: tape)
    }
    let (logits, final) = model(tokens(inputs), time: time, batch: batch, state: state, on: tape)
    let loss = tape.softmaxCrossEntropy(logits, targets: tokens(try file.require("targets")))
    assertClose(tape[logits], try file.require("logits"), "logits")
    assertClose(tape[loss], try file.require("loss"), "loss")
    assertClose(stack(final.map { tape[$0.h] }), try file.require("h_n"), "h_n")

    tape.backward(from: loss)
    for entry in model.parameters.layout.entries {
      assertClose(
        model.parameters.gradientTensor(entry.ref), try file.require("grad.\(entry.name)"), "grad.\(entry.name)")
    }
    assertClose(stack(state.map { tape.gradient($0.h)! }), try file.require("grad.h0"), "grad.h0")
    if cell.hasCellState {
      assertClose(stack(state.map { tape.gradient($0.c!)! }), try file.require("grad.c0"), "grad.c0")
    }
  }
}
