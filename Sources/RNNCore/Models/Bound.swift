/// A layer of a `Model` with the parameters it reads, so that it is called as a PyTorch module is,
/// without `parameters:`. `ModelBuilder` makes them; `layer` is the layer itself (its `forward`
/// and `backward` take `parameters`), and its properties read through (`reader.hiddenSize`).
@dynamicMemberLookup
public struct Bound<Layer: Sendable>: Sendable, BoundLayer {
  /// The layer, whose parameters live in `parameters`.
  public let layer: Layer
  let builder: ModelBuilder
  let placeholder: String

  /// The model's parameters, which the layer reads.
  public var parameters: Parameters {
    guard let parameters = builder.parameters else {
      fatalError("a layer called before its model is complete; call it after Model(...) returns")
    }
    return parameters
  }

  /// `bound.name` is `bound.layer.name`.
  public subscript<Value>(dynamicMember keyPath: KeyPath<Layer, Value>) -> Value { layer[keyPath: keyPath] }

  /// The parameters of `other`, a layer used with this one, which must belong to the same model.
  func shared<Other>(with other: Bound<Other>) -> Parameters {
    require(other.builder === builder, "a layer used with a layer of another model")
    return parameters
  }
}

extension Bound where Layer == Linear {
  /// Records `x [N..., I] -> [N..., O]` on `tape`.
  public func callAsFunction(_ x: Variable, on tape: Tape) -> Variable { layer(x, parameters: parameters, on: tape) }

  /// `x [N..., I] -> [N..., O]`, recording nothing.
  public func forward(_ x: Tensor) -> Tensor { layer.forward(x, parameters: parameters) }
}

extension Bound where Layer == Embedding {
  /// Records the rows of a padded batch's token ids `[T,B]` on `tape`: `[T,B,E]`.
  public func callAsFunction(_ batch: PaddedBatch, on tape: Tape) -> Variable {
    layer(batch, parameters: parameters, on: tape)
  }
}

extension Bound where Layer == RecurrentStack {
  /// Records the layers over `x [T,B,D]` from `state` (nil: zeros): the last layer's outputs
  /// `[T,B,H]` and each layer's final state `[B,H]`. `lengths` and `dropout` as in `RecurrentStack`.
  public func callAsFunction(
    _ x: Variable, state: [StateVariables]? = nil, lengths: [Int]? = nil, on tape: Tape,
    dropout generator: UnsafeMutablePointer<RandomGenerator>? = nil
  ) -> (y: Variable, state: [StateVariables]) {
    layer(x, state: state, lengths: lengths, parameters: parameters, on: tape, dropout: generator)
  }

  /// The same over the feature vectors `[T,B,D]` of a padded batch, its lengths included.
  public func callAsFunction(
    _ sequences: PaddedSequences, state: [StateVariables]? = nil, on tape: Tape,
    dropout generator: UnsafeMutablePointer<RandomGenerator>? = nil
  ) -> (y: Variable, state: [StateVariables]) {
    layer(sequences, state: state, parameters: parameters, on: tape, dropout: generator)
  }

  /// The same over a padded batch of token ids `[T,B]` read through `embedding`, its lengths
  /// included.
  public func callAsFunction(
    _ batch: PaddedBatch, embedding: Bound<Embedding>, state: [StateVariables]? = nil, on tape: Tape,
    dropout generator: UnsafeMutablePointer<RandomGenerator>? = nil
  ) -> (y: Variable, state: [StateVariables]) {
    layer(batch, embedding: embedding.layer, state: state, parameters: shared(with: embedding), on: tape, dropout: generator)
  }
}

extension Bound where Layer == Bidirectional {
  /// Records both directions over `x [T,B,D]` from `state [2,B,H]` (nil: zeros): `y [T,B,2H]`
  /// and the final state `[2,B,H]`. `lengths` as in `RecurrentLayer`.
  public func callAsFunction(_ x: Variable, state: StateVariables? = nil, lengths: [Int]? = nil, on tape: Tape)
    -> (y: Variable, state: StateVariables)
  {
    layer(x, state: state, lengths: lengths, parameters: parameters, on: tape)
  }

  /// The same over a padded batch of token ids `[T,B]` read through `embedding`, its lengths
  /// included.
  public func callAsFunction(_ batch: PaddedBatch, embedding: Bound<Embedding>, state: StateVariables? = nil, on tape: Tape)
    -> (y: Variable, state: StateVariables)
  {
    layer(batch, embedding: embedding.layer, state: state, parameters: shared(with: embedding), on: tape)
  }
}
