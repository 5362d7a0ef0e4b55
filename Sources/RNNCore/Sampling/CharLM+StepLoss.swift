import CKernels

extension CharLM {
  /// Scores `tokens` as one continuous stream from the zero state, batch 1, through the step
  /// model that sampling runs, its weights in `precision`: each token is predicted from those
  /// before it, the first is not scored. Returns the summed loss in nats and the number of tokens
  /// scored (`tokens.count - 1`, or 0). At fp32 it agrees with `loss(of:batch: 1)` up to float
  /// rounding (a different summation order). `progress` hears the tokens scored so far and the
  /// total, every 1,000 tokens and at the end.
  public func stepLoss<Tokens: Collection>(
    of tokens: Tokens, precision: Precision, progress: ((_ done: Int, _ total: Int) -> Void)? = nil
  ) -> (nats: Double, count: Int) where Tokens.Element == Int32 {
    guard tokens.count >= 2 else { return (0, 0) }
    let step = StepModel(
      self, threads: StepModel.threads(for: config, precision: precision, available: Parallel.width),
      precision: precision)
    let v = config.vocabularySize
    var total = 0.0
    var previous: Int32? = nil
    var done = 0
    for token in tokens {
      if let previous {
        step.step(previous)
        var target = token
        total += rnn_softmax_cross_entropy(1, v, step.logits.baseAddress!, &target, 0, nil)
        done += 1
        if done % 1000 == 0 { progress?(done, tokens.count - 1) }
      }
      previous = token
    }
    progress?(done, done)
    return (total, done)
  }
}
