import CKernels

/// The matrix-multiply library in use: oneDNN, OpenBLAS (with its kernel forced to this CPU's) or
/// the built-in C kernel, chosen at run time by measured preference. See `Sources/CKernels/blas.c`.
public enum BLAS {
  /// Which library to load.
  public enum Backend: String, Sendable, CaseIterable {
    case automatic, builtin, onednn, openblas

    var c: rnn_blas_backend {
      switch self {
      case .automatic: RNN_BLAS_AUTO
      case .builtin: RNN_BLAS_BUILTIN
      case .onednn: RNN_BLAS_ONEDNN
      case .openblas: RNN_BLAS_OPENBLAS
      }
    }
  }

  /// Chooses the library and its thread count (`threads <= 0`: one per core). Only the first
  /// call (or first matrix product) decides; returns the backend that runs.
  @discardableResult
  public static func configure(_ backend: Backend = .automatic, threads: Int = 0) -> Backend {
    switch rnn_blas_init(backend.c, Int32(clamping: threads)) {
    case RNN_BLAS_ONEDNN: .onednn
    case RNN_BLAS_OPENBLAS: .openblas
    default: .builtin
    }
  }

  /// One line naming the library, version, kernel and threads, e.g. "oneDNN 2.6.3 (avx512_core_amx), 2 threads".
  public static var description: String { String(cString: rnn_blas_description()) }

  /// The number of threads the matrix products use.
  public static var threads: Int { Int(rnn_blas_threads()) }

  /// Runs `body` with this thread's signals held back (delivered when it returns): oneDNN's
  /// kernels must not be interrupted by a signal handler, so each product holds them, and work
  /// made of many small products (a training step, scoring a text) holds them once around all
  /// of them instead, saving two system calls per product.
  @inlinable
  public static func holdingSignals<Result>(_ body: () throws -> Result) rethrows -> Result {
    rnn_hold_signals()
    defer { rnn_release_signals() }
    return try body()
  }

  /// `gemm` with the rows of `C` split across `Parallel.width` threads (for large products).
  @inlinable
  public static func parallelGemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
    alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int? = nil,
    _ b: UnsafePointer<Float>, ldb: Int? = nil,
    beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int? = nil
  ) {
    let lda = lda ?? (transposeA ? m : k)
    let ldc = ldc ?? n
    let a = UncheckedBox(a), c = UncheckedBox(c)
    Parallel.split(m) { rows in
      gemm(
        transposeA, transposeB, rows.count, n, k, alpha: alpha,
        transposeA ? a.value + rows.lowerBound : a.value + rows.lowerBound * lda, lda: lda,
        b, ldb: ldb, beta: beta, c.value + rows.lowerBound * ldc, ldc: ldc)
    }
  }

  /// `C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C`, row-major, with `op` transposing
  /// when `transposeA` / `transposeB`. Leading dimensions default to contiguous storage.
  @inlinable
  public static func gemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
    alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int? = nil,
    _ b: UnsafePointer<Float>, ldb: Int? = nil,
    beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int? = nil
  ) {
    rnn_sgemm(
      transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha,
      a, lda ?? (transposeA ? m : k), b, ldb ?? (transposeB ? k : n), beta, c, ldc ?? n)
  }
}

extension BLAS {
  /// One term of a weight gradient: `dy [N, O]` (rows `ldy` apart) and `x [N, I]`.
  public struct GradientTerm {
    public let n: Int, dy: UnsafePointer<Float>, ldy: Int, x: UnsafePointer<Float>
    public init(n: Int, dy: UnsafePointer<Float>, ldy: Int, x: UnsafePointer<Float>) {
      (self.n, self.dy, self.ldy, self.x) = (n, dy, ldy, x)
    }
  }

  /// `w [O, I] += sum over terms of dy^T x`, a weight gradient, split across threads.
  ///
  /// When `O >= 4 I` (an LSTM's gate weights) it multiplies `x^T dy` into a scratch `[I, O]` and
  /// adds that transposed: oneDNN runs the product with the narrow operand transposed faster
  /// (`[3200, 1024 of 2048]^T x [3200, 512]` per core: 73-103 GFLOP/s; `[3200, 256 of 512]^T x
  /// [3200, 2048]`: 112-137); below that ratio the direct product was as fast or faster. With
  /// bf16 products the direct one is as fast or faster at every ratio (`[3200, 2048]^T x [3200,
  /// 512]` in oneDNN's bf16 gemm, one core: 7.8-9.9 ms against 9.3-10.0), so it saves the transpose.
  public static func accumulateWeightGradient(
    _ o: Int, _ i: Int, _ terms: [GradientTerm], into w: UnsafeMutablePointer<Float>
  ) {
    let terms = terms.filter { $0.n > 0 }
    guard !terms.isEmpty else { return }
    guard o >= 4 * i, productPrecision == .fp32 else {
      for term in terms { parallelGemm(true, false, o, i, term.n, term.dy, lda: term.ldy, term.x, beta: 1, w) }
      return
    }
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: i * o)
    defer { scratch.deallocate() }
    for (index, term) in terms.enumerated() {
      parallelGemm(true, false, i, o, term.n, term.x, lda: i, term.dy, ldb: term.ldy, beta: index == 0 ? 0 : 1, scratch)
    }
    let (source, target) = (UncheckedBox(UnsafePointer(scratch)), UncheckedBox(w))
    Parallel.split(o) { rows in
      rnn_transpose(i, rows.count, source.value + rows.lowerBound, o, target.value + rows.lowerBound * i, i, 1)
    }
  }
}
