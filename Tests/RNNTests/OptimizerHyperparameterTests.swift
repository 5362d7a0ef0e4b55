import RNN
import XCTest

/// Hyperparameters against PyTorch's optimizers: one parameter tensor `[5]` after three updates
/// with the gradients below (torch 2.15, `foreach=False`).
final class OptimizerHyperparameterTests: XCTestCase {
  private let start: [Float] = [0.5, -1.25, 2.0, 0.0, -0.3]
  private let gradients: [[Float]] = [[0.1, -0.2, 0.3, 0.05, -1.0], [-0.4, 0.5, 0.0, 0.2, 0.3], [1.0, -0.1, -0.2, 0.7, 0.01]]

  private func run(_ kind: OptimizerKind, learningRate: Float, _ hyperparameters: Optimizer.Hyperparameters) -> [Float] {
    var layout = ParameterLayout()
    let ref = layout.declare("p", shape: [5])
    let parameters = Parameters(layout)
    parameters.assign(Tensor(shape: [5], scalars: start), to: ref)
    var optimizer = Optimizer(kind, parameterCount: parameters.count, hyperparameters: hyperparameters)
    for gradient in gradients {
      parameters.gradient(ref).update(from: gradient, count: 5)
      optimizer.step(parameters, learningRate: learningRate)
    }
    return parameters.tensor(ref).scalars
  }

  private func check(_ ours: [Float], _ torch: [Float], file: StaticString = #filePath, line: UInt = #line) {
    for (a, b) in zip(ours, torch) { XCTAssertEqual(a, b, accuracy: 2e-7, file: file, line: line) }
  }

  func testAdamWithOtherBetasAndEpsilon() {
    // Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    check(
      run(.adam, learningRate: 0.01, .init(beta1: 0.8, beta2: 0.99, epsilon: 1e-6)),
      [0.491222411, -1.24718177, 1.98385668, -0.0277635232, -0.283565551])
  }

  func testAdamWDecaysTheWeightsApart() {
    // AdamW(lr=0.01, weight_decay=0.1)
    check(
      run(.adam, learningRate: 0.01, .init(weightDecay: 0.1)),
      [0.489852518, -1.24288535, 1.97656989, -0.0268734694, -0.281600833])
  }

  func testRMSpropWithOtherAlphaAndEpsilon() {
    // RMSprop(lr=0.01, alpha=0.9, eps=1e-6)
    check(
      run(.rmsprop, learningRate: 0.01, .init(epsilon: 1e-6, alpha: 0.9)),
      [0.469685793, -1.24182785, 1.98720014, -0.0928522646, -0.278246909])
  }

  func testSGDWithOtherMomentum() {
    // SGD(lr=0.1, momentum=0.5)
    check(run(.sgd, learningRate: 0.1, .init(momentum: 0.5)), [0.442500025, -1.27999997, 1.96750009, -0.108750001, -0.171000019])
  }

  func testDefaultsArePyTorchsAdam() {
    // Adam(lr=0.01)
    check(run(.adam, learningRate: 0.01, .init()), [0.491336614, -1.24661601, 1.98253703, -0.0269023031, -0.28247565])
  }
}
