import RNN

/// **Synced many-to-many: tagging every character.** Each character of real C source, the
/// headers that ship with the Swift toolchain (`ToolchainHeaders`), is labelled code, comment or
/// string literal by a small lexer (`CodeTagging+Lexer.swift`); a bidirectional LSTM learns to
/// give that label at every step, one output per input. Trained on random windows of the
/// training files, scored on every character of held-out files.
///
/// Both directions matter: a character after `/*` is known to be comment from the left, one
/// before `*/` from both sides, and in a window that starts inside a comment only the right side
/// can tell.
public enum CodeTagging {
  /// `Embedding -> Bidirectional LSTM -> Linear(2H, 3)` at every step, one parameter store.
  struct Layers {
    let embedding: Bound<Embedding>
    let tagger: Bound<Bidirectional>
    let output: Bound<Linear>

    static func model(hidden: Int, embedding size: Int, using generator: inout RandomGenerator) -> Model<Layers> {
      Model(using: &generator) { make in
        Layers(
          embedding: make.embedding(vocabularySize: ASCIITokens.count, size: size),
          tagger: make.bidirectional(.lstm, inputSize: size, hiddenSize: hidden),
          output: make.linear(inputSize: 2 * hidden, outputSize: Label.allCases.count))
      }
    }

    /// The label logits `[T,B,3]` of the characters `windows.tokens [T,B]`, each row read for its
    /// own length in both directions.
    func logits(_ windows: PaddedBatch, on tape: Tape) -> Variable {
      output(tagger(windows, embedding: embedding, on: tape).y, on: tape)
    }

    /// The model's label for each character of `texts`, read in pieces of 1,000 characters, 64
    /// pieces a batch, and the lexer's labels.
    func tag(_ texts: [LabeledText]) -> (predictions: [Int32], answers: [Int32]) {
      var predictions: [Int32] = []
      var answers: [Int32] = []
      let pieces = texts.flatMap { $0.pieces(of: 1000) }
      for first in stride(from: 0, to: pieces.count, by: 64) {
        let batch = pieces[first..<min(first + 64, pieces.count)]
        let targets = PaddedBatch(batch.map { Array($0.labels) }, padding: -1).tokens
        let tape = Tape(recording: false)
        let guesses = tape[logits(PaddedBatch(batch.map { Array($0.tokens) }), on: tape)].argmaxRows()
        for (guess, target) in zip(guesses, targets) where target >= 0 {
          predictions.append(guess)
          answers.append(target)
        }
      }
      return (predictions, answers)
    }
  }

  /// A text as token ids and the label of each character.
  struct LabeledText {
    let tokens: [Int32]
    let labels: [Int32]

    /// The first `limit` characters of the C file at `path`, labelled by the lexer.
    init(file path: String, limit: Int) throws {
      let text = Array(try characters(ofFile: path).prefix(limit))
      tokens = text.map(ASCIITokens.id)
      labels = CodeTagging.labels(text).map(\.rawValue)
    }

    /// `texts` one after the other (so a window may span the end of one and the start of the next).
    init(joining texts: [LabeledText]) {
      tokens = texts.flatMap(\.tokens)
      labels = texts.flatMap(\.labels)
    }

    /// `self` cut into consecutive pieces of at most `length` characters.
    func pieces(of length: Int) -> [(tokens: ArraySlice<Int32>, labels: ArraySlice<Int32>)] {
      stride(from: 0, to: tokens.count, by: length).map {
        let range = $0..<min($0 + length, tokens.count)
        return (tokens[range], labels[range])
      }
    }
  }

  /// The sizes that differ between the full run and `--quick`.
  struct Sizes {
    /// Files for training and held out (nil: all of them, a fifth held out).
    var files: (train: Int, heldOut: Int)?
    /// Characters read from the start of each file, so that the few huge generated intrinsics
    /// headers (up to 3 MB each) do not make up most of the data.
    var fileLimit: Int
    /// `H`, each direction's state.
    var hidden: Int
    var steps: Int
    /// Training windows `[T,B]`.
    var window: Int
    var batch: Int

    static let full = Sizes(files: nil, fileLimit: 32_768, hidden: 64, steps: 1500, window: 160, batch: 64)
    static let quick = Sizes(files: (40, 10), fileLimit: 4096, hidden: 24, steps: 150, window: 100, batch: 32)
  }

  /// Splits the toolchain's headers by file (a fifth held out, seeded), trains on random windows
  /// of the training files with Adam, and reports the per-character accuracy on all the held-out
  /// text (each file's first `fileLimit` characters) against always answering the most frequent
  /// label.
  public static func run(_ settings: ExampleSettings, log: (String) -> Void) throws -> ExampleResult {
    let started = ContinuousClock.now
    var generator = RandomGenerator(seed: settings.seed)
    let sizes = settings.quick ? Sizes.quick : Sizes.full
    var (trainFiles, heldOutFiles) = heldOutSplit(try ToolchainHeaders.locate(), fraction: 0.2, using: &generator)
    if let counts = sizes.files {
      trainFiles = Array(trainFiles.prefix(counts.train))
      heldOutFiles = Array(heldOutFiles.prefix(counts.heldOut))
    }
    let training = LabeledText(joining: try trainFiles.map { try LabeledText(file: $0, limit: sizes.fileLimit) })
    let heldOut = try heldOutFiles.map { try LabeledText(file: $0, limit: sizes.fileLimit) }
    let heldOutShares = shares(heldOut.flatMap(\.labels), classes: Label.allCases.count)
    log(
      "\(trainFiles.count) training files (\(training.tokens.count) characters), \(heldOutFiles.count) held out ("
        + zip(Label.allCases, heldOutShares).map { "\($0) \(percent($1))" }.joined(separator: ", ") + ")")

    let model = Layers.model(hidden: sizes.hidden, embedding: 16, using: &generator)
    train(model.parameters, steps: settings.steps ?? sizes.steps, learningRate: 4e-3, logEvery: 250, log: log) { tape in
      let starts = (0..<sizes.batch).map { _ in
        Int.random(in: 0...(training.tokens.count - sizes.window), using: &generator)
      }
      let windows = PaddedBatch(starts.map { Array(training.tokens[$0..<$0 + sizes.window]) })
      let targets = PaddedBatch(starts.map { Array(training.labels[$0..<$0 + sizes.window]) }).tokens
      return tape.softmaxCrossEntropy(model.layers.logits(windows, on: tape), targets: targets)
    }

    let (predictions, answers) = model.layers.tag(heldOut)
    for (label, right) in zip(Label.allCases, accuracyByClass(predictions, answers, classes: Label.allCases.count)) {
      log("\(label) characters tagged right: " + (right.map(percent) ?? "none held out"))
    }
    return ExampleResult(
      metric: "per-character accuracy on \(answers.count) characters of \(heldOutFiles.count) held-out C headers",
      accuracy: accuracy(predictions, answers), baseline: heldOutShares.max()!, seconds: seconds(since: started))
  }
}
