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
      return RunSettings(
        config: training.config, data: data, dataFromRun: false, valFraction: valFraction ?? Corpus.defaultValidationFraction,
        testFraction: testFraction ?? Corpus.defaultTestFraction, runID: RunRecord.makeID())
    }
    let run = saved.state.run
    let model = saved.checkpoint.model.config
    var config = saved.state.config
    var conflicts = [
      conflict(shape.cell?.kind, model.cell, "cell"), conflict(shape.layers, model.layers, "layers"),
      conflict(shape.hidden, model.hidden, "hidden"), conflict(embedding, model.embedding, "embedding"),
      conflict(dropout, model.dropout, "dropout"),
    ].compactMap { $0 }
    conflicts += training.conflicts(with: config)
    if let run {
      conflicts += [
        conflict(valFraction, run.valFraction, "val-fraction"), conflict(testFraction, run.testFraction, "test-fraction"),
      ].compactMap { $0 }
    }
    guard conflicts.isEmpty else {
      throw Failure(
        "--resume \(resume!) continues its run as it was set up, not with \(conflicts.joined(separator: ", ")); "
          + "drop \(conflicts.count == 1 ? "that option" : "those options"), or start a new run (--init-from fine-tunes a model)"
      )
    }
    let changes = training.applyChanges(to: &config)
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
      valFraction: valFraction ?? run?.valFraction ?? Corpus.defaultValidationFraction,
      testFraction: testFraction ?? run?.testFraction ?? Corpus.defaultTestFraction,
      runID: run?.id ?? RunRecord.makeID())
  }
}
