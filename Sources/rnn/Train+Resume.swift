import Foundation
import RNN

/// What `rnn train` trains with and on: for a new run, the options over the defaults; for a
/// resumed one, the run's settings, of which only some may change.
extension Train {
  struct RunSettings {
    var config: TrainConfig
    var data: DataOptions
    /// Whether `data` comes from the resumed run's record rather than from the options.
    var dataFromRun: Bool
    var valFraction: Double
    var testFraction: Double
    /// The resumed run's id, or a new one.
    var runID: String

    /// The record the run's training states keep, for its model of `model` and `vocabulary`.
    func record(model: CharLMConfig, vocabulary: Vocabulary) -> RunRecord {
      RunRecord(
        id: runID, model: RunRecord.fingerprint(of: model, vocabulary: vocabulary), dataPaths: data.paths.map(absolute),
        corpus: data.paths.isEmpty ? (data.corpus ?? .swiftStandardLibrary).rawValue : nil, valFraction: valFraction,
        testFraction: testFraction)
    }

    /// What to pass to resume `saved` on its data, for the message that refuses other text.
    func dataNeeded(_ saved: TrainingState) -> String {
      guard let run = saved.run else { return "resume needs the same data" }
      let source =
        run.dataPaths.isEmpty ? "--corpus \(run.corpus ?? "?")" : "--data \(run.dataPaths.joined(separator: " "))"
      return "it was trained on \(source) with --val-fraction \(run.valFraction) --test-fraction \(run.testFraction)"
    }

    private func absolute(_ path: String) -> String {
      let joined = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
      return URL(fileURLWithPath: joined).standardized.path
    }
  }

  /// The settings of this run. Resuming, a setting the run fixed (the model's shape, the batches,
  /// the optimizer, the seed, the held-out fractions) that an option sets otherwise is refused,
  /// all in one message; a changed learning rate, decay or clipping is applied and said. Without
  /// --data or --corpus, a resumed run reads the data its record names.
  func runSettings(resuming saved: (checkpoint: Checkpoint, state: TrainingState)?) throws -> RunSettings {
    guard let saved else {
      var config = TrainConfig()
      config.optimizer = optimizer ?? config.optimizer
      config.learningRate = learningRate ?? config.learningRate
      config.lrDecay = lrDecay ?? config.lrDecay
      config.lrDecayAfter = lrDecayAfter ?? config.lrDecayAfter
      config.gradClip = gradClip ?? config.gradClip
      config.gradClipValue = gradClipValue ?? config.gradClipValue
      config.seqLength = batchShape.steps
      config.batchSize = batchShape.rows
      config.seed = seed ?? config.seed
      return RunSettings(
        config: config, data: data, dataFromRun: false, valFraction: valFraction ?? Self.defaultFractions.validation,
        testFraction: testFraction ?? Self.defaultFractions.test, runID: RunRecord.makeID())
    }
    let run = saved.state.run
    let model = saved.checkpoint.model.config
    var config = saved.state.config
    var conflicts: [String] = []
    func keep<T: Equatable>(_ option: T?, _ value: T, _ name: String) {
      if let option, option != value { conflicts.append("--\(name) \(option) (the run's: \(value))") }
    }
    keep(shape.cell?.kind, model.cell, "cell")
    keep(shape.layers, model.layers, "layers")
    keep(shape.hidden, model.hidden, "hidden")
    keep(embedding, model.embedding, "embedding")
    keep(dropout, model.dropout, "dropout")
    keep(batchShape.seqLength, config.seqLength, "seq-length")
    keep(batchShape.batchSize, config.batchSize, "batch-size")
    keep(optimizer, config.optimizer, "optimizer")
    keep(seed, config.seed, "seed")
    if let run {
      keep(valFraction, run.valFraction, "val-fraction")
      keep(testFraction, run.testFraction, "test-fraction")
    }
    guard conflicts.isEmpty else {
      throw Failure(
        "--resume \(resume!) continues its run as it was set up, not with \(conflicts.joined(separator: ", ")); "
          + "drop \(conflicts.count == 1 ? "that option" : "those options"), or start a new run (--init-from fine-tunes a model)"
      )
    }
    var changes: [String] = []
    func change<T: Equatable>(_ option: T?, _ key: WritableKeyPath<TrainConfig, T>, _ name: String) {
      guard let option, option != config[keyPath: key] else { return }
      changes.append("--\(name) \(config[keyPath: key]) -> \(option)")
      config[keyPath: key] = option
    }
    change(learningRate, \.learningRate, "learning-rate")
    change(lrDecay, \.lrDecay, "lr-decay")
    change(lrDecayAfter, \.lrDecayAfter, "lr-decay-after")
    change(gradClip, \.gradClip, "grad-clip")
    change(gradClipValue, \.gradClipValue, "grad-clip-value")
    if !changes.isEmpty {
      say("Changing \(changes.joined(separator: ", ")) from step \(saved.state.progress.step) on.")
    }

    var data = self.data
    let fromRun = data.paths.isEmpty && data.corpus == nil
    guard run != nil || !fromRun else {
      throw Failure(
        "--resume \(resume!): its training state does not say what the run read (an older rnn saved it); "
          + "pass the --data it was trained on (or --corpus for a built-in one)")
    }
    if let run, fromRun {
      data.paths = run.dataPaths
      data.corpus = run.corpus.flatMap(BuiltInCorpus.init(rawValue:))
      if !run.dataPaths.isEmpty {
        say("No --data given: reading the run's data, \(run.dataPaths.joined(separator: ", ")).")
      }
    }
    return RunSettings(
      config: config, data: data, dataFromRun: fromRun,
      valFraction: valFraction ?? run?.valFraction ?? Self.defaultFractions.validation,
      testFraction: testFraction ?? run?.testFraction ?? Self.defaultFractions.test,
      runID: run?.id ?? RunRecord.makeID())
  }
}
