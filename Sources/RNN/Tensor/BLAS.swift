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
    switch rnn_blas_init(backend.c, Int32(threads)) {
    case RNN_BLAS_ONEDNN: .onednn
    case RNN_BLAS_OPENBLAS: .openblas
    default: .builtin
    }
  }

  /// One line naming the library, version, kernel and threads, e.g. "oneDNN 2.6.3 (avx512_core_amx), 2 threads".
  public static var description: String { String(cString: rnn_blas_description()) }

  /// The number of threads the matrix products use.
  public static var threads: Int { Int(rnn_blas_threads()) }

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
