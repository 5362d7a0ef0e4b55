/// Why a run cannot be resumed as requested. Each `description` is one line; `rnn train` adds
/// what to do.
public enum ResumeError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The request sets what the run saved at `path` fixed otherwise; each conflict as
  /// `--name value (the run's: value)` (`RunRequest.conflicts`).
  case conflictingOptions(path: String, [String])
  /// The run's training state does not say what it read (saved before runs had records), and the
  /// request names no data.
  case unrecordedData(path: String)
  /// The text read is not the one the run trained on (or is split with other fractions); `run`
  /// names the run's data, if its training state has a record.
  case otherText(path: String, run: RunRecord?)

  public var description: String {
    switch self {
    case .conflictingOptions(let path, let conflicts):
      "\(path) continues its run as it was set up, not with \(conflicts.joined(separator: ", "))"
    case .unrecordedData(let path):
      "\(path): its training state does not say what the run read (an older rnn saved it)"
    case .otherText(let path, let run):
      "\(path) was trained on other text (or other --val-fraction/--test-fraction); "
        + (run.map(Self.data(of:)) ?? "resume needs the same data")
    }
  }

  /// What `run` read, as the options that read it again.
  private static func data(of run: RunRecord) -> String {
    let source =
      run.dataPaths.isEmpty ? "--corpus \(run.corpus ?? "?")" : "--data \(run.dataPaths.joined(separator: " "))"
    return "it was trained on \(source) with --val-fraction \(run.valFraction) --test-fraction \(run.testFraction)"
  }
}
