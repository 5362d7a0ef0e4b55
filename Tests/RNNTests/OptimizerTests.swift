import Foundation
import XCTest

@testable import RNN

/// Adam, RMSprop and SGD with momentum against their PyTorch update rules written out in Double
/// (checked against `torch.optim` once when written), over three steps with fixed gradients on
/// two small parameters; gradient clipping by global norm and by value; non-finite detection.
final class OptimizerTests: XCTestCase {
  /// Start values of `a [3]` then `b [2, 2]`, and the gradients of each of three steps. Zero and
  /// tiny gradients test `eps`; sign changes test the moments.
  private let start: [Double] = [0.5, -1.2, 2.0, 0.1, 0.0, -0.7, 3.0]
  private let steps: [[Double]] = [
    [0.1, -0.5, 0.0, 2.0, -0.03, 1e-4, -1.5],
    [-0.2, -0.4, 0.3, 1.5, 0.02, 0.0, -1.0],
    [0.05, 0.6, -0.1, -2.5, 0.01, 0.0002, 0.5],
  ]

  func testAdamMatchesPyTorch() {
    // torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-8). PyTorch takes `1 - beta2` in Double
    // (0.001 exactly, then rounded); float32 torch gives exp_avg_sq[3] = 0.0124897547 here. The
    // float `1 - 0.999f` is 0.000999987, 1.3e-5 too small, which this test's 2e-6 tolerance flags.
    let lr = 0.01
    var p = start
    var m = [Double](repeating: 0, count: p.count)
    var v = m
    for (t, g) in steps.enumerated() {
      let bias1 = 1 - pow(0.9, Double(t + 1))
      let bias2 = 1 - pow(0.999, Double(t + 1))
      for i in p.indices {
        m[i] = 0.9 * m[i] + 0.1 * g[i]
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
        p[i] -= lr / bias1 * m[i] / (v[i].squareRoot() / bias2.squareRoot() + 1e-8)
      }
    }
    checkOptimizer(.adam, learningRate: Float(lr), expected: p, buffers: ["exp_avg": m, "exp_avg_sq": v])
  }

