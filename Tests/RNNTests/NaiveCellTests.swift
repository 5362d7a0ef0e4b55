import Foundation
import XCTest

@testable import RNN
@testable import RNNCore

/// The fused layers (one GEMM per step, fused pointwise kernels, float32) against a plain,
/// step-by-step, scalar Double version of each cell written from PyTorch's documented formulas:
/// outputs and final states over a long sequence (`T` 20, `B` 3, `D` 5, `H` 6), a single
/// sequence (`B` 1), the empty sequence (`T` 0), and a sequence run in two pieces with the state
/// carried across (forward and backward).
final class NaiveCellTests: XCTestCase {
  func testLSTMMatchesNaive() { checkAgainstNaive(.lstm, time: 20, batch: 3) }
  func testGRUMatchesNaive() { checkAgainstNaive(.gru, time: 20, batch: 3) }
  func testTanhRNNMatchesNaive() { checkAgainstNaive(.rnnTanh, time: 20, batch: 3) }
  func testReluRNNMatchesNaive() { checkAgainstNaive(.rnnRelu, time: 20, batch: 3) }

  func testSingleSequenceMatchesNaive() {
    for cell in CellKind.allCases { checkAgainstNaive(cell, time: 7, batch: 1) }
  }

  /// From `H = 256` the forward loop multiplies by a transposed copy of `W_hh` (`forwardHiddenWeights`).
  func testWideLayersMatchNaive() {
    for cell in CellKind.allCases { checkAgainstNaive(cell, time: 4, batch: 3, hidden: 256) }
  }

  private func checkAgainstNaive(_ cell: CellKind, time t: Int, batch b: Int, hidden h: Int = 6, line: UInt = #line) {
    let d = 5
    var generator = RandomGenerator(seed: 3000 + UInt64(t * 10 + b))
    let (layer, parameters) = makeLayer(cell, inputSize: d, hiddenSize: h, &generator)
    let x = random([t, b, d], &generator)
    let state = RecurrentState(
      h: random([b, h], &generator, deviation: 0.5), c: cell.hasCellState ? random([b, h], &generator) : nil)

    let (y, final, _) = layer.forward(x, state: state, parameters: parameters)
    let expected = NaiveCell(layer, parameters).run(x, state: state)
    let what = "\(cell) T=\(t) B=\(b)"
    assertClose(y, expected.y, relative: 1e-5, absolute: 1e-6, "\(what): y", line: line)
    assertClose(final.h, expected.state.h, relative: 1e-5, absolute: 1e-6, "\(what): h_n", line: line)
    XCTAssertEqual(final.c == nil, !cell.hasCellState, "\(what): c_n present exactly for an LSTM", line: line)
    if let c = final.c { assertClose(c, expected.state.c!, relative: 1e-5, absolute: 1e-6, "\(what): c_n", line: line) }
  }

  /// `T = 0`: the output is `[0,B,H]`, the final state is the initial one, and backward passes the
  /// state gradient straight through without touching the parameters' gradients.
  func testEmptySequence() {
    for cell in CellKind.allCases {
      let (b, d, h) = (3, 5, 6)
      var generator = RandomGenerator(seed: 3100)
      let (layer, parameters) = makeLayer(cell, inputSize: d, hiddenSize: h, &generator)
      let state = RecurrentState(
        h: random([b, h], &generator), c: cell.hasCellState ? random([b, h], &generator) : nil)
      let (y, final, cache) = layer.forward(.zeros([0, b, d]), state: state, parameters: parameters)
      XCTAssertEqual(y.shape, [0, b, h], "\(cell)")
      XCTAssertEqual(final, state, "\(cell)")

      let dState = RecurrentState(
        h: random([b, h], &generator), c: cell.hasCellState ? random([b, h], &generator) : nil)
      parameters.zeroGradients()
      let grads = layer.backward(.zeros([0, b, h]), dState: dState, cache: cache, parameters: parameters)
      XCTAssertEqual(grads.dx.shape, [0, b, d], "\(cell)")
      XCTAssertEqual(grads.dState, dState, "\(cell)")
      XCTAssert(parameters.gradients.allSatisfy { $0 == 0 }, "\(cell): parameter gradients touched")
    }
  }

