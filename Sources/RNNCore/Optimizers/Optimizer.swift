/// The optimizers `rnn train --optimizer` offers.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
  /// Adam (`torch.optim.Adam`; `AdamW` with a `weightDecay`), by default betas 0.9, 0.999 and
  /// eps 1e-8. The default.
  case adam
  /// RMSprop (`torch.optim.RMSprop`), by default as char-rnn uses it: alpha 0.95, eps 1e-8.
  case rmsprop
  /// SGD with momentum (`torch.optim.SGD`), by default 0.9.
  case sgd

  /// The names of the per-parameter buffers it keeps, as in PyTorch's optimizer state.
  package var bufferNames: [String] {
    switch self {
    case .adam: ["exp_avg", "exp_avg_sq"]
    case .rmsprop: ["square_avg"]
    case .sgd: ["momentum_buffer"]
    }
  }
}

/// An update rule over a model's flat parameters, with its state as named buffers so that it
/// travels with a checkpoint.
public struct Optimizer: Sendable {
  public let kind: OptimizerKind
  /// The numbers of the update (those of `kind` apply).
  public let hyperparameters: Hyperparameters
  /// Updates taken so far (Adam's bias correction depends on it).
  public private(set) var steps: Int = 0
  /// First moments and squared averages (Adam), squared averages (RMSprop) or momentum buffers
  /// (SGD), `[P]` each, named as `kind.bufferNames`.
  public private(set) var buffers: [String: [Float]]

  public init(_ kind: OptimizerKind, parameterCount: Int, hyperparameters: Hyperparameters = .init()) {
    self.kind = kind
    self.hyperparameters = hyperparameters
    buffers = Dictionary(
      uniqueKeysWithValues: kind.bufferNames.map { ($0, [Float](repeating: 0, count: parameterCount)) })
  }

  /// An optimizer of `parameters` (a model's flat store), its buffers at zero.
  ///
  ///     var adam = Optimizer(.adam, for: model.parameters)
  public init(_ kind: OptimizerKind, for parameters: Parameters, hyperparameters: Hyperparameters = .init()) {
    self.init(kind, parameterCount: parameters.count, hyperparameters: hyperparameters)
  }

  /// Restores saved state; the buffers must be the ones `kind` uses, of `parameterCount` each.
  public init(
    _ kind: OptimizerKind, steps: Int, buffers: [String: [Float]], parameterCount: Int,
    hyperparameters: Hyperparameters = .init()
  ) throws {
    self.init(kind, parameterCount: parameterCount, hyperparameters: hyperparameters)
    guard Set(buffers.keys) == Set(self.buffers.keys), buffers.values.allSatisfy({ $0.count == parameterCount }),
      steps >= 0
    else { throw OptimizerError.stateMismatch(kind: kind) }
    self.steps = steps
    self.buffers = buffers
  }

  /// Applies one update with the current gradients: to every parameter, or to those in `part` of
  /// the flat buffers (data-parallel ranks that share one copy of the parameters each update their
  /// part; the buffers are then current only there).
  public mutating func step(_ parameters: Parameters, learningRate lr: Float, part: Range<Int>? = nil) {
    steps += 1
    let part = part ?? 0..<parameters.count
    let (n, backend, start) = (part.count, parameters.backend, part.lowerBound)
    let p = parameters.values.baseAddress! + start
    let g = UnsafePointer(parameters.gradients.baseAddress! + start)
    // Buffers are moved out of the dictionary (no copy) while the kernel writes them.
    var first = buffers.removeValue(forKey: kind.bufferNames[0])!
    var second = kind == .adam ? buffers.removeValue(forKey: kind.bufferNames[1])! : []
    first.withUnsafeMutableBufferPointer { a in
      second.withUnsafeMutableBufferPointer { b in
        let h = hyperparameters
        switch kind {
        case .adam:
          if h.weightDecay > 0 { backend.scale(n, p, by: Float(1 - Double(lr) * h.weightDecay)) }
          let (bias1, bias2) = biasCorrections(update: steps)
          backend.adamStep(
            n, p, g, a.baseAddress! + start, b.baseAddress! + start, learningRate: lr, beta1: Float(h.beta1),
            beta2: Float(h.beta2),
            oneMinusBeta1: Float(1 - h.beta1), oneMinusBeta2: Float(1 - h.beta2), epsilon: Float(h.epsilon),
            bias1: bias1, bias2: bias2)
        case .rmsprop:
          backend.rmspropStep(
            n, p, g, a.baseAddress! + start, learningRate: lr, alpha: Float(h.alpha), oneMinusAlpha: Float(1 - h.alpha),
            epsilon: Float(h.epsilon))
        case .sgd:
          backend.sgdStep(n, p, g, a.baseAddress! + start, learningRate: lr, momentum: Float(h.momentum))
        }
      }
    }
    buffers[kind.bufferNames[0]] = first
    if kind == .adam { buffers[kind.bufferNames[1]] = second }
  }

  /// Adam's bias corrections of update `t` (from 1): `1 - beta1^t` and `1 - beta2^t`.
  public func biasCorrections(update t: Int) -> (first: Float, second: Float) {
    let h = hyperparameters
    return (1 - Float(_exp(Double(t) * _log(h.beta1))), 1 - Float(_exp(Double(t) * _log(h.beta2))))
  }

  /// Counts an update made to copies of the buffers elsewhere (on a GPU), so that `steps` and
  /// the next update's bias corrections follow it; the buffers here are not changed.
  public mutating func recordUpdate() { steps += 1 }
}

extension Optimizer {
  /// The numbers of an update rule, named as PyTorch's optimizers name them (in double precision,
  /// as PyTorch keeps them). The defaults are `rnn train`'s: PyTorch's, but RMSprop's `alpha`
  /// 0.95 as char-rnn's.
  public struct Hyperparameters: Equatable, Sendable {
    /// Adam's `betas`.
    public var beta1: Double
    public var beta2: Double
    /// Adam's and RMSprop's `eps`.
    public var epsilon: Double
    /// AdamW's decoupled `weight_decay`: before each Adam update every parameter is multiplied by
    /// `1 - lr * weightDecay` (0: plain Adam).
    public var weightDecay: Double
    /// RMSprop's smoothing constant `alpha`.
    public var alpha: Double
    /// SGD's `momentum`.
    public var momentum: Double

    public init(
      beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0, alpha: Double = 0.95,
      momentum: Double = 0.9
    ) {
      (self.beta1, self.beta2, self.epsilon, self.weightDecay) = (beta1, beta2, epsilon, weightDecay)
      (self.alpha, self.momentum) = (alpha, momentum)
    }
  }
}

/// Errors restoring an optimizer.
public enum OptimizerError: Error, Equatable, CustomStringConvertible {
  /// Saved optimizer state does not fit the optimizer or the model.
  case stateMismatch(kind: OptimizerKind)

  public var description: String {
    switch self {
    case .stateMismatch(let kind): "saved \(kind.rawValue) optimizer state does not match the model"
    }
  }
}
