import RNN
import Synchronization

/// A test backend: `CPUBackend` with every call counted by requirement name, so that a test can
/// see what a layer, a loss or an optimizer asked the backend it was given for (and that the
/// numbers are the CPU's, unchanged). Calls come from several threads at once (`Parallel.split`).
final class CountingBackend: ComputeBackend {
  private let base = CPUBackend()
  private let counts = Mutex<[String: Int]>([:])

  /// The calls so far, by requirement name.
  var calls: [String: Int] { counts.withLock { $0 } }

  private func record(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }

  func gemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, alpha: Float, _ a: UnsafePointer<Float>,
    lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    record("gemm")
    base.gemm(transposeA, transposeB, m, n, k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
  }

  func parallelGemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, alpha: Float, _ a: UnsafePointer<Float>,
    lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    record("parallelGemm")
    base.parallelGemm(transposeA, transposeB, m, n, k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
  }

  func accumulateWeightGradient(_ o: Int, _ i: Int, _ terms: [BLAS.GradientTerm], into w: UnsafeMutablePointer<Float>) {
    record("accumulateWeightGradient")
    base.accumulateWeightGradient(o, i, terms, into: w)
  }

  func transpose(
    _ rows: Int, _ columns: Int, _ source: UnsafePointer<Float>, lds: Int, _ destination: UnsafeMutablePointer<Float>,
    ldd: Int
  ) {
    record("transpose")
    base.transpose(rows, columns, source, lds: lds, destination, ldd: ldd)
  }

  func multipliesHiddenWeightsTransposed(_ weight: UnsafePointer<Float>, count: Int, hiddenSize: Int, rows: Int) -> Bool {
    record("multipliesHiddenWeightsTransposed")
    return base.multipliesHiddenWeightsTransposed(weight, count: count, hiddenSize: hiddenSize, rows: rows)
  }

  func holdConstant(_ values: UnsafePointer<Float>, count: Int) {
    record("holdConstant")
    base.holdConstant(values, count: count)
  }

  func releaseConstant(_ values: UnsafePointer<Float>) {
    record("releaseConstant")
    base.releaseConstant(values)
  }

  func uninterrupted<Result>(_ body: () throws -> Result) rethrows -> Result {
    record("uninterrupted")
    return try base.uninterrupted(body)
  }

