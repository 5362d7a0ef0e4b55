extension Parameters {
  /// The L2 norm of all gradients together.
  public func gradientNorm() -> Float {
    Float(gradientSumOfSquares(in: 0..<count).squareRoot())
  }

  /// The L2 norm of all gradients together, or nil when one of them is not finite; with
  /// `clipValue > 0`, after clamping them to `[-clipValue, clipValue]` (`clip_grad_value_`; none is
  /// clamped where one is not finite).
  public func finiteGradientNorm(afterClampingTo clipValue: Float = 0) -> Float? {
    clampedGradientSumOfSquares(clipValue: clipValue, in: 0..<count).map { Float($0.squareRoot()) }
  }

  /// The sum of the squares of the gradients in `part` of the flat buffer after clamping them to
  /// `[-clipValue, clipValue]` (`clip_grad_value_`; 0: not clamped), or nil when one of them is not
  /// finite (and then none is clamped: clamping would make an infinity finite). Without clamping,
  /// one pass over the gradients where the sum is finite (an infinity or a NaN anywhere makes it
  /// so); a second, element by element, only where it is not, as finite squares can also overflow.
  public func clampedGradientSumOfSquares(clipValue: Float, in part: Range<Int>) -> Double? {
    if clipValue > 0 {
      guard gradientsAreFinite(in: part) else { return nil }
      clipGradientValues(clipValue, in: part)
    }
    let squares = gradientSumOfSquares(in: part)
    return squares.isFinite || gradientsAreFinite(in: part) ? squares : nil
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

  /// `clipGradientNorm(maxNorm)` for gradients whose norm, `norm`, is already known; only those
  /// in `part` of the flat buffer, when given (the rest are another rank's to clip).
  public func clipGradientNorm(_ maxNorm: Float, norm: Float, in part: Range<Int>? = nil) {
    let factor = maxNorm / (norm + 1e-6)
    let part = part ?? 0..<count
    if factor < 1 { backend.scale(part.count, gradients.baseAddress! + part.lowerBound, by: factor) }
  }

  /// Clamps every gradient element (in `part` of the flat buffer, when given) to `[-limit, limit]`
  /// (`torch.nn.utils.clip_grad_value_`).
  public func clipGradientValues(_ limit: Float, in part: Range<Int>? = nil) {
    let part = part ?? 0..<count
    backend.clamp(part.count, gradients.baseAddress! + part.lowerBound, to: limit)
  }

  /// Whether every gradient element is finite.
  public var gradientsAreFinite: Bool { gradientsAreFinite(in: 0..<count) }

  /// Whether every gradient element in `part` of the flat buffer is finite.
  public func gradientsAreFinite(in part: Range<Int>) -> Bool {
    backend.allFinite(part.count, gradients.baseAddress! + part.lowerBound)
  }

  /// The sum of the squares of the gradients in `part` of the flat buffer (a part of the squared
  /// L2 norm), in double precision.
  public func gradientSumOfSquares(in part: Range<Int>) -> Double {
    backend.sumOfSquares(part.count, gradients.baseAddress! + part.lowerBound)
  }

  /// Whether every parameter value is finite.
  public var valuesAreFinite: Bool { backend.allFinite(count, values.baseAddress!) }
}