  func testRMSpropMatchesPyTorch() {
    // torch.optim.RMSprop(lr, alpha=0.95, eps=1e-8).
    let lr = 0.01
    var p = start
    var v = [Double](repeating: 0, count: p.count)
    for g in steps {
      for i in p.indices {
        v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i]
        p[i] -= lr * g[i] / (v[i].squareRoot() + 1e-8)
      }
    }
    checkOptimizer(.rmsprop, learningRate: Float(lr), expected: p, buffers: ["square_avg": v])
  }

  func testSGDMatchesPyTorch() {
    // torch.optim.SGD(lr, momentum=0.9): buf = 0.9 buf + g (buf = g on the first step); p -= lr buf.
    let lr = 0.1
    var p = start
    var buffer = [Double](repeating: 0, count: p.count)
    for g in steps {
      for i in p.indices {
        buffer[i] = 0.9 * buffer[i] + g[i]
        p[i] -= lr * buffer[i]
      }
    }
    checkOptimizer(.sgd, learningRate: Float(lr), expected: p, buffers: ["momentum_buffer": buffer])
  }

  /// Runs `kind` over `steps` and compares the parameters and the named buffers (at each
  /// parameter's place in the flat store); the alignment padding must stay zero.
  private func checkOptimizer(
    _ kind: OptimizerKind, learningRate: Float, expected: [Double], buffers: [String: [Double]], line: UInt = #line
  ) {
    let (parameters, refs) = makeParameters()
    var optimizer = Optimizer(kind, parameterCount: parameters.count)
    for g in steps {
      write(g, into: parameters.gradients, refs)
      optimizer.step(parameters, learningRate: learningRate)
      XCTAssertEqual(read(parameters.gradients, refs), g.map { Float($0) }, "\(kind): gradients changed", line: line)
    }
    XCTAssertEqual(optimizer.steps, 3, line: line)
    assertClose(
      Tensor(shape: [7], scalars: read(parameters.values, refs)),
      Tensor(shape: [7], scalars: expected.map { Float($0) }),
      relative: 1e-6, absolute: 1e-7, "\(kind): parameters", line: line)
    XCTAssertEqual(Set(optimizer.buffers.keys), Set(buffers.keys), "\(kind): buffer names", line: line)
    for (name, values) in buffers {
      let actual = optimizer.buffers[name]!
      XCTAssertEqual(actual.count, parameters.count, line: line)
      assertClose(
        Tensor(shape: [7], scalars: actual.withUnsafeBufferPointer { read($0, refs) }),
        Tensor(shape: [7], scalars: values.map { Float($0) }), relative: 2e-6, absolute: 1e-12, "\(kind): \(name)",
        line: line)
    }
    let used = Set(refs.flatMap { $0.offset..<$0.offset + $0.count })
    XCTAssert(
      parameters.values.indices.allSatisfy { used.contains($0) || parameters.values[$0] == 0 },
      "\(kind): padding changed", line: line)
  }

  // MARK: - Clipping

  /// Gradients of global norm 5 clipped to 2 are scaled by `2 / (5 + 1e-6)`, as
  /// `torch.nn.utils.clip_grad_norm_`; the norm before clipping is returned.
  func testClipGradientNormScalesAsTorch() {
    let (parameters, refs) = makeParameters()
    let g: [Double] = [1, -2, 2, 0, 4, 0, 0]
    write(g, into: parameters.gradients, refs)
    XCTAssertEqual(parameters.gradientNorm(), 5, accuracy: 1e-6)
    XCTAssertEqual(parameters.clipGradientNorm(2), 5, accuracy: 1e-6)
    // torch: [0.3999999165534973, -0.7999998331069946, 0.7999998331069946, 0, 1.5999996662139893, 0, 0].
    let expected = g.map { Float($0 * (2 / (5 + 1e-6))) }
    assertClose(
      Tensor(shape: [7], scalars: read(parameters.gradients, refs)), Tensor(shape: [7], scalars: expected),
      relative: 2e-7, absolute: 0, "clipped gradients")
    XCTAssertEqual(parameters.gradientNorm(), 2, accuracy: 1e-5)
  }

  /// Gradients already within the limit are left exactly as they were.
  func testClipGradientNormLeavesSmallGradients() {
    let (parameters, refs) = makeParameters()
    let g: [Double] = [1, -2, 2, 0, 4, 0, 0]
    write(g, into: parameters.gradients, refs)
    XCTAssertEqual(parameters.clipGradientNorm(5.1), 5, accuracy: 1e-6)
    XCTAssertEqual(read(parameters.gradients, refs), g.map { Float($0) })
  }

  /// The global norm over several parameters, more than one block of 1024 elements, to float
  /// precision of a Double reference.
  func testGradientNormOfManyElements() {
    var layout = ParameterLayout()
    let refs = [
      layout.declare("w", shape: [37, 41]), layout.declare("b", shape: [1500]), layout.declare("c", shape: [3]),
    ]
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 4000)
    var sum = 0.0
    for ref in refs {
      for i in 0..<ref.count {
        let g = generator.normal(deviation: 0.3)
        parameters.gradient(ref)[i] = g
        sum += Double(g) * Double(g)
      }
    }
    XCTAssertEqual(Double(parameters.gradientNorm()), sum.squareRoot(), accuracy: 1e-5 * sum.squareRoot())
  }

  /// `clip_grad_value_`: each element clamped to `[-limit, limit]`, the others unchanged.
  func testClipGradientValues() {
    let (parameters, refs) = makeParameters()
    write([-3, -0.5, 0, 0.25, 1.5, 1, -1], into: parameters.gradients, refs)
    parameters.clipGradientValues(1)
    XCTAssertEqual(read(parameters.gradients, refs), [-1, -0.5, 0, 0.25, 1, 1, -1])
  }

  /// A NaN or an infinity anywhere (first, middle or last element of a long store) is detected;
  /// large finite values are not mistaken for one.
  func testNonFiniteGradientsAreDetected() {
    var layout = ParameterLayout()
    let ref = layout.declare("w", shape: [3001])
    let parameters = Parameters(layout)
    let g = parameters.gradient(ref)
    for i in 0..<ref.count { g[i] = Float(i % 7) - 3 }
    XCTAssert(parameters.gradientsAreFinite)
    g[5] = .greatestFiniteMagnitude
    g[6] = -.greatestFiniteMagnitude
    XCTAssert(parameters.gradientsAreFinite, "large finite values")
    for bad in [Float.nan, .infinity, -.infinity] {
      for i in [0, 1500, 3000] {
        let saved = g[i]
        g[i] = bad
        XCTAssertFalse(parameters.gradientsAreFinite, "\(bad) at \(i)")
        g[i] = saved
      }
    }
    XCTAssert(parameters.gradientsAreFinite)
  }

  /// `finiteGradientNorm` is nil for a NaN or an infinity anywhere, the norm otherwise, and
  /// finite gradients whose squares overflow get an infinite norm, not nil.
  func testFiniteGradientNormTellsOverflowFromNonFiniteGradients() {
    var layout = ParameterLayout()
    let ref = layout.declare("w", shape: [3001])
    let parameters = Parameters(layout)
    let g = parameters.gradient(ref)
    for i in 0..<ref.count { g[i] = i == 7 ? 4 : i == 2000 ? -3 : 0 }
    XCTAssertEqual(parameters.finiteGradientNorm(), 5)
    for bad in [Float.nan, .infinity, -.infinity] {
      for i in [0, 1500, 3000] {
        let saved = g[i]
        g[i] = bad
        XCTAssertNil(parameters.finiteGradientNorm(), "\(bad) at \(i)")
        g[i] = saved
      }
    }
    g[5] = 1e30
    XCTAssertEqual(parameters.finiteGradientNorm(), .infinity, "squares past Float.greatestFiniteMagnitude")
  }

  /// The backend's finiteness check and sum of squares at every length up to 40 (each SIMD lane,
  /// and a tail after whole vectors): a NaN or an infinity at any position is found, and the sum
  /// matches a Double reference.
  func testFinitenessAndSumOfSquaresAtEveryLength() {
    let backend = CPUBackend()
    var generator = RandomGenerator(seed: 41)
    for n in 1...40 {
      var x = (0..<n).map { _ in generator.normal(deviation: 2) }
      let reference = x.reduce(0.0) { $0 + Double($1) * Double($1) }
      XCTAssertEqual(backend.sumOfSquares(n, x), reference, accuracy: 1e-6 * reference, "length \(n)")
      XCTAssert(backend.allFinite(n, x), "length \(n)")
      for i in 0..<n {
        for bad in [Float.nan, .infinity, -.infinity] {
          let saved = x[i]
          x[i] = bad
          XCTAssertFalse(backend.allFinite(n, x), "\(bad) at \(i) of \(n)")
          x[i] = saved
        }
      }
    }
  }

  // MARK: - Helpers

  /// A store holding `a [3]` and `b [2, 2]` (each padded for alignment), values set to `start`.
  private func makeParameters() -> (Parameters, [ParameterRef]) {
    var layout = ParameterLayout()
    let refs = [layout.declare("a", shape: [3]), layout.declare("b", shape: [2, 2])]
    let parameters = Parameters(layout)
    write(start, into: parameters.values, refs)
    return (parameters, refs)
  }

  /// Writes the concatenation of `refs`' elements.
  private func write(_ values: [Double], into buffer: UnsafeMutableBufferPointer<Float>, _ refs: [ParameterRef]) {
    let places = refs.flatMap { $0.offset..<$0.offset + $0.count }
    for (place, value) in zip(places, values) { buffer[place] = Float(value) }
  }

  /// Reads the concatenation of `refs`' elements.
  private func read(_ buffer: UnsafeMutableBufferPointer<Float>, _ refs: [ParameterRef]) -> [Float] {
    read(UnsafeBufferPointer(buffer), refs)
  }

  private func read(_ buffer: UnsafeBufferPointer<Float>, _ refs: [ParameterRef]) -> [Float] {
    refs.flatMap { $0.offset..<$0.offset + $0.count }.map { buffer[$0] }
  }
}

