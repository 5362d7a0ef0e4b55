/// What a training run is asked for: one field per `rnn train` option, nil (or empty) where the
/// option was not given. A new run takes the request over the defaults (`CharLMConfig`'s,
/// `TrainConfig()`'s, `Corpus`'s); a resumed run keeps what it fixed, refusing a request that
/// says otherwise, and applies what it may change (`RunSettings(resuming:...)`).
public struct RunRequest: Equatable, Sendable {
  /// The model's shape: `--cell`, `--layers`, `--hidden`, `--embedding`, `--dropout`.
  public var cell: CellKind?
  public var layers: Int?
  public var hidden: Int?
  public var embedding: Int?
  public var dropout: Float?
  /// What a run fixes besides its model: `--seq-length`, `--batch-size`, `--optimizer`, `--seed`.
  public var seqLength: Int?
  public var batchSize: Int?
  public var optimizer: OptimizerKind?
  public var seed: UInt64?
  /// What a resumed run may change: `--learning-rate`, `--lr-decay`, `--lr-decay-after`,
  /// `--grad-clip`, `--grad-clip-value`.
  public var learningRate: Float?
  public var lrDecay: Float?
  public var lrDecayAfter: Int?
  public var gradClip: Float?
  public var gradClipValue: Float?
  /// The fractions held out at the text's end: `--val-fraction`, `--test-fraction`.
  public var valFraction: Double?
  public var testFraction: Double?
  /// The text: `--data` (files and folders), else the built-in `--corpus`.
  public var dataPaths: [String] = []
  public var corpus: BuiltInCorpus?

  public init() {}

  /// A new model's shape for a vocabulary of `vocabularySize`: the request over the defaults.
  public func model(vocabularySize: Int) -> CharLMConfig {
    CharLMConfig(
      cell: cell ?? CharLMConfig.defaultCell, layers: layers ?? CharLMConfig.defaultLayers,
      hidden: hidden ?? CharLMConfig.defaultHidden, embedding: embedding ?? CharLMConfig.defaultEmbedding,
      vocabularySize: vocabularySize, dropout: dropout ?? 0)
  }

  /// A new run's training settings: the request over `TrainConfig()`.
  public var config: TrainConfig {
    var config = TrainConfig()
    config.seqLength = seqLength ?? config.seqLength
    config.batchSize = batchSize ?? config.batchSize
    config.seed = seed ?? config.seed
    config.optimizer = optimizer ?? config.optimizer
    _ = applyChanges(to: &config)
    return config
  }

  /// What a run of `model` with `config` (and, if it has one, `record`) cannot take: each request
  /// that sets what the run fixed (the model's shape, the batch shape, the optimizer, the seed,
  /// the held-out fractions) otherwise, as `--name value (the run's: value)`.
  public func conflicts(with model: CharLMConfig, _ config: TrainConfig, _ record: RunRecord?) -> [String] {
    var conflicts = [
      conflict(cell, model.cell, "cell"), conflict(layers, model.layers, "layers"),
      conflict(hidden, model.hidden, "hidden"), conflict(embedding, model.embedding, "embedding"),
      conflict(dropout, model.dropout, "dropout"),
      conflict(seqLength, config.seqLength, "seq-length"), conflict(batchSize, config.batchSize, "batch-size"),
      conflict(optimizer, config.optimizer, "optimizer"), conflict(seed, config.seed, "seed"),
    ].compactMap { $0 }
    if let record {
      conflicts += [
        conflict(valFraction, record.valFraction, "val-fraction"),
        conflict(testFraction, record.testFraction, "test-fraction"),
      ].compactMap { $0 }
    }
    return conflicts
  }

  /// Sets the learning rate, its decay and clipping that the request gives in `config` (a resumed
  /// run may change them); returns each change as `--name old -> new`.
  public func applyChanges(to config: inout TrainConfig) -> [String] {
    var changes: [String] = []
    func change<T: Equatable>(_ value: T?, _ key: WritableKeyPath<TrainConfig, T>, _ name: String) {
      guard let value, value != config[keyPath: key] else { return }
      changes.append("--\(name) \(config[keyPath: key]) -> \(value)")
      config[keyPath: key] = value
    }
    change(learningRate, \.learningRate, "learning-rate")
    change(lrDecay, \.lrDecay, "lr-decay")
    change(lrDecayAfter, \.lrDecayAfter, "lr-decay-after")
    change(gradClip, \.gradClip, "grad-clip")
    change(gradClipValue, \.gradClipValue, "grad-clip-value")
    return changes
  }
}

/// `--name value (the run's: value)` when `value` was requested and differs from the run's `fixed`.
private func conflict<T: Equatable>(_ value: T?, _ fixed: T, _ name: String) -> String? {
  guard let value, value != fixed else { return nil }
  return "--\(name) \(value) (the run's: \(fixed))"
}
