import RNN

/// **Many-to-one on text: where does a line come from.** An LSTM reads one line of source code,
/// character by character, and its state after the line's last character says which corpus the
/// line comes from: the Swift standard library's interface or the C headers, both shipped with
/// the toolchain. Lines have any length up to 120 characters; a batch of them runs as one padded
/// sequence with `lengths`, so each line's final state is the one after its own last character.
///
/// The classes are balanced: as many lines of each corpus, so always answering one corpus
/// scores 50%.
public enum LineOrigin {
  /// Where a line comes from.
  enum Source: Int32, CaseIterable {
    /// The Swift standard library's interface (`BuiltInCorpus.swiftStandardLibrary`).
    case swift
    /// The clang resource headers (`ToolchainHeaders`).
    case c
  }

  /// `Embedding -> LSTM -> final state h -> Linear(H, 2)`, one parameter store.
  struct Layers {
    let embedding: Bound<Embedding>
    let encoder: Bound<RecurrentStack>
    let output: Bound<Linear>

    static func model(hidden: Int, embedding size: Int, using generator: inout RandomGenerator) -> Model<Layers> {
      Model(using: &generator) { make in
        Layers(
          embedding: make.embedding(vocabularySize: ASCIITokens.count, size: size),
          encoder: make.recurrent(.lstm, inputSize: size, hiddenSize: hidden),
          output: make.linear(inputSize: hidden, outputSize: Source.allCases.count))
      }
    }

    /// The source logits `[B,2]` of the lines `lines.tokens [T,B]`: from the state `h [B,H]`
    /// after each line's last character.
    func logits(_ lines: PaddedBatch, on tape: Tape) -> Variable {
      output(encoder(lines, embedding: embedding, on: tape).state[0].h, on: tape)
    }

    /// The most likely source of each of `lines`, 256 lines a batch.
    func classify(_ lines: [[Int32]]) -> [Int32] {
      stride(from: 0, to: lines.count, by: 256).flatMap { first in
        let tape = Tape(recording: false)
        return tape[logits(PaddedBatch(Array(lines[first..<min(first + 256, lines.count)])), on: tape)].argmaxRows()
      }
    }
  }

  /// A line as token ids, and where it comes from.
  struct Line {
    let tokens: [Int32]
    let source: Source
  }

  /// The sizes that differ between the full run and `--quick`.
  struct Sizes {
    /// C headers read (nil: all of them), a seeded choice.
    var headerFiles: Int?
    /// Lines of each source at most (training and held out together).
    var perSource: Int
    /// `H`, the LSTM's state.
    var hidden: Int
    var steps: Int
    var batch: Int

    static let full = Sizes(headerFiles: nil, perSource: 40_000, hidden: 128, steps: 2000, batch: 64)
    static let quick = Sizes(headerFiles: 30, perSource: 2500, hidden: 32, steps: 200, batch: 32)
  }

  /// Longer lines are cut to their first `maxLength` characters.
  static let maxLength = 120

  /// Reads both corpora's distinct lines, drops the lines found in both, takes as many lines of
  /// each (seeded), holds out a fifth of each, trains with Adam on minibatches of lines and
  /// reports the accuracy on the held-out lines.
  public static func run(_ settings: ExampleSettings, log: (String) -> Void) throws -> ExampleResult {
    let started = ContinuousClock.now
    var generator = RandomGenerator(seed: settings.seed)
    let sizes = settings.quick ? Sizes.quick : Sizes.full
    let swift = try distinctLines(ofFiles: try BuiltInCorpus.swiftStandardLibrary.locate())
    let headers = try ToolchainHeaders.locate()
    let chosenHeaders = sizes.headerFiles.map { Array(headers.shuffled(using: &generator).prefix($0)) } ?? headers
    let c = try distinctLines(ofFiles: chosenHeaders)
    let inBoth = Set(swift).intersection(c)
    let (swiftOnly, cOnly) = (swift.filter { !inBoth.contains($0) }, c.filter { !inBoth.contains($0) })
    let perSource = min(swiftOnly.count, cOnly.count, sizes.perSource)
    var training: [Line] = []
    var heldOut: [Line] = []
    for (source, lines) in [(Source.swift, swiftOnly), (.c, cOnly)] {
      let chosen = lines.shuffled(using: &generator).prefix(perSource).map { Line(tokens: $0, source: source) }
      let split = heldOutSplit(chosen, fraction: 0.2, using: &generator)
      training += split.train
      heldOut += split.heldOut
    }
    log(
      "distinct lines: \(swiftOnly.count) Swift, \(cOnly.count) C (\(inBoth.count) in both, dropped); "
        + "\(perSource) of each: \(training.count) for training, \(heldOut.count) held out")

    let model = Layers.model(hidden: sizes.hidden, embedding: 16, using: &generator)
    var minibatches = Minibatches(count: training.count, size: sizes.batch)
    train(model.parameters, steps: settings.steps ?? sizes.steps, learningRate: 4e-3, logEvery: 250, log: log) { tape in
      let batch = minibatches.next(using: &generator).map { training[$0] }
      return tape.softmaxCrossEntropy(
        model.layers.logits(PaddedBatch(batch.map(\.tokens)), on: tape), targets: batch.map(\.source.rawValue))
    }

    let lines = heldOut.sorted { $0.tokens.count < $1.tokens.count }  // so that each batch pads little
    let predictions = model.layers.classify(lines.map(\.tokens))
    let answers = lines.map(\.source.rawValue)
    for (source, right) in zip(Source.allCases, accuracyByClass(predictions, answers, classes: Source.allCases.count)) {
      log("\(source) lines placed right: " + (right.map(percent) ?? "none held out"))
    }
    return ExampleResult(
      metric: "accuracy on \(lines.count) held-out lines (Swift interface or C header)",
      accuracy: accuracy(predictions, answers), baseline: shares(answers, classes: Source.allCases.count).max()!,
      seconds: seconds(since: started))
  }

  /// The distinct non-blank lines of the files at `paths`, in order of first appearance, each cut
  /// to its first `maxLength` characters, as token ids.
  static func distinctLines(ofFiles paths: [String]) throws -> [[Int32]] {
    var seen = Set<[Int32]>()
    var lines: [[Int32]] = []
    for path in paths {
      for line in try characters(ofFile: path).split(separator: "\n")
      where !line.allSatisfy(\.properties.isWhitespace) {
        let tokens = line.prefix(maxLength).map(ASCIITokens.id)
        if seen.insert(tokens).inserted { lines.append(tokens) }
      }
    }
    return lines
  }
}
