import RNN

#if canImport(Glibc)
  import Glibc
#endif

/// Where `rnn train` reports: on a terminal, the progress line is one status line redrawn in
/// place; into a pipe or a file, each progress report is a plain log line. Quiet keeps only the
/// validation results and the summary; verbose adds gradient norm and learning rate.
final class ProgressOutput {
  enum Verbosity {
    case quiet, normal, verbose
  }

  let verbosity: Verbosity
  /// Whether standard output is a terminal that understands carriage return and erase-line.
  let live: Bool
  private var statusShown = false
  /// When the status line was last drawn (`monotonicSeconds()`).
  private var drawn = -Double.infinity

  /// The status line is redrawn at most this often, in seconds: a person reads a few a second,
  /// and output read slowly (`mpirun`'s, once it passes on a Ctrl-C) must not fill up.
  static let redrawInterval = 0.1

  init(verbosity: Verbosity, environment: [String: String]) {
    self.verbosity = verbosity
    live = isatty(STDOUT_FILENO) == 1 && environment["TERM"] != "dumb"
  }

  /// A progress report: redrawn in place on a terminal (at most every `redrawInterval`), a log
  /// line otherwise, nothing when quiet.
  func status(_ line: String) {
    guard verbosity != .quiet else { return }
    if live {
      let time = monotonicSeconds()
      guard time - drawn >= Self.redrawInterval else { return }
      drawn = time
      emit("\r\u{1B}[K" + line)
      statusShown = true
    } else {
      say(line)
    }
  }

  /// A line that stays (validation, checkpoints, warnings, the summary), printed in every mode.
  func log(_ line: String) {
    clearStatus()
    say(line)
  }

  /// Longer output (the samples), skipped when quiet.
  func detail(_ text: String) {
    guard verbosity != .quiet else { return }
    log(text)
  }

  /// Ends a status line so that what follows starts on a line of its own.
  func clearStatus() {
    if statusShown {
      emit("\n")
      statusShown = false
    }
  }
}
