import RNN

/// **Many-to-many, encoder-decoder: learning to add.** The encoder reads a sum such as
/// `"357+409"` character by character; its final state starts the decoder, which writes the
/// result (`"766"`) digit by digit and then a stop token: input and output lengths differ and
/// vary from sum to sum. Trained on generated sums with teacher forcing, decoded greedily (beam
/// search of width 1) and scored by exact match on sums never seen in training.
///
/// The encoder reads the sum reversed (`"904+753"`), so that the digits that carry come first, as
/// Sutskever et al. (2014) reverse source sentences; the answer is written in normal order.
public enum Addition {
  /// Encoder symbols: digits `0...9`, then `+`.
  static let plus: Int32 = 10
  /// Decoder symbols: digits `0...9`, `stop` (ends an answer), `go` (starts the decoder).
  static let stop: Int32 = 10
  static let go: Int32 = 11

  /// A question and its answer as token ids.
  struct Sum: Hashable {
    let question: [Int32]
    let answer: [Int32]

    init(_ a: Int, _ b: Int) {
      question = Self.digits(a) + [plus] + Self.digits(b)
      answer = Self.digits(a + b)
    }

    static func digits(_ n: Int) -> [Int32] { String(n).utf8.map { Int32($0) - 48 } }
    static func text(_ tokens: [Int32]) -> String { String(tokens.map { $0 == plus ? "+" : Character(String($0)) }) }
  }

  /// Encoder `Embedding -> LSTM`, decoder `Embedding -> LSTM -> Linear`, one parameter store.
  struct Layers {
    let questionEmbedding: Bound<Embedding>
    let encoder: Bound<RecurrentStack>
    let answerEmbedding: Bound<Embedding>
    let decoder: Bound<RecurrentStack>
    let output: Bound<Linear>

    static func model(hidden: Int, embedding: Int, using generator: inout RandomGenerator) -> Model<Layers> {
      Model(using: &generator) { make in
        Layers(
          questionEmbedding: make.embedding(vocabularySize: 11, size: embedding),
          encoder: make.recurrent(.lstm, inputSize: embedding, hiddenSize: hidden),
          answerEmbedding: make.embedding(vocabularySize: 12, size: embedding),
          decoder: make.recurrent(.lstm, inputSize: embedding, hiddenSize: hidden),
          output: make.linear(inputSize: hidden, outputSize: 11))
      }
    }

    /// Runs the decoder over `tokens [T,B]` from `state`: logits `[T,B,11]` and the final state.
    func decode(_ tokens: PaddedBatch, state: [StateVariables], on tape: Tape) -> (logits: Variable, state: [StateVariables]) {
      let (y, final) = decoder(tokens, embedding: answerEmbedding, state: state, on: tape)
      return (output(y, on: tape), final)
    }

    /// The loss of a batch with teacher forcing: the encoder reads the questions (each of its
    /// own length) and its final state starts the decoder, which reads `go` and the answer, and
    /// learns to write the answer and `stop` (padding is `-1` in the targets: not counted).
    func loss(_ sums: [Sum], on tape: Tape) -> Variable {
      let inputs = PaddedBatch(sums.map { [go] + $0.answer }, padding: go)
      let targets = PaddedBatch(sums.map { $0.answer + [stop] }, padding: -1)
      let (_, thought) = encoder(PaddedBatch(sums.map(\.reversedQuestion)), embedding: questionEmbedding, on: tape)
      let (logits, _) = decode(inputs, state: thought, on: tape)
      return tape.softmaxCrossEntropy(logits, targets: targets.tokens)
    }

    /// The decoder's answer to one sum: greedy decoding from the encoder's final state.
    func answer(_ sum: Sum) -> [Int32] {
      let tape = Tape(recording: false)
      let (_, thought) = encoder(PaddedBatch([sum.reversedQuestion]), embedding: questionEmbedding, on: tape)
      return BeamSearch(width: 1, maxLength: 6, stop: stop, includesStop: false)(
        prime: [go], state: thought.map { $0.values(on: tape) }
      ) { decode($0, state: $1, on: $2) }[0].tokens
    }
  }

  /// Trains on random sums of operands of up to 3 digits (1 to 3 digits, equally often), batches
  /// of 128, Adam; reports the exact-match accuracy on 2,000 held-out sums.
  public static func run(_ settings: ExampleSettings, log: (String) -> Void) -> ExampleResult {
    let started = ContinuousClock.now
    var generator = RandomGenerator(seed: settings.seed)
    let maxDigits = settings.quick ? 2 : 3
    func randomSum() -> Sum {
      func operand() -> Int {
        let digits = Int.random(in: 1...maxDigits, using: &generator)
        return Int.random(in: (digits == 1 ? 0 : pow10(digits - 1))..<pow10(digits), using: &generator)
      }
      return Sum(operand(), operand())
    }
    var heldOut = Set<Sum>()
    while heldOut.count < (settings.quick ? 300 : 2000) { heldOut.insert(randomSum()) }

    let model = Layers.model(hidden: settings.quick ? 64 : 128, embedding: 16, using: &generator)
    train(model.parameters, steps: settings.steps ?? (settings.quick ? 600 : 6000), learningRate: 4e-3, logEvery: 500, log: log) { tape in
      var batch: [Sum] = []
      while batch.count < 128 {
        let sum = randomSum()
        if !heldOut.contains(sum) { batch.append(sum) }
      }
      return model.layers.loss(batch, on: tape)
    }

    let questions = Array(heldOut)
    let answers = questions.map(model.layers.answer)
    for (sum, answer) in zip(questions, answers).prefix(3) {
      log("\(Sum.text(sum.question)) = \(Sum.text(answer))\(answer == sum.answer ? "" : "  (wrong)")")
    }
    return ExampleResult(
      metric: "exact-match accuracy on \(questions.count) held-out sums of up to \(maxDigits)-digit operands",
      accuracy: accuracy(answers, questions.map(\.answer)), baseline: nil, seconds: seconds(since: started))
  }

  private static func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { r, _ in r * 10 } }
}

extension Addition.Sum {
  /// The question, last character first: what the encoder reads.
  var reversedQuestion: [Int32] { question.reversed() }
}
