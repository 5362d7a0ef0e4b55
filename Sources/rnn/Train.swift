import ArgumentParser
import Foundation
import RNN

/// `rnn train`: trains a character-level language model, printing progress, validation loss and
/// samples, and keeping `latest.safetensors` and `best.safetensors` in the checkpoint folder.
struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a character-level language model on text.",
    discussion: """
      With no --data, trains on the Swift standard library's textual interface that ships with the \
      toolchain. Checkpoints (--checkpoint-dir) are PyTorch-loadable safetensors files; each has a \
      .training.safetensors file beside it that --resume reads. A resumed run continues in the folder of the \
      checkpoint it resumes (unless --checkpoint-dir says otherwise), on the data it was trained on (unless \
      --data or --corpus say otherwise: the same text, from elsewhere), with the model's shape, --seq-length, \
      --batch-size, --optimizer, --seed, --val-fraction and --test-fraction of the run (other values are \
      refused); it may change --learning-rate, --lr-decay, --lr-decay-after, --grad-clip and --grad-clip-value \
      (said when it does), and the length, reporting and saving options. Ctrl-C (SIGINT), SIGTERM or SIGHUP stops after \
      the current step, saves latest.safetensors and prints the command that resumes (a second one stops \
      at once). The checkpoint folder also gets metrics.jsonl (one JSON object per progress or validation \
      line) and samples/step-<N>.txt. One run at a time writes a folder: a second is refused while the \
      first runs.
      """)

  @OptionGroup var data: DataOptions

  // The model's shape: optional so that --resume and --init-from can tell what was passed (they
  // take the shape from the checkpoint).
  @OptionGroup var shape: ModelShapeOptions
  @Option(parsing: .unconditional, help: "Dropout between layers and before the decoder, 0 to <1 (default: 0; with --init-from, the checkpoint's).")
  var dropout: Float?
  @OptionGroup var training: TrainingOptions
  @OptionGroup var schedule: RunScheduleOptions
  @Option(parsing: .unconditional, help: "Fraction of the text, from its end, held out for validation (default: \(Corpus.defaultValidationFraction)).")
  var valFraction: Double?
  @Option(parsing: .unconditional, help: "Fraction of the text, at its very end, held out for the final test (default: \(Corpus.defaultTestFraction)).")
  var testFraction: Double?
  @Option(name: .customLong("checkpoint-dir"), help: "Folder for latest.safetensors and best.safetensors (default: checkpoints; with --resume, the checkpoint's folder).")
  var checkpointFolder: String?
  @Option(help: "Continue the run saved in this checkpoint (its .training.safetensors must be beside it), in its folder, on its data.")
  var resume: String?
  @Flag(help: "Replace the checkpoints of another run in --checkpoint-dir (without it, such a folder is refused).")
  var overwrite = false
  @Option(help: "Fine-tune the model of this checkpoint on --data: its shape and vocabulary, a new optimizer, from step 0.")
  var initFrom: String?
  @Option(help: "With --init-from (or --resume): read characters outside the checkpoint's vocabulary as this one (default: refuse such text).")
  var unknownChar: String?
  @Flag(help: "Print only validation results and the summary (no progress, no samples).")
  var quiet = false
  @Flag(help: "Add gradient norm and learning rate to the progress reports.")
  var verbose = false
  @OptionGroup var compute: ComputeOptions
  @OptionGroup var parallel: DataParallelOptions
  @OptionGroup var products: TrainingPrecisionOption
  @OptionGroup var device: DeviceOption

  /// The folder the run writes: --checkpoint-dir, else the folder of --resume's checkpoint, else `checkpoints`.
  var checkpointDir: String {
    if let checkpointFolder { return checkpointFolder }
    guard let resume else { return "checkpoints" }
    guard let slash = resume.lastIndex(of: "/") else { return "." }
    return slash == resume.startIndex ? "/" : String(resume[..<slash])
  }

  func validate() throws {
    if device.device == .cuda, products.precision == .bf16 {
      throw ValidationError("--precision bf16 is for CPU training; on --device cuda training runs in fp32 (TF32 products)")
    }
    if checkpointFolder?.isEmpty == true { throw ValidationError("--checkpoint-dir must name a folder, got an empty string") }
    guard resume == nil || initFrom == nil else { throw ValidationError("--resume and --init-from exclude each other") }
    if let unknownChar {
      guard unknownChar.unicodeScalars.count == 1 else {
        throw ValidationError("--unknown-char must be exactly one character, got \(unknownChar.debugDescription)")
      }
      guard resume != nil || initFrom != nil else {
        throw ValidationError("--unknown-char needs --init-from (or --resume): a new model's vocabulary has every character")
      }
    }
    guard !(quiet && verbose) else { throw ValidationError("--quiet and --verbose exclude each other") }
    if let dropout, !(0..<1).contains(dropout) { throw ValidationError("--dropout must be in [0, 1), got \(dropout)") }
    let (validation, test) = (valFraction ?? Corpus.defaultValidationFraction, testFraction ?? Corpus.defaultTestFraction)
    guard (0..<1).contains(validation), (0..<1).contains(test), validation + test < 1 else {
      throw ValidationError("--val-fraction and --test-fraction must be in [0, 1) and sum below 1")
    }
  }

  func run() throws {
    compute.configure()
    let gpu = try device.open()
    let communicator = try Distributed.join(batchSize: resume == nil ? training.batchShape.rows : nil)
    if gpu != nil, communicator != nil { throw Failure("--device cuda trains in one process; several ranks train on CPUs") }
    try Distributed.run(communicator) { try train(communicator, gpu: gpu) }
  }

  /// Trains alone (on `gpu` when given), or as one rank of `communicator`'s job (rank 0 alone
  /// writes files).
  private func train(_ communicator: MPICommunicator?, gpu: CUDADevice?) throws {
    products.configure()
    if (communicator?.rank ?? 0) == 0 {
      if let note = Distributed.stopGraceNote() { say(note) }
      try prepareFolder()
    }
    _ = try communicator?.any(false)  // the other ranks read --resume once rank 0 has repaired it
    let resumed = try resume.map { path in
      let checkpoint = try Checkpoint(contentsOf: path)
      return (checkpoint: checkpoint, state: try TrainingState(besides: checkpoint, at: path))
    }
    let initial = try initFrom.map { try Checkpoint(contentsOf: $0) }
    // Once every rank has read its checkpoints, rank 0 alone may replace another run's files.
    _ = try communicator?.any(false)
    if (communicator?.rank ?? 0) == 0 { try claimFolder(continuing: resumed?.checkpoint) }
    let base = resumed?.checkpoint ?? initial
    if let base {
      let path = (resume ?? initFrom)!
      if let encoding = data.encoding, encoding != base.vocabulary.encoding {
        throw Failure(
          "--encoding \(encoding.rawValue): \(path) reads its text as \(base.vocabulary.encoding.rawValue); drop --encoding")
      }
      if initial != nil { reportIgnoredShapeOptions(base.model.config, from: path) }
    }
    let settings = try runSettings(resuming: resumed)
    // Before the text is read, a new UTF-8 model's vocabulary has at least one character.
    let vocabularyKnown = base != nil || data.encoding == .bytes
    let shape = base?.model.config ?? request.model(vocabularySize: data.encoding == .bytes ? 256 : 1)
    try requireFits(
      shape, optimizer: settings.config.optimizer, batchSize: settings.config.batchSize,
      seqLength: settings.config.seqLength, vocabularyKnown: vocabularyKnown)
    let corpus: Corpus
    do {
      corpus = try loadCorpus(data(of: settings), vocabulary: base?.vocabulary, checkpoint: resume ?? initFrom)
    } catch let error as CorpusError where settings.dataFromRun {
      switch error {
      case .missingPath, .unreadable, .noTextFiles:
        throw Failure("\(error) (the data \(resume!) was trained on); pass --data to read it from elsewhere")
      default: throw error
      }
    }
    let splits = Corpus.split(
      count: corpus.text.count, valFraction: settings.valFraction, testFraction: settings.testFraction)
    let trainText = corpus.text[splits.train]
    let config = settings.config

    let trainer: Trainer
    if let (checkpoint, saved) = resumed {
      try settings.check(trainText, resuming: saved, from: resume!)
      let batches = try BatchIterator(tokens: trainText, batchSize: config.batchSize, seqLength: config.seqLength)
      trainer = Trainer(
        model: checkpoint.model, batches: batches, config: config, optimizer: saved.optimizer,
        progress: saved.progress, state: saved.state,
        dataParallel: try parallel.dataParallel(communicator, batchSize: config.batchSize))
      say("Resuming \(resume!) at step \(saved.progress.step) (epoch \(saved.progress.epoch)).")
    } else {
      if !vocabularyKnown {
        try requireFits(
          request.model(vocabularySize: corpus.vocabulary.count), optimizer: config.optimizer,
          batchSize: config.batchSize, seqLength: config.seqLength)
      }
      let batches = try BatchIterator(tokens: trainText, batchSize: config.batchSize, seqLength: config.seqLength)
      let model: CharLM
      if let initial {
        model = fineTuned(initial.model)
        say("Fine-tuning \(initFrom!) (trained \(initial.step) steps) from step 0 with a new optimizer.")
      } else {
        var generator = RandomGenerator(seed: config.seed)
        model = CharLM(request.model(vocabularySize: corpus.vocabulary.count), using: &generator)
      }
      trainer = Trainer(
        model: model, batches: batches, config: config,
        dataParallel: try parallel.dataParallel(communicator, batchSize: config.batchSize))
    }
    if let gpu { try onGPU { () throws(CUDAError) in try trainer.move(to: gpu) } }
    let run = TrainingRun(
      trainer: trainer, vocabulary: corpus.vocabulary, validation: corpus.text[splits.validation],
      test: corpus.text[splits.test], schedule: schedule.schedule, folder: checkpointDir,
      record: settings.record(model: trainer.model.config, vocabulary: corpus.vocabulary), resumed: resumed != nil)
    try execute(
      run,
      output: ProgressOutput(
        verbosity: quiet ? .quiet : (verbose ? .verbose : .normal), environment: ProcessInfo.processInfo.environment))
  }

  /// Reads the text; with a checkpoint's `vocabulary`, characters outside it are refused or, with
  /// --unknown-char, replaced (and reported).
  private func loadCorpus(_ data: DataOptions, vocabulary: Vocabulary?, checkpoint: String?) throws -> Corpus {
    guard let vocabulary, let checkpoint else { return try data.load(log: say) }
    if let unknownChar {
      guard vocabulary.encoding == .utf8 else {
        throw Failure("--unknown-char: \(checkpoint) is a byte-level model; every byte is in its vocabulary")
      }
      let replacement = unknownChar.unicodeScalars.first!
      guard vocabulary.id(of: replacement) != nil else {
        throw Failure(
          "--unknown-char \(replacement.readable) is not in the vocabulary of \(checkpoint); "
            + "it has \(vocabulary.count) characters, e.g. \(vocabulary.scalars.prefix(10).map(\.readable).joined(separator: ", "))")
      }
      return try data.load(vocabulary: vocabulary, replacingUnknownWith: replacement, log: say)
    }
    do {
      return try data.load(vocabulary: vocabulary, log: say)
    } catch let error as CorpusError {
      guard case .unknownCharacters = error else { throw error }
      throw Failure("\(error) of \(checkpoint); pass --unknown-char C to read them as C, a character of it")
    }
  }

  /// Says which model-shape options were passed but are taken from --init-from's checkpoint instead.
  private func reportIgnoredShapeOptions(_ config: CharLMConfig, from path: String) {
    var ignored: [String] = []
    if let cell = shape.cell, cell.kind != config.cell { ignored.append("--cell \(cell.rawValue)") }
    if let layers = shape.layers, layers != config.layers { ignored.append("--layers \(layers)") }
    if let hidden = shape.hidden, hidden != config.hidden { ignored.append("--hidden \(hidden)") }
    if let embedding = shape.embedding, embedding != config.embedding { ignored.append("--embedding \(embedding)") }
    guard !ignored.isEmpty else { return }
    say(
      "Ignoring \(ignored.joined(separator: ", ")): the model is \(config.layers) x \(config.cell.rawValue) \(config.hidden), "
        + "embedding \(config.embedding), as in \(path).")
  }

  /// The checkpoint's model, with --dropout if given.
  private func fineTuned(_ model: CharLM) -> CharLM {
    guard let dropout, dropout != model.config.dropout else { return model }
    var config = model.config
    config.dropout = dropout
    let copy = CharLM(config)
    for (entry, (_, tensor)) in zip(copy.parameters.layout.entries, model.parameters.stateDict()) {
      copy.parameters.assign(tensor, to: entry.ref)
    }
    return copy
  }
}
