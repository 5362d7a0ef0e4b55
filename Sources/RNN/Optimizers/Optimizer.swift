import CKernels

/// The optimizers `rnn train --optimizer` offers.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
  /// Adam (`torch.optim.Adam`): betas 0.9, 0.999, eps 1e-8. The default.
  case adam
  /// RMSprop as char-rnn uses it: decay 0.95, eps 1e-8 (`torch.optim.RMSprop(alpha: 0.95)`).
  case rmsprop
  /// SGD with momentum 0.9 (`torch.optim.SGD(momentum: 0.9)`).
  case sgd

  /// The names of the per-parameter buffers it keeps, as in PyTorch's optimizer state.
  var bufferNames: [String] {
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
  /// Updates taken so far (Adam's bias correction depends on it).
  public private(set) var steps: Int = 0
  /// First moments and squared averages (Adam), squared averages (RMSprop) or momentum buffers
  /// (SGD), `[P]` each, named as `kind.bufferNames`.
  public private(set) var buffers: [String: [Float]]

  public init(_ kind: OptimizerKind, parameterCount: Int) {
    self.kind = kind
    buffers = Dictionary(
      uniqueKeysWithValues: kind.bufferNames.map { ($0, [Float](repeating: 0, count: parameterCount)) })
  }

  /// Restores saved state; the buffers must be the ones `kind` uses, of `parameterCount` each.
  public init(_ kind: OptimizerKind, steps: Int, buffers: [String: [Float]], parameterCount: Int) throws {
    self.init(kind, parameterCount: parameterCount)
    guard Set(buffers.keys) == Set(self.buffers.keys), buffers.values.allSatisfy({ $0.count == parameterCount }),
      steps >= 0
    else { throw OptimizerError.stateMismatch(kind: kind) }
    self.steps = steps
    self.buffers = buffers
  }

  /// Applies one update with the current gradients.
  public mutating func step(_ parameters: Parameters, learningRate lr: Float) {
    steps += 1
    let n = parameters.count
    let p = parameters.values.baseAddress!
    let g = UnsafePointer(parameters.gradients.baseAddress!)
    // Buffers are moved out of the dictionary (no copy) while the kernel writes them.
    var first = buffers.removeValue(forKey: kind.bufferNames[0])!
    var second = kind == .adam ? buffers.removeValue(forKey: kind.bufferNames[1])! : []
    first.withUnsafeMutableBufferPointer { a in
      second.withUnsafeMutableBufferPointer { b in
        switch kind {
        case .adam:
          let bias1 = 1 - Float(_exp(Double(steps) * _log(0.9)))
          let bias2 = 1 - Float(_exp(Double(steps) * _log(0.999)))
          rnn_adam_step(
            n, p, g, a.baseAddress!, b.baseAddress!, lr, 0.9, 0.999, Float(1 - 0.9 as Double),
            Float(1 - 0.999 as Double), 1e-8, bias1, bias2)
        case .rmsprop:
          rnn_rmsprop_step(n, p, g, a.baseAddress!, lr, 0.95, Float(1 - 0.95 as Double), 1e-8)
        case .sgd:
          rnn_sgd_step(n, p, g, a.baseAddress!, lr, 0.9)
        }
      }
    }
    buffers[kind.bufferNames[0]] = first
    if kind == .adam { buffers[kind.bufferNames[1]] = second }
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
