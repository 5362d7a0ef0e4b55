/// A character-level language model: `Embedding -> L x recurrent layer -> Linear` to logits
/// over the vocabulary, parameterised as this PyTorch module, so that state dicts are
/// interchangeable (`batch_first=False`):
///
///     embedding = nn.Embedding(V, E)          # embedding.weight [V, E]
///     rnn = nn.LSTM(E, H, L)                  # or nn.GRU / nn.RNN; rnn.weight_ih_l{k}, ...
///     decoder = nn.Linear(H, V)               # decoder.weight [V, H], decoder.bias [V]
///
/// While training, dropout (if configured) applies to each layer's output, the last one's too,
/// before it reaches the next layer or the decoder.
public final class CharLM: @unchecked Sendable {
  public let config: CharLMConfig
  /// All parameters in one flat store, named as the PyTorch module's `state_dict`.
  public let parameters: Parameters
  public let embedding: Embedding
  /// The recurrent layers (`rnn.*`).
  public let stack: RecurrentStack
  public let decoder: Linear

  /// The recurrent layers, bottom first.
  public var layers: [RecurrentLayer] { stack.layers }

  /// A model with every parameter zero (to be loaded from a checkpoint), computed by `backend`.
  public init(_ config: CharLMConfig, backend: any ComputeBackend = CPUBackend()) {
    self.config = config
    var layout = ParameterLayout()
    (embedding, stack, decoder) = Self.declare(config, in: &layout)
    parameters = Parameters(layout, backend: backend)
  }

  /// The names and shapes of the parameters of a model of `config`, without allocating them (to
  /// check a checkpoint before trusting its config).
  public static func parameterLayout(_ config: CharLMConfig) -> ParameterLayout {
    var layout = ParameterLayout()
    _ = declare(config, in: &layout)
    return layout
  }

  private static func declare(_ config: CharLMConfig, in layout: inout ParameterLayout)
    -> (Embedding, RecurrentStack, Linear)
  {
    let embedding = Embedding(vocabularySize: config.vocabularySize, size: config.embedding, layout: &layout)
    let stack = RecurrentStack(
      config.cell, inputSize: config.embedding, hiddenSize: config.hidden, layers: config.layers,
      dropout: config.dropout, layout: &layout)
    let decoder = Linear(inputSize: config.hidden, outputSize: config.vocabularySize, layout: &layout, name: "decoder")
    return (embedding, stack, decoder)
  }

  /// A model initialised as PyTorch initialises the module, from `generator`.
  public convenience init(
    _ config: CharLMConfig, backend: any ComputeBackend = CPUBackend(), using generator: inout RandomGenerator
  ) {
    self.init(config, backend: backend)
    parameters.initialize(parameters.layout.entries.map(\.ref), using: &generator)
  }

  /// The zero state of every layer for `batch` sequences.
  public func zeroState(batch: Int) -> [RecurrentState] {
    layers.map { _ in .zeros(config.cell, batch: batch, hidden: config.hidden) }
  }

  /// Records the model on `tape`: `tokens [T,B]` (time-major) to logits `[T,B,V]`, from `state`
  /// (one per layer). Dropout applies when a generator is given and `config.dropout > 0`; with
  /// `share`, the `batch` rows are that share of a larger batch and get its rows of the masks.
  public func callAsFunction(
    _ tokens: [Int32], time: Int, batch: Int, state: [StateVariables], on tape: Tape,
    dropout generator: UnsafeMutablePointer<RandomGenerator>? = nil, share: BatchShare? = nil
  ) -> (logits: Variable, state: [StateVariables]) {
    let (y, final) =
      tokens.count >= config.vocabularySize
      // Cheaper through the per-character projection table (same results).
      ? stack(
        tokens, time: time, batch: batch, embedding: embedding, state: state, parameters: parameters, on: tape,
        dropout: generator, share: share)
      : stack(
        embedding(tokens, shape: [time, batch], parameters: parameters, on: tape), state: state,
        parameters: parameters, on: tape, dropout: generator, share: share)
    var x = y
    if let generator, config.dropout > 0 {
      x = tape.dropout(y, probability: config.dropout, using: &generator.pointee, share: share)
    }
    return (decoder(x, parameters: parameters, on: tape), final)
  }
}
