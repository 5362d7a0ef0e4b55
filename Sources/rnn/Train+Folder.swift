import Foundation
import RNN

extension Train {
  /// The run folder, `--checkpoint-dir`.
  var folder: RunFolder { RunFolder(checkpointDir) }

  /// Creates the checkpoint folder, locks it for this run and repairs what killed saves left
  /// (see `RunFolder`), saying what it did; each refusal says what to do.
  func prepareFolder() throws {
    do {
      try folder.create()
      let holder = "pid \(getpid()): rnn \(CommandLine.arguments.dropFirst().joined(separator: " "))"
      if let reason = try folder.lock(holder: holder) {
        say(
          "Warning: cannot lock checkpoint folder \(checkpointDir) (\(reason)); nothing stops a second run from writing it."
        )
      }
    } catch {
      switch error {
      case .notWritable where checkpointFolder == nil && resume != nil:
        throw Failure("\(error); pass --checkpoint-dir to continue the run in another folder")
      case .inUse: throw Failure("\(error); wait for it to end or pass another --checkpoint-dir")
      default: throw error
      }
    }
    let (completed, abandoned) = folder.recover()
    if let completed {
      say("Completed the save of step \(completed) in \(folder.latest), which was killed midway.")
    }
    if !abandoned.isEmpty {
      say(
        "Removed \(abandoned.count) temporary file\(abandoned.count == 1 ? "" : "s") of a save that was killed midway.")
    }
  }

  /// Makes sure this run writes over no other run's checkpoints: the folder of another run is
  /// refused, or with `--overwrite` that run's files are deleted (see `RunFolder.claim`).
  func claimFolder(continuing resumed: Checkpoint?) throws {
    do {
      guard try folder.claim(continuing: resumed, from: resume, overwrite: overwrite) else { return }
    } catch {
      switch error {
      case .anotherRun:
        throw Failure(
          "\(error): continue that run with --resume \(folder.latest), choose another --checkpoint-dir, "
            + "or pass --overwrite to replace it")
      case .undeletable(let path, let reason): throw Failure("cannot delete \(path) (--overwrite): \(reason)")
      default: throw error
      }
    }
    say("Replaced the checkpoints of another run in \(checkpointDir) (--overwrite).")
  }
}
