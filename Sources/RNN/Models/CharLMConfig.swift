/// The shape of a character-level language model; stored as JSON in every checkpoint's
/// `__metadata__["config"]`.
public struct CharLMConfig: Codable, Equatable, Sendable {
  /// The recurrent cell (`lstm`, `gru`, `rnn_tanh`, `rnn_relu`).
  public var cell: CellKind
  /// `L`, stacked recurrent layers.
  public var layers: Int
  /// `H`, features of each layer's state.
  public var hidden: Int
  /// `E`, size of the character embedding (the first layer's input).
  public var embedding: Int
  /// `V`, characters in the vocabulary.
  public var vocabularySize: Int
  /// Dropout probability between layers and before the decoder while training.
  public var dropout: Float

  public init(cell: CellKind, layers: Int, hidden: Int, embedding: Int, vocabularySize: Int, dropout: Float = 0) {
    self.cell = cell
    self.layers = layers
    self.hidden = hidden
    self.embedding = embedding
    self.vocabularySize = vocabularySize
    self.dropout = dropout
  }

  enum CodingKeys: String, CodingKey {
    case cell, layers, hidden, embedding, dropout
    case vocabularySize = "vocabulary_size"
  }
}
