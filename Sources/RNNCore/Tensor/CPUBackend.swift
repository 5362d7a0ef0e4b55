import CKernels

/// The backend on this machine's cores: products through `BLAS` (oneDNN, OpenBLAS or the
/// built-in kernel, in the precision `BLAS.setProductPrecision` chose for the process), work split
/// by `Parallel`, and the vectorised kernels of `CKernels` (`recurrent.c`, `vector.c`,
/// `optimizers.c`). Holds no state: every `CPUBackend()` is the same one.
public struct CPUBackend: ComputeBackend {
  public init() {}

  public func gemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, alpha: Float,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    BLAS.gemm(transposeA, transposeB, m, n, k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
  }

  /// Rows of `C` split across `Parallel.width` threads.
  public func parallelGemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, alpha: Float,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    BLAS.parallelGemm(transposeA, transposeB, m, n, k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
  }

  public func accumulateWeightGradient(
    _ o: Int, _ i: Int, _ terms: [BLAS.GradientTerm], into w: UnsafeMutablePointer<Float>
  ) {
    BLAS.accumulateWeightGradient(o, i, terms, into: w)
  }

  public func transpose(
    _ rows: Int, _ columns: Int, _ source: UnsafePointer<Float>, lds: Int,
    _ destination: UnsafeMutablePointer<Float>, ldd: Int
  ) {
    rnn_transpose(rows, columns, source, lds, destination, ldd, 0)
  }

  /// Transposed on the fly below `H = 256`; from there a copy `[H, G*H]`, which oneDNN multiplies
  /// about twice as fast (`[16, 512] x [512, 2048]`: 154-173 against 71 GFLOP/s on two cores;
  /// 2x512 LSTM training +20-25%), and slower at `H = 128`. When the weight is held and its
  /// products run from a copy packed once per hold (`BLAS.packsHeld`: in fp32 with AVX-512, in
  /// bf16 on AMX tiles), which reads either layout as fast, always transposed.
  public func multipliesHiddenWeightsTransposed(
    _ weight: UnsafePointer<Float>, count: Int, hiddenSize: Int, rows: Int
  ) -> Bool {
    hiddenSize < 256 || BLAS.packsHeld(weight, count: count, rows: rows)
  }

  /// Holds the values constant until released (`BLAS.holdConstant`): rounded to bf16 once with bf16
  /// products, and packed once for our own kernel where a product of few rows reads them.
  public func holdConstant(_ values: UnsafePointer<Float>, count: Int) { BLAS.holdConstant(values, count: count) }

  public func releaseConstant(_ values: UnsafePointer<Float>) { BLAS.releaseConstant(values) }

  /// Holds this thread's signals back around `body` (`BLAS.holdingSignals`): oneDNN's kernels must
  /// not be interrupted by a signal handler, and one hold around many products saves two system
  /// calls per product.
  public func uninterrupted<Result>(_ body: () throws -> Result) rethrows -> Result {
    try BLAS.holdingSignals(body)
  }

