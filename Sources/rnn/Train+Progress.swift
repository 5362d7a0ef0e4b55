import ArgumentParser
import Foundation
import RNN

extension Train {
  /// Runs `run` with SIGINT, SIGTERM and SIGHUP as stop requests, printing its events to
  /// `output`: progress, skipped batches, validations, samples, the summary, and on a stop the
  /// command that resumes (then exits with `128 + signal`).
  func execute(_ run: TrainingRun, output: ProgressOutput) throws {
    defer { output.clearStatus() }  // an error message or the shell prompt starts on its own line
    let trainer = run.trainer
    let config = trainer.model.config
    output.log(
      "Model: \(config.layers) x \(config.cell.rawValue) \(config.hidden), embedding \(config.embedding), "
        + "vocabulary \(config.vocabularySize), \(trainer.model.parameters.layout.parameterCount) parameters; "
        + "\(trainer.batches.batchesPerEpoch) batches of \(trainer.config.batchSize) x \(trainer.config.seqLength) per epoch; "
        + "matrix products: \(BLAS.productDescription).")
    StopRequest.install()
    let outcome: TrainingOutcome
    do {
      outcome = try run.run(
        onEvent: { event in report(event, of: run, to: output) }, stopRequested: { StopRequest.received != nil })
    } catch let error as CUDAError {
      throw Failure("--device cuda: \(error)")
    }
    switch outcome {
    case .nothingToDo(let step, let lastStep):
      output.log("Nothing to do: step \(step) already reached the last step \(lastStep).")
    case .stopped(let step):
      let signal = StopRequest.received ?? SIGTERM  // another rank's signal stops this one too
      output.log(
        "Stopped by \(StopRequest.name(signal)) after step \(step): saved \(run.folder.latest); "
          + "resume with: \(resumeCommand(latest: run.folder.latest))")
      throw ExitCode(128 + signal)
    case .finished(let testLoss):
      if let testLoss {
        output.log(
          "Test loss: \(fixed(testLoss, 4)) nats/char (\(fixed(testLoss / log(2), 4)) bits/char) over \(run.test.count) characters."
        )
      }
      let best = FileManager.default.fileExists(atPath: run.folder.best) ? " and \(run.folder.best)" : ""
      output.log("Saved \(run.folder.latest)\(best).")
    }
  }

  /// Prints one event of `run`.
  private func report(_ event: TrainingEvent, of run: TrainingRun, to output: ProgressOutput) {
    switch event {
    case .progress(let report):
      // Once a stop is asked for, the terminal gets only the stop message: `mpirun` stops
      // reading its ranks' output when it passes on a Ctrl-C, and a status line written into
      // the full pipe would block rank 0 (and the others, in the next sum) until it kills them.
      guard StopRequest.received == nil else { return }
      let details =
        output.verbosity == .verbose
        ? "| grad norm \(fixed(Double(report.gradientNorm), 2)) | lr \(report.learningRate) "
          + (report.streams.map { "| streams \($0.map(String.init).joined(separator: "/")) " } ?? "")
          + (report.allreduce.map {
            "| allreduce \(fixed($0.secondsPerStep * 1e3, 1)) ms (\(fixed($0.waitingPerStep * 1e3, 1)) waiting) "
          } ?? "") : ""
      let left = report.secondsPerStep * Double(report.lastStep - report.step)
      output.status(
        "step \(report.step)/\(report.lastStep) | epoch \(fixed(report.epoch, 2)) | loss \(fixed(report.loss, 4)) "
          + details + "| \(thousands(report.tokensPerSecond)) tok/s | \(formatDuration(left)) left")
    case .skipped(let step, let loss, let inARow):
      output.log("step \(step) | loss \(loss) or a gradient is not finite: batch skipped (\(inARow) in a row)")
    case .validated(let step, let loss, let best):
      output.log(
        "step \(step) | validation loss \(fixed(loss, 4)) (\(fixed(loss / log(2), 3)) bits/char)"
          + (best ? " | best so far, saved \(run.folder.best)" : ""))
    case .sampled(let step, let bytes):
      // The file gets the bytes as sampled; the log, text (a byte-level model's ill-formed UTF-8 as U+FFFD).
      output.detail("---- sample at step \(step) ----\n\(String(decoding: bytes, as: UTF8.self))\n----")
    }
  }

  /// The command that continues this run: the arguments it was started with, with `--resume`
  /// pointing at `latest` in place of any `--resume` or `--init-from`.
  private func resumeCommand(latest: String) -> String {
    var arguments = Array(CommandLine.arguments.dropFirst())
    guard let train = arguments.firstIndex(of: "train") else { return "rnn train --resume \(latest) ..." }
    arguments.removeSubrange(...train)
    var kept: [String] = []
    var i = 0
    while i < arguments.count {
      let argument = arguments[i]
      if argument == "--resume" || argument == "--init-from" {
        i += 2
        continue
      }
      if !argument.hasPrefix("--resume="), !argument.hasPrefix("--init-from=") { kept.append(argument) }
      i += 1
    }
    return (["rnn", "train", "--resume", latest] + kept).map(shellQuoted).joined(separator: " ")
  }

  private func shellQuoted(_ word: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=+:,@%")
    guard word.isEmpty || !word.allSatisfy(safe.contains) else { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }
}
