import ArgumentParser
import Foundation
import RNN

/// `rnn visualize`: an HTML page that shows what single neurons of a trained model do on a text.
struct Visualize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write an HTML page showing a model's neurons on a passage of text.",
    discussion: """
      The model reads the passage from a zero state, one character at a time. The page colours each \
      character by the chosen neuron's value after reading it (h, and c scaled by its largest |value|), \
      shows the model's top 5 guesses for the next character on hover, and lists the neurons that \
      correlate best (Pearson r) with simple properties of the text: inside a string, bracket depth, \
      position in the line, inside a comment. The page is self-contained; #layer=1&kind=c&neuron=17 \
      in its address selects a neuron.
      """)

  @Option(help: "Checkpoint of the model to look into.")
  var checkpoint: String
  @Option(help: "File to take the passage from: UTF-8 text, or any file for a byte-level model (whose bytes the page shows as the characters U+0000 ... U+00FF).")
  var data: String
  @Option(help: "The HTML page to write.")
  var out: String
  @Option(
    parsing: .unconditional,
    help: "Characters in the passage: at most \(Visualize.maxCharacters), and at most \(Visualize.maxValues) divided by the model's neurons (h and c of every layer), as the page holds every neuron's value at every character.")
  var characters = 3000
  @Option(parsing: .unconditional, help: "Where the passage starts in the text (characters).")
  var offset = 0
  @Option(parsing: .unconditional, help: "Neurons listed per property.")
  var top = 5
  @OptionGroup var compute: ComputeOptions
  @OptionGroup var weights: PrecisionOption
  @OptionGroup var device: DeviceOption

  /// The longest passage, and the most neuron values (characters x neurons) a page holds:
  /// about 4 bytes each in the page, 12 in memory while it is made.
  static let maxCharacters = 100_000
  static let maxValues = 20_000_000

  func validate() throws {
    guard (2...Self.maxCharacters).contains(characters) else {
      throw ValidationError("--characters must be from 2 to \(Self.maxCharacters), got \(characters)")
    }
    guard offset >= 0 else { throw ValidationError("--offset must be 0 or more, got \(offset)") }
    try requirePositive(top, "top")
    try device.check(weights.precision)
  }

  func run() throws {
    compute.configure()
    let gpu = try device.open()
    let output = try OutputFile(out)
    let loaded = try Checkpoint(contentsOf: checkpoint)
    let corpus = try Corpus.load(paths: [data], vocabulary: loaded.vocabulary)
    let available = corpus.text.count - offset
    guard available >= 2 else {
      throw Failure(
        "\(data) has \(corpus.text.count) characters; --offset \(offset) leaves \(max(available, 0)), at least 2 are needed"
      )
    }
    let config = loaded.model.config
    let neuronCount = config.layers * config.hidden * (config.cell.hasCellState ? 2 : 1)
    guard min(characters, available) <= Self.maxValues / neuronCount else {
      throw Failure(
        "--characters \(characters) is too many for this model's \(neuronCount) neurons: a page holds at most \(Self.maxValues) values, \(Self.maxValues / neuronCount) characters here")
    }
    let end = offset + min(characters, available)
    let tokens = Array(corpus.text[offset..<end])
    // Properties are measured from the start of the file, so a passage starting inside a string
    // or brackets is labelled right.
    let scalars = corpus.text[..<end].map { loaded.vocabulary.scalar(for: $0) }
    let properties = TextProperties(scalars)

    let trace = try NeuronTrace(model: loaded.model, tokens: tokens, precision: weights.precision, gpu: gpu)
    guard trace.isFinite else { throw Failure("the model's values are not finite on this passage: its weights overflow") }
    let neurons = trace.neurons
    let found = TextProperty.allCases.map { property in
      (
        property,
        strongestCorrelations(with: Array(properties.values(of: property)[offset...]), among: neurons, count: top)
      )
    }
    let page = NeuronViewerPage(
      passage: Array(scalars[offset...]), trace: trace, vocabulary: loaded.vocabulary, correlations: found,
      title: "\((checkpoint as NSString).lastPathComponent) on \((data as NSString).lastPathComponent)")
    try output.write(Array(page.html.utf8))
    say("Wrote \(out): \(tokens.count) characters from offset \(offset), \(neurons.count) neurons.")
    for (property, list) in found {
      let best = list.first.map {
        "\($0.neuron.layer) \($0.neuron.kind.rawValue) \($0.neuron.index), r = \(fixed($0.r, 3))"
      }
      say("  \(property.rawValue): \(best.map { "layer " + $0 } ?? "constant in this passage")")
    }
  }
}

/// What a model did on a passage, character by character: each layer's `h` (and `c`) and the
/// top guesses for the next character.
struct NeuronTrace {
  let layers: Int
  let hidden: Int
  let hasCellState: Bool
  /// `[layer][kind 0 = h, 1 = c]` -> values `[T*H]`, time-major.
  var values: [[[Float]]]
  /// Per character: the 5 most probable next characters (ids) with their probabilities.
  var guesses: [[(token: Int32, p: Float)]]
  let count: Int

  /// Runs `model` over `tokens` on `gpu` when given, else on the CPU in `precision`.
  init(model: CharLM, tokens: [Int32], precision: Precision = .fp32, gpu: CUDADevice? = nil, guessCount: Int = 5) throws {
    let sampler = try makeSampler(model, precision: precision, gpu: gpu)
    layers = model.config.layers
    hidden = model.config.hidden
    hasCellState = model.config.cell.hasCellState
    count = tokens.count
    let kinds = hasCellState ? 2 : 1
    values = Array(repeating: Array(repeating: [], count: kinds), count: layers)
    for l in 0..<layers { for k in 0..<kinds { values[l][k].reserveCapacity(tokens.count * hidden) } }
    guesses = []
    guesses.reserveCapacity(tokens.count)
    for token in tokens {
      try sampler.feed([token])
      for (l, state) in try sampler.state.enumerated() {
        values[l][0] += state.h.scalars
        if let c = state.c { values[l][1] += c.scalars }
      }
      let p = try sampler.probabilities(temperature: 1)
      let order = p.withUnsafeBufferPointer { Sampler.mostProbable($0, guessCount) }
      guesses.append(order.map { (Int32($0), p[$0]) })
    }
  }

  /// Whether every state value and guessed probability is finite.
  var isFinite: Bool {
    values.allSatisfy { $0.allSatisfy { $0.allSatisfy(\.isFinite) } } && guesses.allSatisfy { $0.allSatisfy(\.p.isFinite) }
  }

  /// One neuron's values over the passage `[T]`.
  func series(_ neuron: NeuronID) -> [Float] {
    let v = values[neuron.layer][neuron.kind == .h ? 0 : 1]
    return (0..<count).map { v[$0 * hidden + neuron.index] }
  }

  /// Every neuron with its values, layer by layer, `h` before `c`.
  var neurons: [(NeuronID, [Float])] {
    var all: [(NeuronID, [Float])] = []
    for l in 0..<layers {
      for kind in hasCellState ? [StateKind.h, .c] : [.h] {
        for i in 0..<hidden {
          let id = NeuronID(layer: l, kind: kind, index: i)
          all.append((id, series(id)))
        }
      }
    }
    return all
  }
}
