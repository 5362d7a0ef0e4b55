/// The numeric calls that the recurrent layers, the decoder (`Linear`), the embedding, dropout,
/// the tape, the losses and the optimizers make: matrix products, the built-in cells' fused time
/// steps, row and vector reductions, the loss kernel and the update rules. Every buffer is raw,
/// row-major `Float`s; `N` rows, `M` columns, and the library's legend (`B` batch, `H` hidden,
/// `V` vocabulary). A call covers a whole product or a whole time step of a slice of the batch,
/// never one element.
///
/// The layers get their backend from the `Parameters` they compute with (`parameters.backend`,
/// set when the store is made: `Parameters(layout, backend:)`, `CharLM(config, backend:)`,
/// `Model(backend:)`), so a model, its optimizer and its clipping all run on one backend; a `Tape`
/// has one for the losses and for gradients it adds up (`Tape(backend:)`). `CPUBackend` is the
/// one built in: `BLAS`, `Parallel` and the kernels of `CKernels`.
///
/// Threading is the caller's: a time loop runs each slice of the batch on its own thread
/// (`Parallel.split`) and calls `gemm` and the step kernels from there, concurrently; the
/// `parallel...` products and the row reductions split their own work.
public protocol ComputeBackend: Sendable {
  // MARK: Products

