import Foundation

/// What a training run trains with and on: for a new run, its request over the defaults; for a
/// resumed one, the run's settings, of which only some may change.
public struct RunSettings: Equatable, Sendable {
  public var config: TrainConfig
  /// The text: files and folders, else the built-in `corpus` (nil: the default one).
  public var dataPaths: [String]
  public var corpus: BuiltInCorpus?
  /// Whether the text is the one the resumed run's record names, the request naming none.
  public var dataFromRun: Bool
  public var valFraction: Double
  public var testFraction: Double
  /// The resumed run's id, or a new one.
  public var runID: String
  /// What a resumed run changes, each `--name old -> new` (empty for a new run).
  public var changes: [String]

  /// A new run's settings: `request` over the defaults, with a new id.
  public init(new request: RunRequest) {
    config = request.config
    dataPaths = request.dataPaths
    corpus = request.corpus
    dataFromRun = false
    valFraction = request.valFraction ?? Corpus.defaultValidationFraction
    testFraction = request.testFraction ?? Corpus.defaultTestFraction
    runID = RunRecord.makeID()
    changes = []
  }

  /// The settings of the run saved in `checkpoint` (read from `path`) and its training `state`.
  /// A request that sets what the run fixed (the model's shape, the batches, the optimizer, the
  /// seed, the held-out fractions) otherwise is refused, all in one error; a changed learning
  /// rate, decay or clipping is applied and listed in `changes`. A request without data reads the
  /// data the run's record names.
  public init(
    resuming checkpoint: Checkpoint, _ state: TrainingState, from path: String, request: RunRequest
  ) throws(ResumeError) {
    let run = state.run
    let conflicts = request.conflicts(with: checkpoint.model.config, state.config, run)
    guard conflicts.isEmpty else { throw .conflictingOptions(path: path, conflicts) }
    config = state.config
    changes = request.applyChanges(to: &config)
    dataPaths = request.dataPaths
    corpus = request.corpus
    dataFromRun = dataPaths.isEmpty && corpus == nil
    guard run != nil || !dataFromRun else { throw .unrecordedData(path: path) }
    if let run, dataFromRun {
      dataPaths = run.dataPaths
      corpus = run.corpus.flatMap(BuiltInCorpus.init(rawValue:))
    }
    valFraction = request.valFraction ?? run?.valFraction ?? Corpus.defaultValidationFraction
    testFraction = request.testFraction ?? run?.testFraction ?? Corpus.defaultTestFraction
    runID = run?.id ?? RunRecord.makeID()
  }

  /// The record the run's training states keep, for its model of `model` and `vocabulary`; the
  /// data's paths made absolute against the current folder.
  public func record(model: CharLMConfig, vocabulary: Vocabulary) -> RunRecord {
    RunRecord(
      id: runID, model: RunRecord.fingerprint(of: model, vocabulary: vocabulary), dataPaths: dataPaths.map(absolute),
      corpus: dataPaths.isEmpty ? (corpus ?? .swiftStandardLibrary).rawValue : nil, valFraction: valFraction,
      testFraction: testFraction)
  }

  /// Checks that `text`, the training part of the text read, is the one the run saved in `state`
  /// (read from `path`) trained on.
  public func check(_ text: TokenIDs, resuming state: TrainingState, from path: String) throws(ResumeError) {
    guard state.data == TrainingState.fingerprint(text) else { throw .otherText(path: path, run: state.run) }
  }

  private func absolute(_ path: String) -> String {
    let joined = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    return URL(fileURLWithPath: joined).standardized.path
  }
}