  /// An LSTM given no `c0` starts from zeros.
  func testLSTMWithoutCellStateStartsFromZero() {
    var generator = RandomGenerator(seed: 3200)
    let (layer, parameters) = makeLayer(.lstm, inputSize: 5, hiddenSize: 6, &generator)
    let x = random([4, 2, 5], &generator)
    let h0 = random([2, 6], &generator)
    let implicit = layer.forward(x, state: RecurrentState(h: h0), parameters: parameters)
    let explicit = layer.forward(x, state: RecurrentState(h: h0, c: .zeros([2, 6])), parameters: parameters)
    XCTAssertEqual(implicit.y, explicit.y)
    XCTAssertEqual(implicit.state, explicit.state)
  }

  /// Running `[0, T1)` then `[T1, T)` from the carried state equals running `[0, T)` at once; so
  /// does backward through the two pieces, the second piece's state gradient seeding the first's.
  func testStateCarriesAcrossPieces() {
    for cell in CellKind.allCases {
      let (t, t1, b, d, h) = (12, 5, 3, 5, 6)
      var generator = RandomGenerator(seed: 3300)
      let (layer, parameters) = makeLayer(cell, inputSize: d, hiddenSize: h, &generator)
      let x = random([t, b, d], &generator)
      let state = RecurrentState(
        h: random([b, h], &generator), c: cell.hasCellState ? random([b, h], &generator) : nil)
      let dy = random([t, b, h], &generator)
      let dFinal = RecurrentState(
        h: random([b, h], &generator), c: cell.hasCellState ? random([b, h], &generator) : nil)
      let first = (0..<t1).map { slice(x, $0) }
      let second = (t1..<t).map { slice(x, $0) }

      // At once.
      parameters.zeroGradients()
      let whole = layer.forward(x, state: state, parameters: parameters)
      let wholeGrads = layer.backward(dy, dState: dFinal, cache: whole.cache, parameters: parameters)
      let wholeParameterGrads = parameters.layout.entries.map { parameters.gradientTensor($0.ref) }

      // In two pieces.
      parameters.zeroGradients()
      let a = layer.forward(stack(first), state: state, parameters: parameters)
      let b2 = layer.forward(stack(second), state: a.state, parameters: parameters)
      let what = "\(cell)"
      assertClose(
        stack((0..<t1).map { slice(a.y, $0) } + (0..<t - t1).map { slice(b2.y, $0) }), whole.y,
        relative: 1e-6, absolute: 1e-7, "\(what): y")
      assertClose(b2.state.h, whole.state.h, relative: 1e-6, absolute: 1e-7, "\(what): h_n")
      if cell.hasCellState { assertClose(b2.state.c!, whole.state.c!, relative: 1e-6, absolute: 1e-7, "\(what): c_n") }

      let dySecond = stack((t1..<t).map { slice(dy, $0) })
      let dyFirst = stack((0..<t1).map { slice(dy, $0) })
      let gradsSecond = layer.backward(dySecond, dState: dFinal, cache: b2.cache, parameters: parameters)
      let gradsFirst = layer.backward(dyFirst, dState: gradsSecond.dState, cache: a.cache, parameters: parameters)
      let dx = stack((0..<t1).map { slice(gradsFirst.dx, $0) } + (0..<t - t1).map { slice(gradsSecond.dx, $0) })
      assertClose(dx, wholeGrads.dx, relative: 1e-5, absolute: 1e-6, "\(what): dx")
      assertClose(gradsFirst.dState.h, wholeGrads.dState.h, relative: 1e-5, absolute: 1e-6, "\(what): dh0")
      if cell.hasCellState {
        assertClose(gradsFirst.dState.c!, wholeGrads.dState.c!, relative: 1e-5, absolute: 1e-6, "\(what): dc0")
      }
      for (entry, expected) in zip(parameters.layout.entries, wholeParameterGrads) {
        assertClose(
          parameters.gradientTensor(entry.ref), expected, relative: 1e-5, absolute: 1e-6, "\(what): grad \(entry.name)")
      }
    }
  }

