import RNN
import XCTest

/// Schedules against PyTorch's schedulers: the rates below are `optimizer.param_groups[0]["lr"]`
/// before each of the first updates (torch 2.15, an SGD optimizer at lr 0.1).
final class LearningRateScheduleTests: XCTestCase {
  private func check(_ schedule: LearningRateSchedule, _ torch: [Float], file: StaticString = #filePath, line: UInt = #line) {
    for (k, expected) in torch.enumerated() {
      XCTAssertEqual(schedule(k), expected, accuracy: 1e-7, "update \(k)", file: file, line: line)
    }
  }

  func testStepLR() {
    // StepLR(step_size=3, gamma=0.5)
    check(.step(0.1, every: 3, gamma: 0.5), [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125])
  }

  func testMultiStepLR() {
    // MultiStepLR(milestones=[2, 5], gamma=0.1)
    check(.milestones(0.1, at: [2, 5], gamma: 0.1), [0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001])
  }

  func testCosineAnnealingLR() {
    // CosineAnnealingLR(T_max=6, eta_min=0.01), past its end too
    check(
      .cosine(0.1, total: 6, minimum: 0.01),
      [0.1, 0.0939711432, 0.0775, 0.055, 0.0325, 0.0160288568, 0.01, 0.0160288568, 0.0325])
  }

  func testLinearWarmUpThenCosine() {
    // SequentialLR([LinearLR(start_factor=0.25, total_iters=4), CosineAnnealingLR(T_max=5)], milestones=[4])
    check(
      LearningRateSchedule.cosine(0.1, total: 5).warmup(steps: 4, start: 0.25),
      [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.0904508497, 0.0654508497, 0.0345491503, 0.00954915028, 0, 0.00954915028])
  }

  func testConstant() {
    check(.constant(0.002), [0.002, 0.002, 0.002])
  }
}

/// `argmaxRows` as `torch.argmax(x, dim=-1)`, and `accuracy`.
final class ArgmaxAccuracyTests: XCTestCase {
  func testArgmaxTakesTheFirstLargestOfEachRow() {
    let x = Tensor(shape: [3, 4], scalars: [0, 3, 1, 3, -5, -1, -2, -9, 7, 7, 7, 7])
    XCTAssertEqual(x.argmaxRows(), [1, 1, 0])
    XCTAssertEqual(Tensor(shape: [2, 1, 2], scalars: [1, 2, 4, 3]).argmaxRows(), [1, 0])
  }

  func testAccuracyIsTheShareOfRightAnswers() {
    XCTAssertEqual(accuracy([1, 2, 3, 4] as [Int32], [1, 0, 3, 0]), 0.5)
    XCTAssertEqual(accuracy(["a"], ["a"]), 1)
  }
}
