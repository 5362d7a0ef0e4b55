extension Tensor {
  /// The index of the largest value of each row of a `[N, C]` tensor, `[N]` (the first among
  /// equals, as `torch.argmax(x, dim=-1)`); `[..., C]` counts as `N` rows of `C`.
  public func argmaxRows() -> [Int32] {
    require(!shape.isEmpty && shape.last! > 0, "argmax over rows of a tensor of shape \(shape)")
    let c = shape.last!
    return scalars.withUnsafeBufferPointer { x in
      (0..<count / c).map { row in
        var best = row * c
        for i in row * c + 1..<(row + 1) * c where x[i] > x[best] { best = i }
        return Int32(best - row * c)
      }
    }
  }
}

/// The fraction of `predictions` equal to `answers` (as many, at least one).
public func accuracy<T: Equatable>(_ predictions: [T], _ answers: [T]) -> Double {
  require(predictions.count == answers.count, "\(predictions.count) predictions for \(answers.count) answers")
  require(!answers.isEmpty, "accuracy of no answers")
  return Double(zip(predictions, answers).filter { $0 == $1 }.count) / Double(answers.count)
}