  /// With two threads a GRU's forward time loop shares each step by hidden units; giving each
  /// thread a slice of the batch instead must give the same outputs, states and gradients, padded
  /// rows included.
  func testStepsSharedByUnitsMatchBatchSlices() throws {
    try XCTSkipIf(Parallel.width != 2, "the two ways to split a time loop need two threads")
    defer { Parallel.timeStepsSharedByUnits = true }
    for h in [5, 40, 256] {
      let (t, b, d) = (7, 5, 6)
      var generator = RandomGenerator(seed: 3300 + UInt64(h))
      let (layer, parameters) = makeLayer(.gru, inputSize: d, hiddenSize: h, &generator)
      let x = random([t, b, d], &generator)
      let state = RecurrentState(h: random([b, h], &generator))
      let dy = random([t, b, h], &generator)
      let dState = RecurrentState(h: random([b, h], &generator))
      func run(sharedByUnits: Bool) -> [Tensor] {
        Parallel.timeStepsSharedByUnits = sharedByUnits
        parameters.zeroGradients()
        let (y, final, cache) = layer.forward(x, state: state, lengths: [7, 3, 0, 5, 7], parameters: parameters)
        let (dx, dInitial) = layer.backward(dy, dState: dState, cache: cache, parameters: parameters)
        let gradients = Tensor(shape: [parameters.gradients.count], scalars: Array(parameters.gradients))
        return [y, final.h, dx, dInitial.h, gradients]
      }
      let (units, slices) = (run(sharedByUnits: true), run(sharedByUnits: false))
      for (index, (a, b)) in zip(units, slices).enumerated() {
        assertClose(a, b, relative: 1e-5, absolute: 1e-6, "H=\(h): result \(index) (y, h_n, dx, dh0, gradients)")
      }
    }
  }

  // MARK: - Helpers

  /// A layer with PyTorch's initialisation, from `generator`.
  private func makeLayer(_ cell: CellKind, inputSize: Int, hiddenSize: Int, _ generator: inout RandomGenerator)
    -> (RecurrentLayer, Parameters)
  {
    var layout = ParameterLayout()
    let layer = RecurrentLayer(cell, inputSize: inputSize, hiddenSize: hiddenSize, layout: &layout)
    let parameters = Parameters(layout)
    layer.initialize(parameters, using: &generator)
    return (layer, parameters)
  }

  /// A tensor of normal samples.
  private func random(_ shape: [Int], _ generator: inout RandomGenerator, deviation: Float = 1) -> Tensor {
    Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.normal(deviation: deviation) })
  }
}

/// One recurrent layer computed the obvious way: scalar Double arithmetic, one sequence and one
/// step at a time, each gate written out as in the `torch.nn.LSTM` / `GRU` / `RNN` documentation.
private struct NaiveCell {
  let cell: CellKind
  let d: Int
  let h: Int
  /// `W_ih [G*H, D]`, `W_hh [G*H, H]`, `b_ih [G*H]`, `b_hh [G*H]`, row-major, in Double.
  let wIH: [Double]
  let wHH: [Double]
  let bIH: [Double]
  let bHH: [Double]

  init(_ layer: RecurrentLayer, _ parameters: Parameters) {
    cell = layer.kind!
    d = layer.inputSize
    h = layer.hiddenSize
    func values(_ ref: ParameterRef) -> [Double] { parameters.tensor(ref).scalars.map(Double.init) }
    wIH = values(layer.weightIH)
    wHH = values(layer.weightHH)
    bIH = values(layer.biasIH)
    bHH = values(layer.biasHH)
  }

  /// Row `gate * H + j` of `W_ih x + b_ih`.
  func inputPart(_ gate: Int, _ j: Int, _ x: [Double]) -> Double {
    let row = gate * h + j
    var sum = bIH[row]
    for k in 0..<d { sum += wIH[row * d + k] * x[k] }
    return sum
  }

