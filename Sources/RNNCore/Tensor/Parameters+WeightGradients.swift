/// Computes weight gradients, `w [O, I] += sum over terms of dy^T x`, together with other
/// processes: the data-parallel ranks on one machine, each of which makes the same product for its
/// own rows at the same point of every step (`SharedWeightGradient` in the `RNN` library). It must
/// add to `parameters.gradient(weight)` the same as `parameters.backend.accumulateWeightGradient`
/// would, up to the order of summation.
public protocol WeightGradientSharing: AnyObject {
  /// `parameters.gradient(weight) [O, I] += sum over terms of dy^T x` (`dy [N, O]`, rows `ldy`
  /// apart, and `x [N, I]` per term).
  func accumulate(_ terms: [BLAS.GradientTerm], into weight: ParameterRef, of parameters: Parameters)
}

extension Parameters {
  /// Has `sharing` compute the gradient of `weight` (`[O, I]`) from now on (nil: the backend again).
  /// Not while the gradients are being computed.
  public func shareWeightGradient(of weight: ParameterRef, with sharing: (any WeightGradientSharing)?) {
    require(
      weight.shape.count == 2 && weight.offset + weight.count <= count, "\(weight) is not a weight of these parameters")
    weightGradientSharings[weight.offset] = sharing
  }

  /// `gradient(weight) [O, I] += sum over terms of dy^T x` (`dy [N, O]`, `x [N, I]` per term): by
  /// the sharing set for `weight` (`shareWeightGradient`), otherwise by the backend.
  public func accumulateWeightGradient(of weight: ParameterRef, _ terms: [BLAS.GradientTerm]) {
    if let sharing = weightGradientSharings[weight.offset] { return sharing.accumulate(terms, into: weight, of: self) }
    backend.accumulateWeightGradient(weight.shape[0], weight.shape[1], terms, into: gradient(weight))
  }
}
