import Foundation

/// `<run folder>/metrics.jsonl`: one JSON object per line, for plotting a run.
///
/// - progress, every `RunSchedule.printEvery` steps: `{"step": N, "time": T, "epoch": E,
///   "train_loss": L, "learning_rate": R, "grad_norm": G, "tokens_per_s": S}` (`train_loss`: mean
///   over the steps since the previous line; `grad_norm`: of the last step, before clipping), and
///   with several ranks `"streams": [S0, S1, ...]`, each rank's streams of the batch, and rank 0's
///   seconds per step in the allreduce, `"allreduce_s"`, of which `"allreduce_wait_s"` waiting for
///   the slowest rank;
/// - validation: `{"step": N, "time": T, "val_loss": V}`.
///
/// `time` is seconds of this run, counted across resumes: a resumed run continues from the time of
/// the last line it keeps. A new run starts the file afresh; a resumed run keeps the lines up to
/// the step it resumes from (later ones describe work the checkpoint lost) and appends. Values
/// that are not finite are written as `null`. A line is written whole or not at all (a crash
/// mid-write aside, which leaves a partial last line that a resumed run drops).
public struct MetricsLog: Sendable {
  public static let fileName = "metrics.jsonl"

  public let path: String
  /// `monotonicSeconds()` when the run started, less the time already logged before a resume.
  private let origin: Double

  /// Opens the log in `folder`: afresh, or, with `resumingAt`, kept up to that step.
  public init(folder: String, resumingAt step: Int?) throws(RunFolderError) {
    path = folder + "/" + Self.fileName
    var kept = ""
    var lastTime = 0.0
    if let step, let existing = try? String(contentsOfFile: path, encoding: .utf8) {
      for line in existing.split(separator: "\n") {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let lineStep = object["step"] as? Int, lineStep <= step
        else { continue }
        kept += line + "\n"
        if let time = object["time"] as? Double { lastTime = time }
      }
    }
    do {
      try Data(kept.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw .unwritable(path: path, reason: error.localizedDescription)
    }
    origin = monotonicSeconds() - lastTime
  }

  /// Seconds since the run started (across resumes).
  public var time: Double { monotonicSeconds() - origin }

  /// Appends a progress line.
  public func progress(_ report: TrainingProgressReport) throws(RunFolderError) {
    try append(
      [
        ("step", "\(report.step)"), ("time", number(time, 3)), ("epoch", number(report.epoch, 4)),
        ("train_loss", number(report.loss)), ("learning_rate", number(report.learningRate)),
        ("grad_norm", number(report.gradientNorm)), ("tokens_per_s", number(report.tokensPerSecond, 1)),
      ] + (report.streams.map { [("streams", jsonArray($0))] } ?? [])
        + (report.allreduce.map {
          [("allreduce_s", number($0.secondsPerStep, 6)), ("allreduce_wait_s", number($0.waitingPerStep, 6))]
        } ?? []))
  }

  /// Appends a validation line.
  public func validation(step: Int, loss: Double) throws(RunFolderError) {
    try append([("step", "\(step)"), ("time", number(time, 3)), ("val_loss", number(loss))])
  }

  /// Appends one line. A write that fails partway (a full disk, a file-size limit) is undone:
  /// the file is cut back to its length before the line, and the error names the system's reason.
  private func append(_ fields: [(String, String)]) throws(RunFolderError) {
    let line = "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}\n"
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
    let bytes = Array(line.utf8)
    var written = 0
    while written < bytes.count {
      let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
      if n > 0 {
        written += n
      } else if n < 0 && errno == EINTR {
        continue
      } else {
        let reason = n == 0 ? "no progress" : String(cString: strerror(errno))
        ftruncate(fd, status.st_size)
        throw .unwritable(path: path, reason: reason)
      }
    }
  }

  /// A JSON number (Swift's shortest round-trip form is valid JSON), rounded to `digits` decimals
  /// if given; `null` if not finite.
  private func number(_ value: Double, _ digits: Int? = nil) -> String {
    guard value.isFinite else { return "null" }
    guard let digits else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    return "\((value * scale).rounded() / scale)"
  }

  private func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }
}