  /// `C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C` on the calling thread (a time step's
  /// product), `op` transposing when `transposeA` / `transposeB`; rows `lda`, `ldb`, `ldc` apart.
  func gemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, alpha: Float,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int)

  /// `gemm` for a large product (a whole sequence's), which the backend may split.
  func parallelGemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, alpha: Float,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int)

  /// `w [O, I] += sum over terms of dy^T x` (`dy [N, O]`, `x [N, I]` per term): a weight gradient.
  func accumulateWeightGradient(_ o: Int, _ i: Int, _ terms: [BLAS.GradientTerm], into w: UnsafeMutablePointer<Float>)

  /// `destination[j, i] = source[i, j]` for `source [rows, columns]`; rows `lds` and `ldd` apart.
  func transpose(
    _ rows: Int, _ columns: Int, _ source: UnsafePointer<Float>, lds: Int,
    _ destination: UnsafeMutablePointer<Float>, ldd: Int)

  /// Whether a forward time loop's product `h_{t-1} W_hh^T`, of at most `rows` rows, runs faster
  /// reading `W_hh [G*H, H]` (the `count` floats at `weight`) transposed on the fly (true) than
  /// from a copy laid out `[H, G*H]` (false).
  func multipliesHiddenWeightsTransposed(_ weight: UnsafePointer<Float>, count: Int, hiddenSize: Int, rows: Int) -> Bool

  /// Declares the `count` floats at `values` constant until `releaseConstant(values)` (holds
  /// nest): every product may read them from a copy prepared once (rounded to bf16, laid out for
  /// a kernel, on a device).
  func holdConstant(_ values: UnsafePointer<Float>, count: Int)

  /// Ends `holdConstant(values, count:)`.
  func releaseConstant(_ values: UnsafePointer<Float>)

  /// Runs `body`, the many products of a training step or of a chunk of scoring, as one region.
  func uninterrupted<Result>(_ body: () throws -> Result) rethrows -> Result

  // MARK: Fused cell steps (gate orders as PyTorch: LSTM i, f, g, o; GRU r, z, n)

  /// LSTM forward: `gates [B,4H]` in, the pre-activations; out, the activated gates. From
  /// `cPrev [B,H]` writes `c`, `tanhC = tanh(c)` and `h`, each `[B,H]`.
  func lstmForwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafeMutablePointer<Float>, _ cPrev: UnsafePointer<Float>,
    _ c: UnsafeMutablePointer<Float>, _ tanhC: UnsafeMutablePointer<Float>, _ hOut: UnsafeMutablePointer<Float>)

  /// LSTM backward: from the activated `gates [B,4H]`, `cPrev`, `tanhC`, `dy` and `dhNext`
  /// (`[B,H]` each) and `dc [B,H]` (in: reaching `c_t`; out: for `c_{t-1}`), writes `dgates [B,4H]`.
  func lstmBackwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafePointer<Float>, _ cPrev: UnsafePointer<Float>, _ tanhC: UnsafePointer<Float>,
    _ dy: UnsafePointer<Float>, _ dhNext: UnsafePointer<Float>, _ dc: UnsafeMutablePointer<Float>,
    _ dgates: UnsafeMutablePointer<Float>)

  /// GRU forward for hidden units `[u, u+w)`: from `xg [B,3H]`, `hg [B,3w] = h_{t-1} W_hh^T` of
  /// these units, `bhh [3H]` and `hPrev [B,H]`, writes these units' columns of `gates [B,3H]`
  /// (may be `xg`), `hn [B,H]` (`W_hn h + b_hn`) and `h [B,H]`.
  func gruForwardStep(
    _ b: Int, _ h: Int, _ u: Int, _ w: Int, _ xg: UnsafePointer<Float>, _ hg: UnsafePointer<Float>,
    _ bhh: UnsafePointer<Float>, _ hPrev: UnsafePointer<Float>, _ gates: UnsafeMutablePointer<Float>,
    _ hn: UnsafeMutablePointer<Float>, _ hOut: UnsafeMutablePointer<Float>)

  /// GRU backward: writes `dxg [B,3H]`, `dhg [B,3H]` (the gradient of `hg`) and `dhPrev [B,H]`,
  /// the part of `h_{t-1}`'s gradient that does not pass through `W_hh`.
  func gruBackwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafePointer<Float>, _ hn: UnsafePointer<Float>, _ hPrev: UnsafePointer<Float>,
    _ dy: UnsafePointer<Float>, _ dhNext: UnsafePointer<Float>, _ dxg: UnsafeMutablePointer<Float>,
    _ dhg: UnsafeMutablePointer<Float>, _ dhPrev: UnsafeMutablePointer<Float>)

  /// Elman forward: `h = tanh(pre)`, or `max(pre, 0)` with `relu`; `pre`, `h` `[B,H]`.
  func elmanForwardStep(
    _ b: Int, _ h: Int, _ pre: UnsafePointer<Float>, _ hOut: UnsafeMutablePointer<Float>, relu: Bool)

  /// Elman backward: `dpre = (dy + dhNext) * act'(h)`, all `[B,H]`.
  func elmanBackwardStep(
    _ b: Int, _ h: Int, _ hOut: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dhNext: UnsafePointer<Float>,
    _ dpre: UnsafeMutablePointer<Float>, relu: Bool)

  /// minGRU forward: `gates [B,2H]` in, `z` (pre-activation) and `h~`; out, `sigmoid(z)` and `h~`.
  /// Writes `h = (1 - z) * hPrev + z * h~ [B,H]`.
  func minGRUForwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafeMutablePointer<Float>, _ hPrev: UnsafePointer<Float>,
    _ hOut: UnsafeMutablePointer<Float>)

  /// minGRU backward: `dh [B,H]` in, reaching `h_t` from step `t+1`; out, `h_{t-1}`'s. Writes
  /// `dgates [B,2H]`.
  func minGRUBackwardStep(
    _ b: Int, _ h: Int, _ gates: UnsafePointer<Float>, _ hPrev: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
    _ dh: UnsafeMutablePointer<Float>, _ dgates: UnsafeMutablePointer<Float>)

  // MARK: Rows

  /// `destination[n, :] = a + b` for `N` rows of width `M` (`b` may be nil): biases a product adds to.
  func fillRows(
    _ n: Int, _ m: Int, _ destination: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>?)

  /// `sums[j] += sum over n of x[n, j]` for `x [N, M]`: a bias gradient.
  func addColumnSums(_ n: Int, _ m: Int, _ x: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>)

  /// `destination[n, :] = table[indices[n], :]`, rows of width `M` (indices already checked).
  func gatherRows(
    _ indices: UnsafeBufferPointer<Int32>, _ m: Int, from table: UnsafePointer<Float>,
    into destination: UnsafeMutablePointer<Float>)

  /// `table[indices[n], :] += source[n, :]` in the order of `n`, rows of width `M`.
  func scatterAddRows(
    _ indices: UnsafeBufferPointer<Int32>, _ m: Int, from source: UnsafePointer<Float>,
    into table: UnsafeMutablePointer<Float>)

  // MARK: Vectors

  /// `x[i] += y[i]` for `count` floats.
  func add(_ count: Int, _ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>)

  /// `x[i] *= y[i]`.
  func multiply(_ count: Int, _ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>)

  /// `x[i] *= factor`.
  func scale(_ count: Int, _ x: UnsafeMutablePointer<Float>, by factor: Float)

  /// `x[i] = min(max(x[i], -limit), limit)`.
  func clamp(_ count: Int, _ x: UnsafeMutablePointer<Float>, to limit: Float)

  /// The sum of `x[i]^2`, accumulated in double.
  func sumOfSquares(_ count: Int, _ x: UnsafePointer<Float>) -> Double

  /// Whether every `x[i]` is finite.
  func allFinite(_ count: Int, _ x: UnsafePointer<Float>) -> Bool

  /// An inverted-dropout mask `[outer, rows, width]`, of which rows `first ..< first + kept` are
  /// written to `mask` (`[outer, kept, width]`): each element `0` with probability `p`, else
  /// `1/(1-p)`, drawn from the four words of `state` (advanced).
  func dropoutMask(
    _ outer: Int, _ rows: Int, _ first: Int, _ kept: Int, _ width: Int, _ mask: UnsafeMutablePointer<Float>,
    probability p: Float, state: UnsafeMutablePointer<UInt32>)

  // MARK: Loss

  /// Softmax cross-entropy over `logits [N, V]` against `targets [N]` (negative: skipped):
  /// returns the sum of `-log p[target]` in double and, when `dlogits` is given, writes
  /// `scale * (p - onehot)` there (zero rows for skipped targets).
  func softmaxCrossEntropy(
    _ n: Int, _ v: Int, _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, scale: Float,
    _ dlogits: UnsafeMutablePointer<Float>?
  ) -> Double

  // MARK: Update rules over `count` parameters `p` and gradients `g` (PyTorch's)

  /// Adam: `m`, `v` the moments; `oneMinusBeta1`, `oneMinusBeta2` computed in double by the
  /// caller; `bias1`, `bias2` the bias corrections of this update.
  func adamStep(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
    _ v: UnsafeMutablePointer<Float>, learningRate: Float, beta1: Float, beta2: Float, oneMinusBeta1: Float,
    oneMinusBeta2: Float, epsilon: Float, bias1: Float, bias2: Float)

  /// RMSprop: `v` the squared average; `oneMinusAlpha` computed in double by the caller.
  func rmspropStep(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>,
    learningRate: Float, alpha: Float, oneMinusAlpha: Float, epsilon: Float)

  /// SGD with momentum: `buffer` the momentum (unused at momentum 0).
  func sgdStep(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ buffer: UnsafeMutablePointer<Float>,
    learningRate: Float, momentum: Float)
}

