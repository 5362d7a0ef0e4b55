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

  /// Whether bf16 products of at most 128 rows against a held operand (`holdConstant`) run on AMX
  /// tiles from a copy packed once per hold (a time loop's products: the weight is laid out for
  /// the tiles once, in either layout).
  public static var productsOnTiles: Bool { rnn_blas_bf16_tiles() != 0 }

  /// The kernel that runs bf16 products, or why none can on this machine.
  public static var bf16Kernel: String { String(cString: rnn_blas_bf16_kernel()) }

  /// `description`, and with bf16 products the kernel that runs them.
  public static var productDescription: String {
    productPrecision == .bf16 ? "\(description); in bf16: \(bf16Kernel)" : description
  }

  /// With bf16 products: rounds `parameters`' values to bf16 once, for every product until
  /// `releaseConstant(parameters)` (the values must not change meanwhile; holds nest). With fp32
  /// products: nothing.
  public static func holdConstant(_ parameters: Parameters) {
    rnn_blas_hold_constant(parameters.values.baseAddress!, parameters.count)
  }

  /// `holdConstant` for `count` floats at `values`.
  public static func holdConstant(_ values: UnsafePointer<Float>, count: Int) { rnn_blas_hold_constant(values, count) }

  /// Ends `holdConstant(parameters)`: products round those operands themselves again.
  public static func releaseConstant(_ parameters: Parameters) {
    rnn_blas_release_constant(parameters.values.baseAddress!)
  }

  /// Ends `holdConstant(values, count:)`.
  public static func releaseConstant(_ values: UnsafePointer<Float>) { rnn_blas_release_constant(values) }
}
