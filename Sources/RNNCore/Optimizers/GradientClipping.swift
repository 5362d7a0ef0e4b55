extension Parameters {
  /// The L2 norm of all gradients together.
  public func gradientNorm() -> Float {
    Float(backend.sumOfSquares(count, gradients.baseAddress!).squareRoot())
  }

  /// The L2 norm of all gradients together, or nil when one of them is not finite. One pass over
  /// the gradients where the norm is finite (an infinity or a NaN anywhere makes it so); a second,
  /// element by element, only where it is not, as finite gradients' squares can also overflow.
  public func finiteGradientNorm() -> Float? {
    let norm = gradientNorm()
    return norm.isFinite || gradientsAreFinite ? norm : nil
  }

  /// Scales all gradients so that their global L2 norm is at most `maxNorm`, as
  /// `torch.nn.utils.clip_grad_norm_` (factor `maxNorm / (norm + 1e-6)`, capped at 1).
  /// Returns the norm before clipping.
  @discardableResult
  public func clipGradientNorm(_ maxNorm: Float) -> Float {
    let norm = gradientNorm()
    clipGradientNorm(maxNorm, norm: norm)
    return norm
  }

  /// `clipGradientNorm(maxNorm)` for gradients whose norm, `norm`, is already known.
  public func clipGradientNorm(_ maxNorm: Float, norm: Float) {
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 { backend.scale(count, gradients.baseAddress!, by: factor) }
  }

  /// Clamps every gradient element to `[-limit, limit]` (`torch.nn.utils.clip_grad_value_`).
  public func clipGradientValues(_ limit: Float) {
    backend.clamp(count, gradients.baseAddress!, to: limit)
  }

  /// Whether every gradient element is finite.
  public var gradientsAreFinite: Bool { backend.allFinite(count, gradients.baseAddress!) }

  /// Whether every parameter value is finite.
  public var valuesAreFinite: Bool { backend.allFinite(count, values.baseAddress!) }
}
