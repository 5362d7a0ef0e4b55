import Foundation
import RNN

/// A status line on standard error for long work (`rnn eval`), redrawn in place, at most ten
/// times a second, and only when standard error is a terminal: a pipe or a log file gets nothing.
final class TerminalStatus {
  /// Whether standard error is a terminal that understands carriage return and erase-line.
  let live: Bool
  private var shown = false
  private var lastDraw = -Double.infinity

  init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    live = isatty(STDERR_FILENO) == 1 && environment["TERM"] != "dumb"
  }

  /// Draws `line` in place of the previous one (skipped within 0.1 s of the last draw).
  func update(_ line: @autoclosure () -> String) {
    guard live, monotonicSeconds() - lastDraw >= 0.1 else { return }
    lastDraw = monotonicSeconds()
    FileHandle.standardError.write(Data(("\r\u{1B}[K" + line()).utf8))
    shown = true
  }

  /// Erases the line, so that what follows starts on a clean line.
  func clear() {
    guard shown else { return }
    FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    shown = false
  }

  /// "scoring: 45% (54000 of 120000 characters), 12s, about 15s left".
  static func progress(_ what: String, done: Int, of total: Int, unit: String, since start: Double) -> String {
    let elapsed = monotonicSeconds() - start
    let left = done > 0 ? elapsed * Double(total - done) / Double(done) : .nan
    return "\(what): \(done * 100 / max(total, 1))% (\(done) of \(total) \(unit)), \(formatDuration(elapsed)), about \(formatDuration(left)) left"
  }
}
