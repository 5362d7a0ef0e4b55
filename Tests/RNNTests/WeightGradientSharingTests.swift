import XCTest

@testable import RNN
@testable import RNNCore

/// `Parameters.shareWeightGradient(of:with:)`: the product of a shared weight's gradient goes to the
/// sharing (as `SharedWeightGradient` makes it with the other ranks of a machine), every other
/// weight's to the backend, and the gradients are the same either way.
final class WeightGradientSharingTests: XCTestCase {
  /// Makes `w += dy^T x` row by row of `w`, last row first, in double precision: another way to the
  /// same product, as blocks of rows made by several ranks are.
  private final class RowByRowSharing: WeightGradientSharing {
    var calls: [(weight: ParameterRef, rows: Int)] = []

    func accumulate(_ terms: [BLAS.GradientTerm], into weight: ParameterRef, of parameters: Parameters) {
      let (o, i, w) = (weight.shape[0], weight.shape[1], parameters.gradient(weight))
      calls.append((weight, terms.reduce(0) { $0 + $1.n }))
      for r in stride(from: o - 1, through: 0, by: -1) {
        for c in 0..<i {
          var sum = 0.0
          for term in terms {
            for n in 0..<term.n { sum += Double(term.dy[n * term.ldy + r]) * Double(term.x[n * i + c]) }
          }
          w[r * i + c] += Float(sum)
        }
      }
    }
  }

  func testASharedWeightGradientIsMadeByTheSharingAndMatchesTheBackends() {
    let config = CharLMConfig(cell: .lstm, layers: 2, hidden: 16, embedding: 8, vocabularySize: 11)
    let (time, batch) = (7, 3)
    var generator = RandomGenerator(seed: 9)
    let tokens = (0..<time * batch).map { _ in Int32(generator.next() % 11) }
    let targets = (0..<time * batch).map { _ in Int32(generator.next() % 11) }
    let sharing = RowByRowSharing()
    var gradients: [[Float]] = []
    // Alone, shared, and shared then given back to the backend.
    for (shared, givenBack) in [(false, false), (true, false), (true, true)] {
      var initialization = RandomGenerator(seed: 4)
      let model = CharLM(config, using: &initialization)
      let bottom = model.layers[0].weightHH
      if shared { model.parameters.shareWeightGradient(of: bottom, with: sharing) }
      if givenBack { model.parameters.shareWeightGradient(of: bottom, with: nil) }
      model.parameters.zeroGradients()
      let tape = Tape()
      let state = model.zeroState(batch: batch).map { StateVariables($0, on: tape) }
      let (logits, _) = model(tokens, time: time, batch: batch, state: state, on: tape)
      tape.backward(from: tape.softmaxCrossEntropy(logits, targets: targets))
      gradients.append(Array(model.parameters.gradients))
      if shared && !givenBack {
        XCTAssertEqual(sharing.calls.count, 1, "one product a backward")
        XCTAssertEqual(sharing.calls.first?.weight, bottom)
        XCTAssertEqual(sharing.calls.first?.rows, time * batch, "h_{t-1} of every step and row")
      }
    }
    XCTAssertEqual(sharing.calls.count, 1, "the backend again once the sharing is taken away")
    XCTAssertEqual(gradients[2], gradients[0])
    XCTAssert(gradients[1].contains { $0 != 0 })
    for (shared, alone) in zip(gradients[1], gradients[0]) {
      XCTAssertEqual(shared, alone, accuracy: 1e-5 * max(1, abs(alone)))
    }
  }

  /// A rank's own work, for the stream shares: its seconds to the sum without the wait and its help
  /// on others' blocks, with its blocks that others made at its own pace per block.
  func testARanksOwnWorkLeavesOutTheWaitAndTheHelpAndCountsItsBlocksOthersMade() {
    var report = SharedWeightGradient.Report()
    (report.idleSeconds, report.ownSeconds, report.ownBlocks) = (0.1, 0.3, 6)
    (report.helpingSeconds, report.helpingBlocks, report.blocksTakenOver) = (0.2, 4, 2)
    XCTAssertEqual(report.ownWork(of: 1.0), 1.0 - 0.1 - 0.2 + 2 * 0.05, accuracy: 1e-12)
    // None of its own made: its pace on others' blocks.
    (report.ownSeconds, report.ownBlocks, report.blocksTakenOver) = (0, 0, 8)
    XCTAssertEqual(report.ownWork(of: 1.0), 1.0 - 0.1 - 0.2 + 8 * 0.05, accuracy: 1e-12)
    XCTAssertEqual(SharedWeightGradient.Report().ownWork(of: 0.7), 0.7)
  }
}
