import RNN

/// **One-to-many: describing an image.** From one fixed-size vector, a digit image's `R*C`
/// pixels, a decoder writes the digit's English name letter by letter and then a stop token.
/// A linear layer maps the image to the GRU decoder's initial state; the decoder reads a start
/// token and then its own previous letter (the true one while training: teacher forcing). Scored
/// by exact match of the greedily decoded name on held-out images.
public enum DigitNames {
  static let names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
  /// Decoder symbols: the letters of the names, then `stop`, then `go` (input only).
  static let letters = Array(Set(names.joined())).sorted()
  static let stop = Int32(letters.count)
  static let go = stop + 1

  static func spelling(_ label: Int32) -> [Int32] { names[Int(label)].map { Int32(letters.firstIndex(of: $0)!) } }
  static func text(_ tokens: [Int32]) -> String { String(tokens.map { $0 < stop ? letters[Int($0)] : "$" }) }

  /// `Linear(R*C -> H)` to the initial state, then `Embedding -> GRU -> Linear(H -> letters + stop)`.
  struct Layers {
    let imageToState: Bound<Linear>
    let embedding: Bound<Embedding>
    let decoder: Bound<RecurrentStack>
    let output: Bound<Linear>

    static func model(pixels: Int, hidden: Int, using generator: inout RandomGenerator) -> Model<Layers> {
      Model(using: &generator) { make in
        Layers(
          imageToState: make.linear(inputSize: pixels, outputSize: hidden),
          embedding: make.embedding(vocabularySize: Int(go) + 1, size: 16),
          decoder: make.recurrent(.gru, inputSize: 16, hiddenSize: hidden),
          output: make.linear(inputSize: hidden, outputSize: Int(stop) + 1))
      }
    }

    /// Runs the decoder over `tokens [T,B]` from `state`: logits `[T,B,letters+1]` and the final state.
    func decode(_ tokens: PaddedBatch, state: [StateVariables], on tape: Tape) -> (logits: Variable, state: [StateVariables]) {
      let (y, final) = decoder(tokens, embedding: embedding, state: state, on: tape)
      return (output(y, on: tape), final)
    }

    /// The loss of a batch of images `[B, R*C]` with teacher forcing: the decoder reads `go` and
    /// the name, and learns to write the name and `stop` (`-1` pads the targets: not counted).
    func loss(_ images: Tensor, labels: [Int32], on tape: Tape) -> Variable {
      let inputs = PaddedBatch(labels.map { [go] + spelling($0) }, padding: go)
      let targets = PaddedBatch(labels.map { spelling($0) + [stop] }, padding: -1)
      let start = StateVariables(h: imageToState(tape.input(images), on: tape))
      let (logits, _) = decode(inputs, state: [start], on: tape)
      return tape.softmaxCrossEntropy(logits, targets: targets.tokens)
    }

    /// The name the decoder writes for one image `[1, R*C]`, decoded greedily up to `stop`.
    func describe(_ image: Tensor) -> [Int32] {
      let start = RecurrentState(h: imageToState.forward(image))
      return BeamSearch(width: 1, maxLength: 8, stop: stop, includesStop: false)(prime: [go], state: [start]) {
        decode($0, state: $1, on: $2)
      }[0].tokens
    }
  }

  /// Trains on a seeded 80% of the images (batches of 32, Adam) and reports the exact-match
  /// accuracy of the names written for the other 20%.
  public static func run(_ settings: ExampleSettings, log: (String) -> Void) throws -> ExampleResult {
    let started = ContinuousClock.now
    var generator = RandomGenerator(seed: settings.seed)
    let (training, heldOut) = try DigitImages.split(settings, using: &generator, log: log)
    let classes = max(training.classes, heldOut.classes)
    guard classes <= 10 else { throw ExampleError.notDigits(classes: classes) }
    let model = Layers.model(pixels: training.rows * training.columns, hidden: settings.quick ? 32 : 128, using: &generator)
    var batches = Minibatches(count: training.count, size: 32)
    train(model.parameters, steps: settings.steps ?? (settings.quick ? 300 : 2000), learningRate: 3e-3, logEvery: 250, log: log) { tape in
      let batch = batches.next(using: &generator)
      return model.layers.loss(training.vectors(of: batch), labels: batch.map { training.labels[$0] }, on: tape)
    }

    let written = (0..<heldOut.count).map { model.layers.describe(heldOut.vectors(of: [$0])) }
    for (tokens, label) in zip(written, heldOut.labels).prefix(3) {
      log("a \(names[Int(label)]) -> \"\(text(tokens))\"")
    }
    return ExampleResult(
      metric: "exact-match accuracy of the names of \(heldOut.count) held-out images",
      accuracy: accuracy(written, heldOut.labels.map(spelling)), baseline: nil, seconds: seconds(since: started))
  }
}
