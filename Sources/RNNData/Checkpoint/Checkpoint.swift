import Foundation

/// A trained character-level model as one `.safetensors` file that PyTorch loads as it is.
///
/// Tensors carry the names of the PyTorch module documented on `CharLM` (`embedding.weight`,
/// `rnn.weight_ih_l0`, ..., `decoder.bias`), so
/// `model.load_state_dict(safetensors.torch.load_file(path), strict=True)` works. The
/// `__metadata__` holds:
/// - `"vocabulary"`: a JSON array of one-scalar strings, index = token id;
/// - `"encoding"`: how text maps onto the vocabulary, `"utf8"` or `"bytes"` (see `TextEncoding`;
///   absent in older checkpoints, which are all `utf8`);
/// - `"config"`: `CharLMConfig` as JSON (`cell`, `layers`, `hidden`, `embedding`, and optionally
///   `vocabulary_size`, which must then match the vocabulary, and `dropout`, 0 when left out);
/// - `"format"`: `"swift-rnn-charlm/1"`, and `"step"`: the training step it was saved at;
/// - `"run"`: the id of the training run that saved it (`RunRecord.id`), if any.
public struct Checkpoint {
  public static let format = "swift-rnn-charlm/1"

  public let model: CharLM
  public let vocabulary: Vocabulary
  /// The training step the model was saved at (0 if unknown).
  public let step: Int
  /// The training run that saved it (`RunRecord.id`), if any.
  public let run: String?

  public init(model: CharLM, vocabulary: Vocabulary, step: Int = 0, run: String? = nil) {
    require(vocabulary.count == model.config.vocabularySize, "vocabulary does not match the model")
    self.model = model
    self.vocabulary = vocabulary
    self.step = step
    self.run = run
  }

  /// The checkpoint as safetensors contents.
  public func encoded() -> SafeTensors {
    let config = String(decoding: try! JSONEncoder.sorted.encode(model.config), as: UTF8.self)
    var metadata = [
      "vocabulary": vocabulary.jsonArray, "encoding": vocabulary.encoding.rawValue, "config": config,
      "format": Self.format, "step": String(step),
    ]
    if let run { metadata["run"] = run }
    return SafeTensors(tensors: model.parameters.stateDict(), metadata: metadata)
  }

  /// Writes the checkpoint atomically (a crash leaves any previous file intact).
  public func write(to path: String) throws {
    try encoded().write(to: path)
  }

  /// Reads and validates a checkpoint: metadata, vocabulary, config, and every tensor's shape and
  /// finiteness.
  public init(contentsOf path: String) throws {
    try self.init(SafeTensors.checkpointFile(at: path), path: path)
  }

  /// Validates decoded contents; `path` names the source in errors.
  public init(_ file: SafeTensors, path: String) throws {
    func metadata(_ key: String) throws -> String {
      guard let value = file.metadata[key] else { throw CheckpointError.missingMetadata(path: path, key: key) }
      return value
    }
    var vocabulary: Vocabulary
    do { vocabulary = try Vocabulary(jsonArray: try metadata("vocabulary")) } catch let error as VocabularyError {
      throw CheckpointError.invalidMetadata(path: path, key: "vocabulary", reason: error.description)
    }
    let encoding = try file.metadata["encoding"].map { value in
      guard let encoding = TextEncoding(rawValue: value) else {
        throw CheckpointError.invalidMetadata(
          path: path, key: "encoding",
          reason: "\(value.debugDescription) is not one of \(TextEncoding.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      return encoding
    }
    if encoding == .bytes {
      guard vocabulary.scalars == Vocabulary.bytes.scalars else {
        throw CheckpointError.invalidMetadata(
          path: path, key: "vocabulary", reason: "a byte-level model's vocabulary must be U+0000 ... U+00FF in order")
      }
      vocabulary = .bytes
    }
    let config: CharLMConfig
    let decoder = JSONDecoder()
    decoder.userInfo[.vocabularySize] = vocabulary.count
    do { config = try decoder.decode(CharLMConfig.self, from: Data(try metadata("config").utf8)) } catch let error
      as DecodingError
    {
      throw CheckpointError.invalidMetadata(path: path, key: "config", reason: Self.describe(error))
    }
    do { try config.checkSizes() } catch {
      throw CheckpointError.invalidMetadata(path: path, key: "config", reason: error.description)
    }
    guard config.vocabularySize == vocabulary.count else {
      throw CheckpointError.invalidMetadata(
        path: path, key: "config",
        reason: "vocabulary_size \(config.vocabularySize) but the vocabulary has \(vocabulary.count) characters")
    }
    guard (0..<1).contains(config.dropout) else {
      throw CheckpointError.invalidMetadata(path: path, key: "config", reason: "dropout \(config.dropout) is outside [0, 1)")
    }
    // Every tensor must be in the file with the shape the config implies before anything is
    // allocated: the file's own size then bounds the model's.
    let layout = CharLM.parameterLayout(config)
    try layout.check(file, path: path)
    let model = CharLM(config)
    model.parameters.assign(file)
    self.model = model
    self.vocabulary = vocabulary
    self.step = file.metadata["step"].flatMap { Int($0) } ?? 0
    self.run = file.metadata["run"]
  }

  private static func describe(_ error: DecodingError) -> String {
    switch error {
    case .keyNotFound(let key, _): "missing \"\(key.stringValue)\""
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
      (context.codingPath.last.map { "\"\($0.stringValue)\": " } ?? "") + context.debugDescription
    @unknown default: "\(error)"
    }
  }
}

extension JSONEncoder {
  /// An encoder with sorted keys, so files are byte-for-byte reproducible.
  static var sorted: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return encoder
  }
}