  /// Row `gate * H + j` of `W_hh h + b_hh`.
  func hiddenPart(_ gate: Int, _ j: Int, _ hPrev: [Double]) -> Double {
    let row = gate * h + j
    var sum = bHH[row]
    for k in 0..<h { sum += wHH[row * h + k] * hPrev[k] }
    return sum
  }

  func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }

  /// One step of one sequence: `(h', c')` from `x`, `h`, `c`.
  func step(_ x: [Double], _ hPrev: [Double], _ cPrev: [Double]) -> (h: [Double], c: [Double]) {
    var hNext = [Double](repeating: 0, count: h)
    var cNext = [Double](repeating: 0, count: h)
    for j in 0..<h {
      switch cell {
      case .lstm:
        // i = σ(W_ii x + b_ii + W_hi h + b_hi), f, g (tanh), o likewise; c' = f c + i g; h' = o tanh(c').
        let i = sigmoid(inputPart(0, j, x) + hiddenPart(0, j, hPrev))
        let f = sigmoid(inputPart(1, j, x) + hiddenPart(1, j, hPrev))
        let g = tanh(inputPart(2, j, x) + hiddenPart(2, j, hPrev))
        let o = sigmoid(inputPart(3, j, x) + hiddenPart(3, j, hPrev))
        cNext[j] = f * cPrev[j] + i * g
        hNext[j] = o * tanh(cNext[j])
      case .gru:
        // r = σ(W_ir x + b_ir + W_hr h + b_hr); z likewise; n = tanh(W_in x + b_in + r (W_hn h + b_hn));
        // h' = (1 - z) n + z h.
        let r = sigmoid(inputPart(0, j, x) + hiddenPart(0, j, hPrev))
        let z = sigmoid(inputPart(1, j, x) + hiddenPart(1, j, hPrev))
        let n = tanh(inputPart(2, j, x) + r * hiddenPart(2, j, hPrev))
        hNext[j] = (1 - z) * n + z * hPrev[j]
      case .rnnTanh:
        // h' = tanh(W_ih x + b_ih + W_hh h + b_hh).
        hNext[j] = tanh(inputPart(0, j, x) + hiddenPart(0, j, hPrev))
      case .rnnRelu:
        // h' = relu(W_ih x + b_ih + W_hh h + b_hh).
        hNext[j] = max(0, inputPart(0, j, x) + hiddenPart(0, j, hPrev))
      }
    }
    return (hNext, cNext)
  }

  /// Every step of `x [T,B,D]` from `state`: outputs `[T,B,H]` and the final state, as float32.
  func run(_ x: Tensor, state: RecurrentState) -> (y: Tensor, state: RecurrentState) {
    let (t, b) = (x.shape[0], x.shape[1])
    var y = [Float](repeating: 0, count: t * b * h)
    var hN = [Float](repeating: 0, count: b * h)
    var cN = [Float](repeating: 0, count: b * h)
    for n in 0..<b {
      var hs = state.h.scalars[n * h..<(n + 1) * h].map(Double.init)
      var cs = state.c.map { $0.scalars[n * h..<(n + 1) * h].map(Double.init) } ?? [Double](repeating: 0, count: h)
      for s in 0..<t {
        let xs = x.scalars[(s * b + n) * d..<(s * b + n + 1) * d].map(Double.init)
        (hs, cs) = step(xs, hs, cs)
        for j in 0..<h { y[(s * b + n) * h + j] = Float(hs[j]) }
      }
      for j in 0..<h { (hN[n * h + j], cN[n * h + j]) = (Float(hs[j]), Float(cs[j])) }
    }
    return (
      Tensor(shape: [t, b, h], scalars: y),
      RecurrentState(
        h: Tensor(shape: [b, h], scalars: hN), c: cell.hasCellState ? Tensor(shape: [b, h], scalars: cN) : nil)
    )
  }
}
