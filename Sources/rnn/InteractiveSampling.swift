import RNN

/// `rnn sample --interactive`: a prompt where each line typed is a prime text whose continuation
/// is streamed back; `:temperature X`, `:length N`, `:help` and `:quit` change the settings or
/// end the session (so does end of input). Each prime starts from the zero state.
struct InteractiveSampling {
  let checkpoint: Checkpoint
  var options: SamplingOptions
  var length: Int
  let stop: Int32?
  var precision: Precision = .fp32
  /// The GPU the model runs on, or nil for the CPU.
  var gpu: CUDADevice? = nil

  static let help =
    "Type a text to continue it. Commands: :temperature X (or :t X), :length N, :help, :quit (or end of input)."

  mutating func run(using generator: inout RandomGenerator) throws {
    say(Self.help)
    while true {
      emit("> ")
      guard let line = readLine(strippingNewline: true) else {
        emit("\n")
        return
      }
      if line.hasPrefix(":") {
        guard command(line) else { return }
        continue
      }
      let prime: [Int32]
      do { prime = try checkpoint.vocabulary.encode(line) } catch {
        say("\(error)")
        continue
      }
      emit(line)
      let finite = try generate(
        model: checkpoint.model, vocabulary: checkpoint.vocabulary, prime: prime, length: length, options: options,
        stop: stop, precision: precision, gpu: gpu, using: &generator, emit: { emit(bytes: $0) })
      emit("\n")
      if !finite { say(Sample.overflow) }
    }
  }

  /// Applies a `:command`; returns false for `:quit`.
  private mutating func command(_ line: String) -> Bool {
    let words = line.split(separator: " ", omittingEmptySubsequences: true)
    let value = words.count == 2 ? String(words[1]) : nil
    switch words.first.map(String.init) {
    case ":q", ":quit":
      return false
    case ":t", ":temperature":
      if let value, let t = Float(value), t > 0, t.isFinite {
        options.temperature = t
        say("temperature \(t)")
      } else {
        say(":temperature needs a positive number, e.g. :temperature 0.7")
      }
    case ":length":
      if let value, let n = Int(value), n >= 0 {
        length = n
        say("length \(n)")
      } else {
        say(":length needs a whole number of characters, e.g. :length 300")
      }
    case ":help":
      say(Self.help)
    default:
      say("unknown command \(line); \(Self.help)")
    }
    return true
  }
}
