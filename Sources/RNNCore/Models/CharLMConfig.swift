/// The shape of a character-level language model; stored as JSON in every checkpoint's
/// `__metadata__["config"]`.
///
/// Each size has a range (`checkSizes()`) that `rnn train` enforces and checkpoints must respect; whether
/// a model within them fits in memory is `TrainingFootprint`'s question.
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

  /// The shape of a new model where nothing else is said (`rnn train`, `rnn bench`): char-rnn's
  /// 2 x LSTM 128 with a 64-wide embedding (`rnn bench`'s embedding: `benchmarkEmbedding`).
  public static let defaultCell = CellKind.lstm
  public static let defaultLayers = 2
  public static let defaultHidden = 128
  public static let defaultEmbedding = 64

  /// `E` of a model measured by `rnn bench` where none is given: the hidden size `hidden`, as the
  /// PyTorch side of `bench/compare-pytorch` builds its model.
  public static func benchmarkEmbedding(hidden: Int) -> Int { hidden }

  /// The ranges of the sizes a model may have: `L` up to 64, `H` and `E` up to 65,536, `V` up to the
  /// 1,114,112 Unicode scalars. Beyond them, sizes would overflow the arithmetic of shapes (`4*H`
  /// rows, `T*B*H` activations) long before they fit in any memory.
  public static let layersRange = 1...64
  public static let hiddenRange = 1...65536
  public static let embeddingRange = 1...65536
  public static let vocabularySizeRange = 1...0x11_0000

  /// Throws `ModelSizeError.outOfRange` for the first size outside its range.
  public func checkSizes() throws(ModelSizeError) {
    let sizes = [
      ("layers", layers, Self.layersRange), ("hidden", hidden, Self.hiddenRange),
      ("embedding", embedding, Self.embeddingRange), ("vocabulary_size", vocabularySize, Self.vocabularySizeRange),
    ]
    for (key, value, range) in sizes where !range.contains(value) {
      throw .outOfRange(key: key, value: value, range: range)
    }
  }

  enum CodingKeys: String, CodingKey {
    case cell, layers, hidden, embedding, dropout
    case vocabularySize = "vocabulary_size"
  }

  /// Reads the JSON a checkpoint holds. `dropout` may be left out (0: it only matters while
  /// training), and so may `vocabulary_size` when the decoder's `userInfo[.vocabularySize]`
  /// gives it (a checkpoint's vocabulary), so that a config written by hand names only the shape.
  public init(from decoder: any Decoder) throws {
    let values = try decoder.container(keyedBy: CodingKeys.self)
    cell = try values.decode(CellKind.self, forKey: .cell)
    layers = try values.decode(Int.self, forKey: .layers)
    hidden = try values.decode(Int.self, forKey: .hidden)
    embedding = try values.decode(Int.self, forKey: .embedding)
    dropout = try values.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
    if let size = try values.decodeIfPresent(Int.self, forKey: .vocabularySize) {
      vocabularySize = size
    } else if let size = decoder.userInfo[.vocabularySize] as? Int {
      vocabularySize = size
    } else {
      throw DecodingError.keyNotFound(
        CodingKeys.vocabularySize, .init(codingPath: values.codingPath, debugDescription: "no vocabulary_size"))
    }
  }
}

extension CodingUserInfoKey {
  /// The vocabulary size a `CharLMConfig` takes when its JSON has no `vocabulary_size`.
  public static let vocabularySize = CodingUserInfoKey(rawValue: "vocabularySize")!
}

/// Why a model's sizes are refused.
public enum ModelSizeError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The size under `key` (its `config` JSON key) is outside `range`.
  case outOfRange(key: String, value: Int, range: ClosedRange<Int>)

  public var description: String {
    switch self {
    case .outOfRange(let key, let value, let range): "\(key) \(value) is outside \(range)"
    }
  }
}
