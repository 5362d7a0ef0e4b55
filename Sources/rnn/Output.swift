#if canImport(Glibc)
  import Glibc
#endif

/// Writes `text` to standard output at once (streamed, even into a pipe).
func emit(_ text: String) {
  print(text, terminator: "")
  fflush(nil)
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
  if s >= 3600 { return "\(s / 3600)h \(String(format2(s % 3600 / 60)))m" }
  if s >= 60 { return "\(s / 60)m \(format2(s % 60))s" }
  return "\(s)s"
}

private func format2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

/// A number with `digits` decimals.
func fixed(_ value: Double, _ digits: Int) -> String {
  var scale = 1.0
  for _ in 0..<digits { scale *= 10 }
  let rounded = (value * scale).rounded() / scale
  var text = "\(rounded)"
  if text.contains("e") { return text }
  let parts = text.split(separator: ".", omittingEmptySubsequences: false)
  let decimals = parts.count > 1 ? parts[1].count : 0
  if decimals < digits { text += (parts.count > 1 ? "" : ".") + String(repeating: "0", count: digits - decimals) }
  return digits == 0 ? String(parts[0]) : text
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
