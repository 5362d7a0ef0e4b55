import CKernels

extension Tensor {
  /// How many elements are NaN or infinite (0 for a finite tensor, checked with one vectorised pass).
  public var nonFiniteCount: Int {
    withUnsafeBufferPointer { buffer in
      guard let base = buffer.baseAddress, rnn_all_finite(buffer.count, base) == 0 else { return 0 }
      return buffer.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
    }
  }
}
