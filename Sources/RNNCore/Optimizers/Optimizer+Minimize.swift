extension Optimizer {
  /// One training step of any model written on a `Tape`: zeroes the gradients, records `loss`
  /// on a new tape, back-propagates it, clips the gradients' global norm to `clipNorm` (nil: no
  /// clipping) and applies one update. Returns the loss; when it or a gradient is not finite,
  /// nothing is updated and it is returned as is.
  ///
  ///     var adam = Optimizer(.adam, for: model.parameters)
  ///     let loss = adam.minimize(model.parameters, learningRate: 2e-3) { tape in
  ///       let (_, final) = model.reader(sequences, on: tape)     // [T,B,D] with lengths -> h [B,H]
  ///       return tape.softmaxCrossEntropy(model.classify(final[0].h, on: tape), targets: labels)
  ///     }
  @discardableResult
  public mutating func minimize(
    _ parameters: Parameters, learningRate: Float, clipNorm: Float? = 5, loss: (Tape) -> Variable
  ) -> Float {
    parameters.zeroGradients()
    let tape = Tape(backend: parameters.backend)
    let lossVariable = loss(tape)
    let value = tape[lossVariable].scalars[0]
    tape.backward(from: lossVariable)
    guard value.isFinite, let norm = parameters.finiteGradientNorm() else { return value }
    if let clipNorm { parameters.clipGradientNorm(clipNorm, norm: norm) }
    step(parameters, learningRate: learningRate)
    return value
  }
}