  func lstmForwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafeMutablePointer<Float>, _ cPrev: UnsafePointer<Float>,
    _ c: UnsafeMutablePointer<Float>, _ tanhC: UnsafeMutablePointer<Float>, _ hOut: UnsafeMutablePointer<Float>
  ) {
    record("lstmForwardStep")
    base.lstmForwardStep(b, h, gates, cPrev, c, tanhC, hOut)
  }

  func lstmBackwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafePointer<Float>, _ cPrev: UnsafePointer<Float>, _ tanhC: UnsafePointer<Float>,
    _ dy: UnsafePointer<Float>, _ dhNext: UnsafePointer<Float>, _ dc: UnsafeMutablePointer<Float>,
    _ dgates: UnsafeMutablePointer<Float>
  ) {
    record("lstmBackwardStep")
    base.lstmBackwardStep(b, h, gates, cPrev, tanhC, dy, dhNext, dc, dgates)
  }

  func gruForwardStep(
    _ b: Int, _ h: Int, _ u: Int, _ w: Int, _ xg: UnsafePointer<Float>, _ hg: UnsafePointer<Float>,
    _ bhh: UnsafePointer<Float>, _ hPrev: UnsafePointer<Float>, _ gates: UnsafeMutablePointer<Float>,
    _ hn: UnsafeMutablePointer<Float>, _ hOut: UnsafeMutablePointer<Float>
  ) {
    record("gruForwardStep")
    base.gruForwardStep(b, h, u, w, xg, hg, bhh, hPrev, gates, hn, hOut)
  }

  func gruBackwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafePointer<Float>, _ hn: UnsafePointer<Float>, _ hPrev: UnsafePointer<Float>,
    _ dy: UnsafePointer<Float>, _ dhNext: UnsafePointer<Float>, _ dxg: UnsafeMutablePointer<Float>,
    _ dhg: UnsafeMutablePointer<Float>, _ dhPrev: UnsafeMutablePointer<Float>
  ) {
    record("gruBackwardStep")
    base.gruBackwardStep(b, h, gates, hn, hPrev, dy, dhNext, dxg, dhg, dhPrev)
  }

  func elmanForwardStep(
    _ b: Int, _ h: Int, _ pre: UnsafePointer<Float>, _ hOut: UnsafeMutablePointer<Float>, relu: Bool
  ) {
    record("elmanForwardStep")
    base.elmanForwardStep(b, h, pre, hOut, relu: relu)
  }

  func elmanBackwardStep(
    _ b: Int, _ h: Int, _ hOut: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dhNext: UnsafePointer<Float>,
    _ dpre: UnsafeMutablePointer<Float>, relu: Bool
  ) {
    record("elmanBackwardStep")
    base.elmanBackwardStep(b, h, hOut, dy, dhNext, dpre, relu: relu)
  }

  func minGRUForwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafeMutablePointer<Float>, _ hPrev: UnsafePointer<Float>,
    _ hOut: UnsafeMutablePointer<Float>
  ) {
    record("minGRUForwardStep")
    base.minGRUForwardStep(b, h, gates, hPrev, hOut)
  }

  func minGRUBackwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafePointer<Float>, _ hPrev: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
    _ dh: UnsafeMutablePointer<Float>, _ dgates: UnsafeMutablePointer<Float>
  ) {
    record("minGRUBackwardStep")
    base.minGRUBackwardStep(b, h, gates, hPrev, dy, dh, dgates)
  }

  func fillRows(
    _ n: Int, _ m: Int, _ destination: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>?
  ) {
    record("fillRows")
    base.fillRows(n, m, destination, a, b)
  }

  func addColumnSums(_ n: Int, _ m: Int, _ x: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>) {
    record("addColumnSums")
    base.addColumnSums(n, m, x, into: sums)
  }

  func gatherRows(
    _ indices: UnsafeBufferPointer<Int32>, _ m: Int, from table: UnsafePointer<Float>,
    into destination: UnsafeMutablePointer<Float>
  ) {
    record("gatherRows")
    base.gatherRows(indices, m, from: table, into: destination)
  }

  func scatterAddRows(
    _ indices: UnsafeBufferPointer<Int32>, _ m: Int, from source: UnsafePointer<Float>,
    into table: UnsafeMutablePointer<Float>
  ) {
    record("scatterAddRows")
    base.scatterAddRows(indices, m, from: source, into: table)
  }

  func add(_ count: Int, _ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>) {
    record("add")
    base.add(count, x, y)
  }

  func multiply(_ count: Int, _ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>) {
    record("multiply")
    base.multiply(count, x, y)
  }

  func scale(_ count: Int, _ x: UnsafeMutablePointer<Float>, by factor: Float) {
    record("scale")
    base.scale(count, x, by: factor)
  }

  func clamp(_ count: Int, _ x: UnsafeMutablePointer<Float>, to limit: Float) {
    record("clamp")
    base.clamp(count, x, to: limit)
  }

  func sumOfSquares(_ count: Int, _ x: UnsafePointer<Float>) -> Double {
    record("sumOfSquares")
    return base.sumOfSquares(count, x)
  }

  func allFinite(_ count: Int, _ x: UnsafePointer<Float>) -> Bool {
    record("allFinite")
    return base.allFinite(count, x)
  }

  func dropoutMask(
    _ outer: Int, _ rows: Int, _ first: Int, _ kept: Int, _ width: Int, _ mask: UnsafeMutablePointer<Float>,
    probability p: Float, state: UnsafeMutablePointer<UInt32>
  ) {
    record("dropoutMask")
    base.dropoutMask(outer, rows, first, kept, width, mask, probability: p, state: state)
  }

  func softmaxCrossEntropy(
    _ n: Int, _ v: Int, _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, scale: Float,
    _ dlogits: UnsafeMutablePointer<Float>?
  ) -> Double {
    record("softmaxCrossEntropy")
    return base.softmaxCrossEntropy(n, v, logits, targets, scale: scale, dlogits)
  }

  func adamStep(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
    _ v: UnsafeMutablePointer<Float>, learningRate: Float, beta1: Float, beta2: Float, oneMinusBeta1: Float,
    oneMinusBeta2: Float, epsilon: Float, bias1: Float, bias2: Float
  ) {
    record("adamStep")
    base.adamStep(
      count, p, g, m, v, learningRate: learningRate, beta1: beta1, beta2: beta2, oneMinusBeta1: oneMinusBeta1,
      oneMinusBeta2: oneMinusBeta2, epsilon: epsilon, bias1: bias1, bias2: bias2)
  }

  func rmspropStep(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>,
    learningRate: Float, alpha: Float, oneMinusAlpha: Float, epsilon: Float
  ) {
    record("rmspropStep")
    base.rmspropStep(
      count, p, g, v, learningRate: learningRate, alpha: alpha, oneMinusAlpha: oneMinusAlpha, epsilon: epsilon)
  }

  func sgdStep(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ buffer: UnsafeMutablePointer<Float>,
    learningRate: Float, momentum: Float
  ) {
    record("sgdStep")
    base.sgdStep(count, p, g, buffer, learningRate: learningRate, momentum: momentum)
  }
}
