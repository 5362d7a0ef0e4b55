import CKernels

extension Parameters {
  /// The L2 norm of all gradients together.
  public func gradientNorm() -> Float {
    Float(rnn_sum_squares(count, gradients.baseAddress!).squareRoot())
  }

  /// Scales all gradients so that their global L2 norm is at most `maxNorm`, as
  /// `torch.nn.utils.clip_grad_norm_` (factor `maxNorm / (norm + 1e-6)`, capped at 1).
  /// Returns the norm before clipping.
  @discardableResult
  public func clipGradientNorm(_ maxNorm: Float) -> Float {
    let norm = gradientNorm()
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 { rnn_scale(count, gradients.baseAddress!, factor) }
    return norm
  }

  /// Clamps every gradient element to `[-limit, limit]` (`torch.nn.utils.clip_grad_value_`).
  public func clipGradientValues(_ limit: Float) {
    rnn_clamp(count, gradients.baseAddress!, limit)
  }

  /// Whether every gradient element is finite.
  public var gradientsAreFinite: Bool { rnn_all_finite(count, gradients.baseAddress!) != 0 }

  /// Whether every parameter value is finite.
  public var valuesAreFinite: Bool { rnn_all_finite(count, values.baseAddress!) != 0 }
}
