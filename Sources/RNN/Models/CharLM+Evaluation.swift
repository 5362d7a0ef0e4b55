extension CharLM {
  /// Scores `tokens` as `batch` contiguous streams (one stream: the whole text as one continuous
  /// sequence), from a zero state, without dropout, in chunks of `chunk` steps with the state
  /// carried between them. Each token is predicted from those before it in its stream; the first
  /// of each stream is not scored, nor is the remainder that does not fill a stream.
  /// Returns the summed loss in nats and the number of tokens scored.
  public func loss<Tokens: RandomAccessCollection>(of tokens: Tokens, batch: Int = 1, chunk: Int = 256) -> (
    nats: Double, count: Int
  ) where Tokens.Element == Int32, Tokens.Index == Int {
    precondition(batch > 0 && chunk > 0, "batch and chunk must be positive")
    let perStream = tokens.count / batch
    let length = perStream - 1  // predictions per stream
    guard length > 0 else { return (0, 0) }
    var state = zeroState(batch: batch)
    var total = 0.0
    let base = tokens.startIndex
    BLAS.holdConstant(parameters)  // with bf16 products: the weights rounded once for all chunks
    defer { BLAS.releaseConstant(parameters) }
    for start in stride(from: 0, to: length, by: chunk) {
      let steps = min(chunk, length - start)
      var inputs = [Int32](repeating: 0, count: steps * batch)
      var targets = inputs
      for row in 0..<batch {
        let offset = base + row * perStream + start
        for t in 0..<steps {
          inputs[t * batch + row] = tokens[offset + t]
          targets[t * batch + row] = tokens[offset + t + 1]
        }
      }
      let tape = Tape(recording: false)
      let (logits, final) = self(inputs, time: steps, batch: batch, state: state.map { StateVariables($0, on: tape) }, on: tape)
      let loss = tape.softmaxCrossEntropy(logits, targets: targets)
      total += Double(tape[loss].scalars[0]) * Double(steps * batch)
      state = final.map { $0.values(on: tape) }
    }
    return (total, length * batch)
  }
}
