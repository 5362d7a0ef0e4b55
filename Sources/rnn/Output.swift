import Foundation

/// The first error (an errno) met writing standard output, 0 if none: a full disk or a closed
/// file must not pass for success.
nonisolated(unsafe) private var standardOutputError: Int32 = 0

/// Flushes standard output, recording the first error.
private func flushStandardOutput() {
  if fflush(nil) != 0 && standardOutputError == 0 { standardOutputError = errno }
}

/// Writes `text` to standard output at once (streamed, even into a pipe).
func emit(_ text: String) {
  print(text, terminator: "")
  flushStandardOutput()
}

/// Writes `bytes` to standard output as they are, at once (after anything printed before).
func emit(bytes: [UInt8]) {
  flushStandardOutput()
  bytes.withUnsafeBytes { buffer in
    var done = 0
    while done < buffer.count && standardOutputError == 0 {
      let n = write(STDOUT_FILENO, buffer.baseAddress! + done, buffer.count - done)
      if n > 0 { done += n } else if n < 0 && errno != EINTR { standardOutputError = errno }
    }
  }
}

/// Writes one line to standard output at once.
func say(_ line: String) {
  print(line)
  flushStandardOutput()
}

/// Throws if anything written to standard output so far was lost (e.g. `> /dev/full`).
func checkStandardOutput() throws {
  flushStandardOutput()
  guard standardOutputError == 0 else {
    throw Failure("cannot write to standard output: \(String(cString: strerror(standardOutputError)))")
  }
}

/// "1h 02m", "3m 05s", "12s".
func formatDuration(_ seconds: Double) -> String {
  guard seconds.isFinite, seconds >= 0 else { return "?" }
  let s = Int(seconds.rounded())
  if s >= 3600 { return String(format: "%ldh %02ldm", s / 3600, s % 3600 / 60) }
  if s >= 60 { return String(format: "%ldm %02lds", s / 60, s % 60) }
  return "\(s)s"
}

/// A number with `digits` decimals.
func fixed(_ value: Double, _ digits: Int) -> String {
  String(format: "%.*f", digits, value)
}

/// "61.2k".
func thousands(_ value: Double) -> String {
  value >= 1000 ? fixed(value / 1000, 1) + "k" : fixed(value, 0)
}

/// A command-line failure: ArgumentParser prints `Error: <message>` and exits with status 1.
struct Failure: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}
