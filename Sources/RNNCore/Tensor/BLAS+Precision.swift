import CKernels

extension BLAS {
  /// The precision of the matrix products (training, the sequence model).
  public enum ProductPrecision: String, Sendable, CaseIterable {
    /// float32 operands and products.
    case fp32
    /// Both operands rounded to bfloat16 (nearest even), products accumulated in fp32, by
    /// oneDNN's `dnnl_gemm_bf16bf16f32` (AMX tiles or AVX512-BF16); outputs stay fp32.
    case bf16
  }

  /// Asks for products in `precision` (for the whole process, as `configure`); returns the
  /// precision that runs: fp32 where bf16 is unavailable (`bf16Kernel` says why).
  @discardableResult
  public static func setProductPrecision(_ precision: ProductPrecision) -> ProductPrecision {
    rnn_blas_set_precision(precision == .bf16 ? RNN_PRECISION_BF16 : RNN_PRECISION_FP32) == RNN_PRECISION_BF16
      ? .bf16 : .fp32
  }

  /// The precision products run in now.
  public static var productPrecision: ProductPrecision { rnn_blas_precision() == RNN_PRECISION_BF16 ? .bf16 : .fp32 }

  /// Whether products of at most `rows` rows against `values [count]` run on our own kernel from
  /// a copy packed once per hold, in either layout: the values lie in a held buffer
  /// (`holdConstant`), `rows` is at most 128, and the CPU has AVX-512 (fp32 products) or AMX tiles
  /// (bf16 products). A time loop's weight then needs no re-laid-out copy.
  public static func packsHeld(_ values: UnsafePointer<Float>, count: Int, rows: Int) -> Bool {
    rnn_blas_packs_held(values, count, rows) != 0
  }

  /// The kernel that runs bf16 products, or why none can on this machine.
  public static var bf16Kernel: String { String(cString: rnn_blas_bf16_kernel()) }

  /// `description`, and with bf16 products the kernel that runs them.
  public static var productDescription: String {
    productPrecision == .bf16 ? "\(description); in bf16: \(bf16Kernel)" : description
  }

  /// Holds the `count` floats at `values` constant until `releaseConstant(values)` (they must not
  /// change meanwhile; holds nest): with bf16 products they are rounded to bf16 once, for every
  /// product, and a product of few rows against a weight among them packs it once for our own
  /// kernel (`packsHeld`).
  public static func holdConstant(_ values: UnsafePointer<Float>, count: Int) { rnn_blas_hold_constant(values, count) }

  /// Ends `holdConstant(values, count:)`: products round those operands themselves again.
  public static func releaseConstant(_ values: UnsafePointer<Float>) { rnn_blas_release_constant(values) }
}
