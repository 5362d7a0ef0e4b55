/// `L` recurrent layers, each reading the outputs of the one below, as `nn.LSTM(D, H,
/// num_layers: L, dropout: p)` (or `nn.GRU`, `nn.RNN`): parameters named
/// `{prefix}weight_ih_l{k}`, `{prefix}weight_hh_l{k}`, `{prefix}bias_ih_l{k}`, `{prefix}bias_hh_l{k}`,
/// and dropout (while training, given a generator) on every layer's output but the last.
public struct RecurrentStack: Sendable {
  public let layers: [RecurrentLayer]
  /// The probability of dropping an output between layers.
  public let dropout: Float

  /// `count` layers of the built-in cell `kind`.
  public init(
    _ kind: CellKind, inputSize: Int, hiddenSize: Int, layers count: Int, dropout: Float = 0,
    layout: inout ParameterLayout, prefix: String = "rnn."
  ) {
    self.init(
      kind.cell, inputSize: inputSize, hiddenSize: hiddenSize, layers: count, dropout: dropout, layout: &layout,
      prefix: prefix)
  }

  /// `count` layers of `cell`, each declaring its parameters in turn.
  public init(
    _ cell: any RecurrentCell, inputSize: Int, hiddenSize: Int, layers count: Int, dropout: Float = 0,
    layout: inout ParameterLayout, prefix: String = "rnn."
  ) {
    require(count > 0, "a recurrent stack of \(count) layers")
    let scratch = RecurrentWorkspace()
    layers = (0..<count).map { l in
      RecurrentLayer(
        cell, inputSize: l == 0 ? inputSize : hiddenSize, hiddenSize: hiddenSize, layout: &layout, prefix: prefix,
        suffix: "_l\(l)", scratch: scratch)
    }
    self.dropout = dropout
  }

  /// The zero state of every layer for `batch` sequences (`[B,H]` each).
  public func zeroState(batch: Int) -> [RecurrentState] { layers.map { $0.zeroState(batch: batch) } }

  /// Records the stack over `x [T,B,D]`: the last layer's outputs `[T,B,H]` and every layer's
  /// final state, from `state` (nil: zeros). `lengths` as in `RecurrentLayer`; dropout as the
  /// type says, its masks drawn from `generator` (nil: none) and, with `share`, the rows of a
  /// larger batch that these rows are.
  public func callAsFunction(
    _ x: Variable, state: [StateVariables]? = nil, lengths: [Int]? = nil, parameters: Parameters, on tape: Tape,
    dropout generator: UnsafeMutablePointer<RandomGenerator>? = nil, share: BatchShare? = nil
  ) -> (y: Variable, state: [StateVariables]) {
    run(state: state, batch: tape[x].shape[1], on: tape, generator: generator, share: share) { layer, state in
      layer(x, state: state, lengths: lengths, parameters: parameters, on: tape)
    } next: { layer, input, state in
      layer(input, state: state, lengths: lengths, parameters: parameters, on: tape)
    }
  }

  /// The same over the feature vectors `[T,B,D]` of a padded batch, its lengths included.
  public func callAsFunction(
    _ sequences: PaddedSequences, state: [StateVariables]? = nil, parameters: Parameters, on tape: Tape,
    dropout generator: UnsafeMutablePointer<RandomGenerator>? = nil
  ) -> (y: Variable, state: [StateVariables]) {
    self(
      tape.input(sequences.values), state: state, lengths: sequences.lengths, parameters: parameters, on: tape,
      dropout: generator)
  }

  /// The same over token ids `[T,B]` read through `embedding`, the first layer's input
  /// projections taken from a per-token table (`RecurrentLayer`'s token form).
  public func callAsFunction(
    _ tokens: [Int32], time: Int, batch: Int, embedding: Embedding, state: [StateVariables]? = nil,
    lengths: [Int]? = nil, parameters: Parameters, on tape: Tape,
    dropout generator: UnsafeMutablePointer<RandomGenerator>? = nil, share: BatchShare? = nil
  ) -> (y: Variable, state: [StateVariables]) {
    run(state: state, batch: batch, on: tape, generator: generator, share: share) { layer, state in
      layer(
        tokens, time: time, batch: batch, embedding: embedding, state: state, lengths: lengths, parameters: parameters,
        on: tape)
    } next: { layer, input, state in
      layer(input, state: state, lengths: lengths, parameters: parameters, on: tape)
    }
  }

  /// The same over a padded batch of token ids, its lengths included.
  public func callAsFunction(
    _ batch: PaddedBatch, embedding: Embedding, state: [StateVariables]? = nil, parameters: Parameters, on tape: Tape,
    dropout generator: UnsafeMutablePointer<RandomGenerator>? = nil
  ) -> (y: Variable, state: [StateVariables]) {
    self(
      batch.tokens, time: batch.time, batch: batch.batch, embedding: embedding, state: state, lengths: batch.lengths,
      parameters: parameters, on: tape, dropout: generator)
  }

  /// The layers in order: `first` runs layer 0, `next` each later one on the outputs below
  /// (after dropout).
  private func run(
    state: [StateVariables]?, batch: Int, on tape: Tape, generator: UnsafeMutablePointer<RandomGenerator>?,
    share: BatchShare?, first: (RecurrentLayer, StateVariables) -> (y: Variable, state: StateVariables),
    next: (RecurrentLayer, Variable, StateVariables) -> (y: Variable, state: StateVariables)
  ) -> (y: Variable, state: [StateVariables]) {
    let initial = state ?? zeroState(batch: batch).map { StateVariables($0, on: tape) }
    require(initial.count == layers.count, "\(initial.count) states for \(layers.count) layers")
    var (y, last) = first(layers[0], initial[0])
    var final = [last]
    for (layer, state) in zip(layers.dropFirst(), initial.dropFirst()) {
      if let generator, dropout > 0 {
        y = tape.dropout(y, probability: dropout, using: &generator.pointee, share: share)
      }
      (y, last) = next(layer, y, state)
      final.append(last)
    }
    return (y, final)
  }
}
