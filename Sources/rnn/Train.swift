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
      .training.safetensors file beside it that --resume reads.
      """)

  @OptionGroup var data: DataOptions

  @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn_relu.")
  var cell: CellOption = .lstm
  @Option(parsing: .unconditional, help: "Stacked recurrent layers.")
  var layers = 2
  @Option(parsing: .unconditional, help: "Hidden size of each layer.")
  var hidden = 128
  @Option(parsing: .unconditional, help: "Size of the character embedding.")
  var embedding = 64
  @Option(parsing: .unconditional, help: "Dropout between layers and before the decoder (0 to <1).")
  var dropout: Float = 0
  @Option(parsing: .unconditional, help: "Steps of backpropagation through time per batch.")
  var seqLength = 50
  @Option(parsing: .unconditional, help: "Sequences per batch.")
  var batchSize = 50
  @Option(parsing: .unconditional, help: "Learning rate.")
  var learningRate: Float = 2e-3
  @Option(help: "Optimizer: adam, rmsprop or sgd (momentum 0.9).")
  var optimizer: OptimizerKind = .adam
  @Option(parsing: .unconditional, help: "Clip gradients to this global norm (0: off).")
  var gradClip: Float = 5
  @Option(parsing: .unconditional, help: "Clamp each gradient element to this magnitude (0: off).")
  var gradClipValue: Float = 0
  @Option(parsing: .unconditional, help: "Multiply the learning rate by this after each epoch from --lr-decay-after on (1: off).")
  var lrDecay: Float = 1
  @Option(parsing: .unconditional, help: "First epoch (from 0) whose learning rate is decayed.")
  var lrDecayAfter = 10
  @Option(parsing: .unconditional, help: "Stop after this many updates in all (a resumed run continues up to it).")
  var maxSteps: Int?
  @Option(parsing: .unconditional, help: "Stop after this many passes over the training text.")
  var maxEpochs: Int = 10
  @Option(parsing: .unconditional, help: "Fraction of the text, from its end, held out for validation.")
  var valFraction: Double = 0.05
  @Option(parsing: .unconditional, help: "Fraction of the text, at its very end, held out for the final test.")
  var testFraction: Double = 0.05
  @Option(parsing: .unconditional, help: "Validate (and print a sample) every this many steps.")
  var evalEvery = 500
  @Option(parsing: .unconditional, help: "Save latest.safetensors every this many steps (default: --eval-every).")
  var checkpointEvery: Int?
  @Option(help: "Folder for latest.safetensors and best.safetensors.")
  var checkpointDir = "checkpoints"
  @Option(help: "Continue the run saved in this checkpoint (its .training.safetensors must be beside it).")
  var resume: String?
  @Option(parsing: .unconditional, help: "Seed of initialisation and dropout.")
  var seed: UInt64 = 0
  @Option(parsing: .unconditional, help: "Print a progress line every this many steps.")
  var printEvery = 10
  @Option(parsing: .unconditional, help: "Characters in the sample printed at each validation (0: none).")
  var sampleLength = 200
  @OptionGroup var compute: ComputeOptions

  func validate() throws {
    try requirePositive(layers, "layers")
    try requirePositive(hidden, "hidden")
    try requirePositive(embedding, "embedding")
    try requirePositive(seqLength, "seq-length")
    try requirePositive(batchSize, "batch-size")
    try requirePositive(maxEpochs, "max-epochs")
    try requirePositive(evalEvery, "eval-every")
    try requirePositive(printEvery, "print-every")
    if let maxSteps { try requirePositive(maxSteps, "max-steps") }
    if let checkpointEvery { try requirePositive(checkpointEvery, "checkpoint-every") }
    guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
    guard (0..<1).contains(dropout) else { throw ValidationError("--dropout must be in [0, 1), got \(dropout)") }
    guard gradClip >= 0, gradClipValue >= 0 else { throw ValidationError("--grad-clip and --grad-clip-value must be 0 (off) or positive") }
    guard lrDecay > 0, lrDecay <= 1 else { throw ValidationError("--lr-decay must be in (0, 1], got \(lrDecay)") }
    guard sampleLength >= 0 else { throw ValidationError("--sample-length must be 0 or more") }
    guard (0..<1).contains(valFraction), (0..<1).contains(testFraction), valFraction + testFraction < 1 else {
      throw ValidationError("--val-fraction and --test-fraction must be in [0, 1) and sum below 1")
    }
  }

  func run() throws {
    compute.configure()
    try prepareCheckpointFolder()
    let resumed = try resume.map { path in
      let checkpoint = try Checkpoint(contentsOf: path)
      return (checkpoint, try TrainingState(besides: checkpoint, at: path))
    }
    let corpus = try data.load(vocabulary: resumed?.0.vocabulary, log: say)
    let splits = Corpus.split(count: corpus.text.count, valFraction: valFraction, testFraction: testFraction)
    let trainText = corpus.text[splits.train]

    let trainer: Trainer
    if let (checkpoint, saved) = resumed {
      guard saved.data == TrainingState.fingerprint(trainText) else {
        throw Failure("\(resume!) was trained on other text (or other --val-fraction/--test-fraction); resume needs the same data")
      }
      let batches = try BatchIterator(tokens: trainText, batchSize: saved.config.batchSize, seqLength: saved.config.seqLength)
      trainer = Trainer(
        model: checkpoint.model, batches: batches, config: saved.config, optimizer: saved.optimizer,
        progress: saved.progress, state: saved.state)
      say("Resuming \(resume!) at step \(saved.progress.step) (epoch \(saved.progress.epoch)).")
    } else {
      var config = TrainConfig()
      config.optimizer = optimizer
      config.learningRate = learningRate
      config.lrDecay = lrDecay
      config.lrDecayAfter = lrDecayAfter
      config.gradClip = gradClip
      config.gradClipValue = gradClipValue
      config.seqLength = seqLength
      config.batchSize = batchSize
      config.seed = seed
      let batches = try BatchIterator(tokens: trainText, batchSize: batchSize, seqLength: seqLength)
      var generator = RandomGenerator(seed: seed)
      let model = CharLM(
        CharLMConfig(
          cell: cell.kind, layers: layers, hidden: hidden, embedding: embedding,
          vocabularySize: corpus.vocabulary.count, dropout: dropout),
        using: &generator)
      trainer = Trainer(model: model, batches: batches, config: config)
    }
    try TrainingRun(
      trainer: trainer, vocabulary: corpus.vocabulary, validation: corpus.text[splits.validation],
      test: corpus.text[splits.test], options: self
    ).run()
  }

  /// Creates the checkpoint folder and checks it is writable, before any work is done.
  private func prepareCheckpointFolder() throws {
    var isFolder: ObjCBool = false
    var path = ""
    for part in checkpointDir.split(separator: "/", omittingEmptySubsequences: false) {
      path += (path.isEmpty && part.isEmpty ? "" : (path.isEmpty ? "" : "/")) + part
      if path.isEmpty { path = "/"; continue }
      if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
        throw Failure("cannot create checkpoint folder \(checkpointDir): \(path) is a file, not a folder")
      }
    }
    do {
      try FileManager.default.createDirectory(atPath: checkpointDir, withIntermediateDirectories: true)
    } catch {
      throw Failure("cannot create checkpoint folder \(checkpointDir): \(error.localizedDescription)")
    }
    guard access(checkpointDir, W_OK) == 0 else {
      throw Failure("checkpoint folder \(checkpointDir) is not writable: \(String(cString: strerror(errno)))")
    }
  }
}
