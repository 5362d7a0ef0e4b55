import CKernels

/// How the batch-1 step model (sampling, `Sampler`) stores the weights of its matrix products.
/// Checkpoints stay fp32; the rounded weights are made when the sampler is built.
///
/// - `fp32`: the trained weights.
/// - `bf16`: each weight rounded to bfloat16 (nearest even; 8 significant bits, so a relative
///   error of at most 2^-8), the products accumulated in fp32. Half of fp32's bytes to stream per character.
/// - `int8`: each weight as `scale[j] * q` with `|q| <= 127` and one scale per output (error at
///   most `scale[j] / 2`); each step's input vector is quantised likewise (one scale per vector)
///   and the products summed in 32-bit integers (AVX512-VNNI where the CPU has it). A quarter of
///   fp32's bytes.
///
/// The products rounded are those with `W_hh`, with `W_ih` of layers after the first and with
/// the decoder; layer 0's input projection is a table with a row per character (one row read per
/// step), kept in fp32.
public enum Precision: String, CaseIterable, Sendable {
  case fp32, bf16, int8

  var kind: rnn_precision {
    switch self {
    case .fp32: RNN_PRECISION_FP32
    case .bf16: RNN_PRECISION_BF16
    case .int8: RNN_PRECISION_INT8
    }
  }

  /// One line naming the kernel this CPU runs for this precision's products.
  public var kernel: String { String(cString: rnn_packed_kernel(kind)) }
}