final class OptimizerMinimizeTests: XCTestCase {
  /// `minimize` is one step of zeroing, backward, clipping and update; a non-finite loss changes nothing.
  func testMinimizeStepsAndSkipsNonFiniteLosses() {
    var layout = ParameterLayout()
    let linear = Linear(inputSize: 2, outputSize: 3, layout: &layout, name: "linear")
    let parameters = Parameters(layout)
    var generator = RandomGenerator(seed: 3)
    linear.initialize(parameters, using: &generator)
    let x = Tensor(shape: [4, 2], scalars: [1, 0, 0, 1, 1, 1, -1, 0])
    let targets: [Int32] = [0, 1, 2, 0]
    func loss(_ tape: Tape) -> Variable {
      tape.softmaxCrossEntropy(linear(tape.input(x), parameters: parameters, on: tape), targets: targets)
    }
    var sgd = Optimizer(.sgd, parameterCount: parameters.count)
    let first = sgd.minimize(parameters, learningRate: 0.5, clipNorm: nil, loss: loss)
    for _ in 0..<50 { sgd.minimize(parameters, learningRate: 0.5, clipNorm: 1, loss: loss) }
    XCTAssertLessThan(sgd.minimize(parameters, learningRate: 0.5, loss: loss), first / 4)
    XCTAssertEqual(sgd.steps, 52)

    let before = Array(parameters.values)
    let nan = Tensor(shape: [4, 2], repeating: .nan)
    let result = sgd.minimize(parameters, learningRate: 0.5) { tape in
      tape.softmaxCrossEntropy(linear(tape.input(nan), parameters: parameters, on: tape), targets: targets)
    }
    XCTAssertTrue(result.isNaN)
    XCTAssertEqual(Array(parameters.values), before)
    XCTAssertEqual(sgd.steps, 52)
  }
}