extension ComputeBackend {
  /// `gemm` with contiguous leading dimensions by default and `alpha` 1.
  @inlinable
  public func gemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>,
    lda: Int? = nil, _ b: UnsafePointer<Float>, ldb: Int? = nil, beta: Float, _ c: UnsafeMutablePointer<Float>
  ) {
    gemm(
      transposeA, transposeB, m, n, k, alpha: 1, a, lda: lda ?? (transposeA ? m : k), b,
      ldb: ldb ?? (transposeB ? k : n), beta: beta, c, ldc: n)
  }

  /// `parallelGemm` with contiguous leading dimensions by default and `alpha` 1.
  @inlinable
  public func parallelGemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>,
    lda: Int? = nil, _ b: UnsafePointer<Float>, ldb: Int? = nil, beta: Float, _ c: UnsafeMutablePointer<Float>
  ) {
    parallelGemm(
      transposeA, transposeB, m, n, k, alpha: 1, a, lda: lda ?? (transposeA ? m : k), b,
      ldb: ldb ?? (transposeB ? k : n), beta: beta, c, ldc: n)
  }

  /// `holdConstant` for all of `parameters`' values (a step's or a scoring's weights).
  public func holdConstant(_ parameters: Parameters) {
    holdConstant(parameters.values.baseAddress!, count: parameters.count)
  }

  /// Ends `holdConstant(parameters)`.
  public func releaseConstant(_ parameters: Parameters) { releaseConstant(parameters.values.baseAddress!) }
}
