extension Tape {
  /// Mean softmax cross-entropy of `logits [N, V]` (any leading shape with `N` rows) against
  /// `targets [N]`; targets below zero are masked out (neither counted nor given gradient).
  /// Returns a `[1]` loss in nats per counted row.
  public func softmaxCrossEntropy(_ logits: Variable, targets: [Int32]) -> Variable {
    let x = self[logits]
    let v = x.shape.last!
    let n = x.count / v
    require(targets.count == n, "\(targets.count) targets for \(n) rows of logits")
    let counted = max(targets.lazy.filter { $0 >= 0 }.count, 1)
    let scale = 1 / Float(counted)
    var dlogits: Tensor? = isRecording ? Tensor.zeros(x.shape) : nil
    let total = x.withPointer { x in
      targets.withUnsafeBufferPointer { t in
        if dlogits == nil { return backend.softmaxCrossEntropy(n, v, x, t.baseAddress!, scale: scale, nil) }
        return dlogits!.withMutablePointer { backend.softmaxCrossEntropy(n, v, x, t.baseAddress!, scale: scale, $0) }
      }
    }
    let loss = input(Tensor(shape: [1], scalars: [Float(total / Double(counted))]))
    onBackward { [self] in
      guard var d = dlogits, let seed = gradient(loss)?.scalars[0] else { return }
      if seed != 1 { d.withMutablePointer { backend.scale(x.count, $0, by: seed) } }
      accumulate(d, into: logits)
    }
    return loss
  }
}
