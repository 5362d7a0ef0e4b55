import RNN

/// What `rnn train` trains with and on: the options as the library's `RunRequest`, and the
/// `RunSettings` it makes of them, new or resumed.
extension Train {
  /// The options that make a run's settings, nil where not given.
  var request: RunRequest {
    var request = RunRequest()
    (request.cell, request.layers, request.hidden, request.embedding) =
      (shape.cell?.kind, shape.layers, shape.hidden, shape.embedding)
    request.dropout = dropout
    (request.seqLength, request.batchSize) = (training.batchShape.seqLength, training.batchShape.batchSize)
    (request.optimizer, request.seed) = (training.optimizer, training.seed)
    (request.learningRate, request.lrDecay, request.lrDecayAfter) =
      (training.learningRate, training.lrDecay, training.lrDecayAfter)
    (request.gradClip, request.gradClipValue) = (training.gradClip, training.gradClipValue)
    (request.valFraction, request.testFraction) = (valFraction, testFraction)
    (request.dataPaths, request.corpus) = (data.paths, data.corpus)
    return request
  }

  /// The settings of this run (`RunSettings`): resuming, each refusal says what to do, and what
  /// changes and where the data comes from are said.
  func runSettings(resuming saved: (checkpoint: Checkpoint, state: TrainingState)?) throws -> RunSettings {
    guard let saved else { return RunSettings(new: request) }
    let settings: RunSettings
    do {
      settings = try RunSettings(resuming: saved.checkpoint, saved.state, from: resume!, request: request)
    } catch {
      switch error {
      case .conflictingOptions(_, let conflicts):
        throw Failure(
          "--resume \(error); drop \(conflicts.count == 1 ? "that option" : "those options"), "
            + "or start a new run (--init-from fine-tunes a model)")
      case .unrecordedData:
        throw Failure("--resume \(error); pass the --data it was trained on (or --corpus for a built-in one)")
      default: throw error
      }
    }
    if !settings.changes.isEmpty {
      say("Changing \(settings.changes.joined(separator: ", ")) from step \(saved.state.progress.step) on.")
    }
    if settings.dataFromRun, !settings.dataPaths.isEmpty {
      say("No --data given: reading the run's data, \(settings.dataPaths.joined(separator: ", ")).")
    }
    return settings
  }

  /// The data options that read `settings`' text.
  func data(of settings: RunSettings) -> DataOptions {
    var data = self.data
    (data.paths, data.corpus) = (settings.dataPaths, settings.corpus)
    return data
  }
}
