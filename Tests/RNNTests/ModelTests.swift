import Foundation
import XCTest

@testable import RNN

/// `Model`: parameters named as PyTorch names a module's, read from a `state_dict` PyTorch saved,
/// computing what PyTorch computes, saved back under the same names.
final class ModelTests: FolderTestCase {
  /// The layers of the PyTorch fixture's `nn.ModuleDict`, as a struct.
  struct Tagger {
    let characters: Bound<Embedding>
    let reader: Bound<RecurrentStack>
    let tagger: Bound<Bidirectional>
    let classify: Bound<Linear>
  }

  private func tagger(_ make: ModelBuilder) -> Tagger {
    Tagger(
      characters: make.embedding(vocabularySize: 7, size: 4), reader: make.recurrent(.lstm, inputSize: 4, hiddenSize: 5, layers: 2),
      tagger: make.bidirectional(.gru, inputSize: 4, hiddenSize: 3), classify: make.linear(inputSize: 5, outputSize: 3))
  }

  func testAPyTorchStateDictLoadsAndComputesWhatPyTorchComputes() throws {
    let model = try Model(contentsOf: fixturesFolder.appendingPathComponent("model.safetensors").path, tagger)
    let outputs = try fixture("model_outputs")
    let (tokens, lengths) = (outputs["tokens"]!, outputs["lengths"]!.scalars.map { Int($0) })
    let (t, b) = (tokens.shape[0], tokens.shape[1])
    let batch = PaddedBatch((0..<b).map { row in (0..<lengths[row]).map { Int32(tokens.scalars[$0 * b + row]) } })
    XCTAssertEqual(batch.time, t)

    let tape = Tape(recording: false)
    let (_, final) = model.reader(batch, embedding: model.characters, on: tape)
    assertClose(tape[model.classify(final[1].h, on: tape)], outputs["logits"]!, 1e-5)
    assertClose(tape[model.tagger(batch, embedding: model.characters, on: tape).y], outputs["tagged"]!, 1e-5)

    let pytorch = try fixture("model")
    XCTAssertEqual(model.parameterCount, pytorch.tensors.reduce(0) { $0 + $1.tensor.count })
    try model.save(to: folder + "/saved.safetensors")
    let saved = try SafeTensors(contentsOf: folder + "/saved.safetensors")
    XCTAssertEqual(Set(saved.tensors.map(\.name)), Set(pytorch.tensors.map(\.name)))
    for (name, tensor) in pytorch.tensors { XCTAssertEqual(saved[name], tensor, name) }
  }

  func testParametersAreNamedAfterWhereTheirLayersSit() {
    let model = Model { make in
      (
        encoder: (make.embedding(vocabularySize: 3, size: 2), make.linear(inputSize: 2, outputSize: 2)),
        heads: [make.linear(inputSize: 2, outputSize: 1), make.linear(inputSize: 2, outputSize: 1)],
        extra: Optional(make.recurrent(.gru, inputSize: 2, hiddenSize: 2)), scale: 2.5
      )
    }
    XCTAssertEqual(
      model.parameters.layout.entries.map(\.name),
      [
        "encoder.0.weight", "encoder.1.weight", "encoder.1.bias", "heads.0.weight", "heads.0.bias", "heads.1.weight",
        "heads.1.bias", "extra.weight_ih_l0", "extra.weight_hh_l0", "extra.bias_ih_l0", "extra.bias_hh_l0",
      ])
    XCTAssertEqual(model.parameterCount, 3 * 2 + 2 * 2 + 2 + 2 * (2 + 1) + 2 * 3 * 2 * 2 + 2 * 3 * 2)
    XCTAssertEqual(model.scale, 2.5)
    XCTAssertEqual(model.heads[1].outputSize, 1)
  }

  func testInitialisationFollowsTheOrderTheLayersAreMade() {
    // As PyTorch initialises a module's submodules in the order its constructor makes them: the
    // same draws as the layers declared by hand in that order.
    var generator = RandomGenerator(seed: 3)
    let model = Model(using: &generator) { make in
      (embedding: make.embedding(vocabularySize: 4, size: 3), output: make.linear(inputSize: 3, outputSize: 2))
    }
    var layout = ParameterLayout()
    _ = Embedding(vocabularySize: 4, size: 3, layout: &layout)
    _ = Linear(inputSize: 3, outputSize: 2, layout: &layout, name: "output")
    generator = RandomGenerator(seed: 3)
    let byHand = Parameters(layout, using: &generator)
    XCTAssertEqual(Array(model.parameters.values), Array(byHand.values))
  }

  func testALoadFailingItsChecksChangesNothing() throws {
    let model = Model { make in (output: make.linear(inputSize: 3, outputSize: 2), ()) }
    let before = Array(model.parameters.values)
    try SafeTensors(tensors: [("output.weight", Tensor(shape: [2, 4]))], metadata: [:]).write(to: folder + "/wrong.safetensors")
    XCTAssertThrowsError(try model.load(from: folder + "/wrong.safetensors")) { error in
      XCTAssertTrue("\(error)".contains("output.weight"), "\(error)")
    }
    XCTAssertEqual(Array(model.parameters.values), before)
  }

  private func assertClose(_ a: Tensor, _ b: Tensor, _ tolerance: Float, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, line: line)
    for (x, y) in zip(a.scalars, b.scalars) { XCTAssertEqual(x, y, accuracy: tolerance, line: line) }
  }
}
