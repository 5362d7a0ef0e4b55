import XCTest

@testable import RNN
@testable import RNNCore

/// `RecurrentWorkspace`: a slot's buffer comes back to the next call once nobody holds it, and a
/// buffer still held (a cache kept) is never handed out again; a training step reuses the last
/// step's buffers.
final class RecurrentWorkspaceTests: XCTestCase {
  func testABufferReturnsOnceReleased() {
    let workspace = RecurrentWorkspace()
    let first = workspace.buffer("a", count: 8).pointer
    XCTAssertEqual(workspace.buffer("a", count: 8).pointer, first, "released: the same memory")
    XCTAssertEqual(workspace.buffer("a", count: 4).pointer, first, "smaller: the same memory")
    let held = workspace.buffer("a", count: 8)
    held.pointer.update(repeating: 3, count: 8)
    let other = workspace.buffer("a", count: 8)
    XCTAssertNotEqual(other.pointer, held.pointer, "still held: a fresh buffer")
    other.pointer.update(repeating: 5, count: 8)
    XCTAssertEqual(held.pointer[7], 3, "the held buffer is untouched")
    XCTAssertGreaterThanOrEqual(workspace.buffer("a", count: 64).capacity, 64, "larger: grown")
  }

  /// Two training steps of a two-layer LSTM stack on a tape: the second takes the first's buffers.
  func testATrainingStepReusesTheLastStepsBuffers() {
    var layout = ParameterLayout()
    let stack = RecurrentStack(.lstm, inputSize: 3, hiddenSize: 8, layers: 2, layout: &layout)
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 3)
    for layer in stack.layers { layer.initialize(parameters, using: &generator) }
    let x = randomTensor([5, 2, 3], &generator)
    func step() {
      let tape = Tape()
      let (y, _) = stack(tape.input(x), parameters: parameters, on: tape)
      tape.accumulate(Tensor(shape: [5, 2, 8], repeating: 1), into: y)
      tape.backward(from: y, seed: 0)
    }
    // Each layer's own (what its cache keeps), then the scratch both share (gradients).
    func addresses() -> [UnsafeMutablePointer<Float>?] {
      stack.layers.flatMap { layer in ["projections", "lstm c", "lstm tanh(c)"].map { layer.workspace.address($0) } }
        + ["lstm dgates", "lstm dh", "lstm dc"].map { stack.layers[0].scratch.address($0) }
    }
    XCTAssert(stack.layers[0].scratch === stack.layers[1].scratch, "a stack's layers share their scratch")
    step()
    let first = addresses()
    XCTAssert(first.allSatisfy { $0 != nil })
    step()
    XCTAssertEqual(addresses(), first)
  }
}
