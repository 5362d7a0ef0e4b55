import Foundation

/// Writes `text` to standard output at once (streamed, even into a pipe).
func emit(_ text: String) {
  print(text, terminator: "")
  fflush(nil)
}

/// Writes `bytes` to standard output as they are, at once (after anything printed before).
func emit(bytes: [UInt8]) {
  fflush(nil)
  try? FileHandle.standardOutput.write(contentsOf: bytes)
}

/// Writes one line to standard output at once.
func say(_ line: String) {
  print(line)
  fflush(nil)
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

/// The current time in seconds (monotonic).
func now() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// A command-line failure: ArgumentParser prints `Error: <message>` and exits with status 1.
struct Failure: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}
