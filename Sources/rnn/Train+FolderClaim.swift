import Foundation
import RNN

extension Train {
  /// Makes sure this run writes over no other run's checkpoints: when `--checkpoint-dir` holds a
  /// `latest.safetensors` that is not of the run being continued (`resumed`, nil for a new run),
  /// the folder is refused, or with `--overwrite` that run's files (models, training states,
  /// `metrics.jsonl`, samples) are deleted first.
  func claimCheckpointFolder(continuing resumed: Checkpoint?) throws {
    let latest = checkpointDir + "/latest.safetensors"
    guard FileManager.default.fileExists(atPath: latest) else { return }
    // Resuming `latest` itself (the usual case): it is the run, and is not read a second time.
    if resumed != nil, let resume, Self.sameFile(resume, latest) { return }
    let other = try? Checkpoint(contentsOf: latest)
    if let resumed, let other, other.run == resumed.run { return }
    guard overwrite else {
      let what = other.map { "another run's checkpoints (latest.safetensors at step \($0.step))" } ?? "a latest.safetensors that does not load"
      throw Failure(
        "\(checkpointDir) holds \(what): continue that run with --resume \(latest), choose another --checkpoint-dir, "
          + "or pass --overwrite to replace it")
    }
    let files = FileManager.default
    let names = (try? files.contentsOfDirectory(atPath: checkpointDir)) ?? []
    let runFiles = names.filter { name in
      name == "metrics.jsonl" || name == "samples"
        || (name.hasSuffix(".safetensors") && ["latest.", "best.", "step-"].contains { name.hasPrefix($0) })
    }
    for name in runFiles {
      do { try files.removeItem(atPath: checkpointDir + "/" + name) } catch {
        throw Failure("cannot delete \(checkpointDir)/\(name) (--overwrite): \(error.localizedDescription)")
      }
    }
    say("Replaced the checkpoints of another run in \(checkpointDir) (--overwrite).")
  }

  /// Whether two paths name the same file (device and inode).
  private static func sameFile(_ a: String, _ b: String) -> Bool {
    var first = stat(), second = stat()
    return stat(a, &first) == 0 && stat(b, &second) == 0 && first.st_dev == second.st_dev
      && first.st_ino == second.st_ino
  }
}
