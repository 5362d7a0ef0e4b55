import XCTest

@testable import RNNCore

/// What the ranks of a machine use to share one copy of the parameters and each update its part
/// (`SharedUpdate`): values kept in given memory, and clipping, norms and optimizer steps over a
/// part of the flat buffers that, part by part, give the update over the whole.
final class ParameterPartsTests: XCTestCase {
  func testValuesKeptInGivenStorageAreReadAndWrittenThere() {
    var layout = ParameterLayout()
    let weight = layout.declare("weight", shape: [3, 5])
    let parameters = Parameters(layout)
    let raw = UnsafeMutableRawPointer.allocate(byteCount: parameters.count * 4, alignment: 64)
    defer { raw.deallocate() }
    // The storage already holds the values (another rank copied them): nothing is copied.
    let storage = UnsafeMutableBufferPointer(
      start: raw.initializeMemory(as: Float.self, repeating: 7, count: parameters.count), count: parameters.count)

    parameters.keepValues(in: storage)
    XCTAssertEqual(parameters.values.baseAddress, storage.baseAddress)
    XCTAssertEqual(parameters.value(weight)[4], 7)
    parameters.value(weight)[4] = 40
    XCTAssertEqual(storage[weight.offset + 4], 40)
  }

  /// Two "ranks", each with its own optimizer, update parts `0..<k` and `k..<P` of one copy of the
  /// parameters: the values are bit for bit those of one update over the whole, and each rank's
  /// buffers are in its part.
  func testUpdatesOfTwoPartsAreTheUpdateOfTheWhole() {
    for kind in OptimizerKind.allCases {
      let (whole, shared) = (filledParameters(), filledParameters())
      let hyperparameters = Optimizer.Hyperparameters(weightDecay: kind == .adam ? 0.01 : 0)
      var one = Optimizer(kind, for: whole, hyperparameters: hyperparameters)
      var ranks = [Optimizer](repeating: Optimizer(kind, for: shared, hyperparameters: hyperparameters), count: 2)
      let parts = [0..<48, 48..<shared.count]
      for _ in 0..<3 {
        one.step(whole, learningRate: 0.01)
        for (r, part) in parts.enumerated() { ranks[r].step(shared, learningRate: 0.01, part: part) }
      }
      XCTAssertEqual(Array(shared.values), Array(whole.values), "\(kind)")
      for name in kind.bufferNames {
        for (r, part) in parts.enumerated() {
          let buffer = ranks[r].buffers[name]!
          XCTAssertEqual(buffer[part], one.buffers[name]![part], "\(kind) \(name)")
          XCTAssert(buffer.indices.allSatisfy { part.contains($0) || buffer[$0] == 0 }, "\(kind) \(name)")
        }
      }
    }
  }

  func testClippingAndSumsOfSquaresOverPartsMakeTheWhole() {
    let (whole, shared) = (filledParameters(), filledParameters())
    let parts = [0..<48, 48..<shared.count]
    XCTAssertEqual(
      parts.map { shared.gradientSumOfSquares(in: $0) }.reduce(0, +),
      whole.gradientSumOfSquares(in: 0..<whole.count), accuracy: 1e-5)
    whole.clipGradientValues(0.3)
    let norm = whole.clipGradientNorm(1)
    for part in parts { shared.clipGradientValues(0.3, in: part) }
    let partsNorm = Float(parts.map { shared.gradientSumOfSquares(in: $0) }.reduce(0, +).squareRoot())
    XCTAssertEqual(partsNorm, norm, accuracy: 1e-6)
    for part in parts { shared.clipGradientNorm(1, norm: norm, in: part) }
    XCTAssertEqual(Array(shared.gradients), Array(whole.gradients))
    shared.gradients[50] = .nan
    XCTAssertTrue(shared.gradientsAreFinite(in: parts[0]))
    XCTAssertFalse(shared.gradientsAreFinite(in: parts[1]))
  }

  /// Parameters of two weights (96 floats with padding), values and gradients from a fixed sequence.
  private func filledParameters() -> Parameters {
    var layout = ParameterLayout()
    _ = layout.declare("a", shape: [5, 7])
    _ = layout.declare("b", shape: [4, 9])
    let parameters = Parameters(layout)
    for i in 0..<parameters.count {
      parameters.values[i] = Float(i % 13) * 0.1 - 0.6
      parameters.gradients[i] = Float(i % 11) * 0.05 - 0.25
    }
    return parameters
  }
}