  public func lstmForwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafeMutablePointer<Float>, _ cPrev: UnsafePointer<Float>,
    _ c: UnsafeMutablePointer<Float>, _ tanhC: UnsafeMutablePointer<Float>, _ hOut: UnsafeMutablePointer<Float>
  ) {
    rnn_lstm_forward_step(b, h, gates, cPrev, c, tanhC, hOut)
  }

  public func lstmBackwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafePointer<Float>, _ cPrev: UnsafePointer<Float>, _ tanhC: UnsafePointer<Float>,
    _ dy: UnsafePointer<Float>, _ dhNext: UnsafePointer<Float>, _ dc: UnsafeMutablePointer<Float>,
    _ dgates: UnsafeMutablePointer<Float>
  ) {
    rnn_lstm_backward_step(b, h, gates, cPrev, tanhC, dy, dhNext, dc, dgates)
  }

  public func gruForwardStep(
    _ b: Int, _ h: Int, _ u: Int, _ w: Int, _ xg: UnsafePointer<Float>, _ hg: UnsafePointer<Float>,
    _ bhh: UnsafePointer<Float>, _ hPrev: UnsafePointer<Float>, _ gates: UnsafeMutablePointer<Float>,
    _ hn: UnsafeMutablePointer<Float>, _ hOut: UnsafeMutablePointer<Float>
  ) {
    rnn_gru_forward_step(b, h, u, w, xg, hg, bhh, hPrev, gates, hn, hOut)
  }

  public func gruBackwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafePointer<Float>, _ hn: UnsafePointer<Float>, _ hPrev: UnsafePointer<Float>,
    _ dy: UnsafePointer<Float>, _ dhNext: UnsafePointer<Float>, _ dxg: UnsafeMutablePointer<Float>,
    _ dhg: UnsafeMutablePointer<Float>, _ dhPrev: UnsafeMutablePointer<Float>
  ) {
    rnn_gru_backward_step(b, h, gates, hn, hPrev, dy, dhNext, dxg, dhg, dhPrev)
  }

  public func elmanForwardStep(
    _ b: Int, _ h: Int, _ pre: UnsafePointer<Float>, _ hOut: UnsafeMutablePointer<Float>, relu: Bool
  ) {
    rnn_simple_forward_step(b, h, pre, hOut, relu ? 1 : 0)
  }

  public func elmanBackwardStep(
    _ b: Int, _ h: Int, _ hOut: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dhNext: UnsafePointer<Float>,
    _ dpre: UnsafeMutablePointer<Float>, relu: Bool
  ) {
    rnn_simple_backward_step(b, h, hOut, dy, dhNext, dpre, relu ? 1 : 0)
  }

  public func minGRUForwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafeMutablePointer<Float>, _ hPrev: UnsafePointer<Float>,
    _ hOut: UnsafeMutablePointer<Float>
  ) {
    rnn_mingru_forward_step(b, h, gates, hPrev, hOut)
  }

  public func minGRUBackwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafePointer<Float>, _ hPrev: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
    _ dh: UnsafeMutablePointer<Float>, _ dgates: UnsafeMutablePointer<Float>
  ) {
    rnn_mingru_backward_step(b, h, gates, hPrev, dy, dh, dgates)
  }

  /// Rows split across threads.
  public func fillRows(
    _ n: Int, _ m: Int, _ destination: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>?
  ) {
    Parallel.fillRows(n, m, destination, a, b)
  }

  /// Columns split across threads.
  public func addColumnSums(_ n: Int, _ m: Int, _ x: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>) {
    Parallel.addColumnSums(n, m, x, into: sums)
  }

  /// Rows split across threads.
  public func gatherRows(
    _ indices: UnsafeBufferPointer<Int32>, _ m: Int, from table: UnsafePointer<Float>,
    into destination: UnsafeMutablePointer<Float>
  ) {
    let (target, source, indices) = (UncheckedBox(destination), UncheckedBox(table), UncheckedBox(indices))
    Parallel.split(indices.value.count) { range in
      for n in range {
        (target.value + n * m).update(from: source.value + Int(indices.value[n]) * m, count: m)
      }
    }
  }

  /// Columns split across threads, so that each element's sum keeps the order of `n`.
  public func scatterAddRows(
    _ indices: UnsafeBufferPointer<Int32>, _ m: Int, from source: UnsafePointer<Float>,
    into table: UnsafeMutablePointer<Float>
  ) {
    let (target, source, indices) = (UncheckedBox(table), UncheckedBox(source), UncheckedBox(indices))
    Parallel.split(m) { columns in
      for (n, index) in indices.value.enumerated() {
        rnn_add(
          columns.count, target.value + Int(index) * m + columns.lowerBound, source.value + n * m + columns.lowerBound)
      }
    }
  }

  public func add(_ count: Int, _ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>) { rnn_add(count, x, y) }

  public func multiply(_ count: Int, _ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>) {
    rnn_multiply(count, x, y)
  }

  public func scale(_ count: Int, _ x: UnsafeMutablePointer<Float>, by factor: Float) { rnn_scale(count, x, factor) }

  public func clamp(_ count: Int, _ x: UnsafeMutablePointer<Float>, to limit: Float) { rnn_clamp(count, x, limit) }

  public func sumOfSquares(_ count: Int, _ x: UnsafePointer<Float>) -> Double { rnn_sum_squares(count, x) }

  public func allFinite(_ count: Int, _ x: UnsafePointer<Float>) -> Bool { rnn_all_finite(count, x) != 0 }

  public func dropoutMask(
    _ outer: Int, _ rows: Int, _ first: Int, _ kept: Int, _ width: Int, _ mask: UnsafeMutablePointer<Float>,
    probability p: Float, state: UnsafeMutablePointer<UInt32>
  ) {
    rnn_dropout_mask(outer, rows, first, kept, width, mask, p, state)
  }

  public func softmaxCrossEntropy(
    _ n: Int, _ v: Int, _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, scale: Float,
    _ dlogits: UnsafeMutablePointer<Float>?
  ) -> Double {
    rnn_softmax_cross_entropy(n, v, logits, targets, scale, dlogits)
  }

  public func adamStep(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
    _ v: UnsafeMutablePointer<Float>, learningRate: Float, beta1: Float, beta2: Float, oneMinusBeta1: Float,
    oneMinusBeta2: Float, epsilon: Float, bias1: Float, bias2: Float
  ) {
    rnn_adam_step(count, p, g, m, v, learningRate, beta1, beta2, oneMinusBeta1, oneMinusBeta2, epsilon, bias1, bias2)
  }

  public func rmspropStep(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>,
    learningRate: Float, alpha: Float, oneMinusAlpha: Float, epsilon: Float
  ) {
    rnn_rmsprop_step(count, p, g, v, learningRate, alpha, oneMinusAlpha, epsilon)
  }

  public func sgdStep(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ buffer: UnsafeMutablePointer<Float>,
    learningRate: Float, momentum: Float
  ) {
    rnn_sgd_step(count, p, g, buffer, learningRate, momentum)
  }
}
