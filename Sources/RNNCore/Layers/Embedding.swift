/// A lookup table from token ids to vectors: `weight [V, E]`, as `torch.nn.Embedding`.
public struct Embedding: Sendable {
  public let vocabularySize: Int
  public let size: Int
  public let weight: ParameterRef

  /// Declares `<name>.weight [V, E]`.
  public init(vocabularySize: Int, size: Int, layout: inout ParameterLayout, name: String = "embedding") {
    self.vocabularySize = vocabularySize
    self.size = size
    weight = layout.declare("\(name).weight", shape: [vocabularySize, size], initialization: .normal)
  }

  /// PyTorch's initialisation: standard normal.
  public func initialize(_ parameters: Parameters, using generator: inout RandomGenerator) {
    parameters.initialize([weight], using: &generator)
  }

  /// The rows of `tokens` (any shape `S`, ids in `0..<V`): `[S..., E]`.
  public func forward(_ tokens: [Int32], shape: [Int], parameters: Parameters) -> Tensor {
    require(tokens.count == shape.reduce(1, *), "\(tokens.count) tokens for shape \(shape)")
    for token in tokens {
      require(token >= 0 && Int(token) < vocabularySize, "token \(token) outside vocabulary of \(vocabularySize)")
    }
    let (backend, w) = (parameters.backend, parameters.value(weight))
    return Tensor(shape: shape + [size]) { out in
      tokens.withUnsafeBufferPointer { backend.gatherRows($0, size, from: w, into: out) }
    }
  }

  /// Adds each row of `dy [S..., E]` into the gradient row of its token.
  public func backward(_ dy: Tensor, tokens: [Int32], parameters: Parameters) {
    let (backend, dw) = (parameters.backend, parameters.gradient(weight))
    dy.withPointer { dy in
      tokens.withUnsafeBufferPointer { backend.scatterAddRows($0, size, from: dy, into: dw) }
    }
  }

  /// Records the lookup on `tape`; its backward accumulates into `weight`'s gradient.
  public func callAsFunction(_ tokens: [Int32], shape: [Int], parameters: Parameters, on tape: Tape) -> Variable {
    let y = tape.input(forward(tokens, shape: shape, parameters: parameters))
    tape.onBackward { [self] in
      if let dy = tape.gradient(y) { backward(dy, tokens: tokens, parameters: parameters) }
    }
    return y
  }

  /// The rows of a padded batch's token ids: `[T,B,E]`.
  public func callAsFunction(_ batch: PaddedBatch, parameters: Parameters, on tape: Tape) -> Variable {
    self(batch.tokens, shape: [batch.time, batch.batch], parameters: parameters, on: tape)
  }
}
