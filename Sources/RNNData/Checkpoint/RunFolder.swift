import Foundation

/// A training run's folder, as `TrainingRun` keeps it: `latest.safetensors` with its training
/// state beside it, `best.safetensors`, with `keep` above 1 the `step-<N>` pairs of the last `keep`
/// saves, each validation's sample as `samples/step-<N>.txt`, and `metrics.jsonl` (`MetricsLog`).
/// `create()`, `lock(holder:)` and `claim(continuing:from:overwrite:)` make it ready for a run.
///
/// A save writes each pair to temporary files and renames them into place, the training state
/// first: a kill leaves the previous pair, the new one, or (between the two renames) the new state
/// with the new model complete in its temporary file, which `recover()` renames into place.
public struct RunFolder: Sendable {
  public let path: String
  /// How many saves are kept as `step-<N>` (1: `latest` only).
  public let keep: Int

  public init(_ path: String, keep: Int = 1) {
    self.path = path
    self.keep = keep
  }

  public var latest: String { path + "/latest.safetensors" }
  public var best: String { path + "/best.safetensors" }
  public var samples: String { path + "/samples" }
  public func step(_ n: Int) -> String { path + "/step-\(n).safetensors" }

  /// Repairs what killed saves left: completes a save cut between its renames (returning its
  /// step) and deletes the temporary files of saves cut earlier (returning their names).
  public func recover() -> (completedStep: Int?, removed: [String]) {
    let step = TrainingState.completeInterruptedSave(of: latest)
    return (step, SafeTensors.removeAbandonedTemporaryFiles(in: path))
  }

  /// Saves a run at `step`: its training state and model as `latest` and, with `keep` above 1,
  /// as `step-<N>`, deleting the `step` files of saves before the last `keep` (those of later
  /// steps, left by a run this one resumed from an earlier point, are overwritten as it gets
  /// there).
  public func save(_ checkpoint: Checkpoint, state: TrainingState, step: Int) throws {
    let (model, training) = (checkpoint.encoded(), state.encoded())
    for path in keep > 1 ? [latest, self.step(step)] : [latest] {
      try SafeTensors.write([(training, TrainingState.path(besides: path)), (model, path)])
    }
    if keep > 1 { try prune(through: step) }
  }

  /// Saves the best model so far.
  public func saveBest(_ checkpoint: Checkpoint) throws { try checkpoint.write(to: best) }

  /// Keeps the sample of the validation at `step`, bytes as sampled.
  public func saveSample(_ bytes: [UInt8], step: Int) throws(RunFolderError) {
    let file = samples + "/step-\(step).txt"
    do {
      try FileManager.default.createDirectory(atPath: samples, withIntermediateDirectories: true)
      try Data(bytes).write(to: URL(fileURLWithPath: file), options: .atomic)
    } catch {
      throw .unwritable(path: file, reason: error.localizedDescription)
    }
  }

  /// Deletes the `step-<N>` pairs with `N` at most `step` but the newest `keep`.
  private func prune(through step: Int) throws(RunFolderError) {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    let steps = names.compactMap { name -> Int? in
      guard name.hasPrefix("step-"), name.hasSuffix(".safetensors"), !name.hasSuffix(".training.safetensors") else {
        return nil
      }
      return Int(name.dropFirst("step-".count).dropLast(".safetensors".count))
    }
    for old in steps.filter({ $0 <= step }).sorted().dropLast(keep) {
      for file in [self.step(old), TrainingState.path(besides: self.step(old))] {
        do { try FileManager.default.removeItem(atPath: file) } catch CocoaError.fileNoSuchFile {} catch {
          throw .undeletable(path: file, reason: error.localizedDescription)
        }
      }
    }
  }
}
