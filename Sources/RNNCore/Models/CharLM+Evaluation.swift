extension CharLM {
  /// Scores `tokens` as `batch` contiguous streams (one stream: the whole text as one continuous
  /// sequence), from a zero state, without dropout, in chunks of `chunk` steps with the state
  /// carried between them. Each token is predicted from those before it in its stream; the first
  /// of each stream is not scored, nor is the remainder that does not fill a stream.
  /// Returns the summed loss in nats and the number of tokens scored. With `streams`, only those
  /// of the `batch` streams are scored (a share of the work of a data-parallel run). `progress`,
  /// if given, is called after each chunk with the predictions made so far and their total (per
  /// stream).
  public func loss<Tokens: RandomAccessCollection>(
    of tokens: Tokens, batch: Int = 1, chunk: Int = 256, streams: Range<Int>? = nil,
    progress: ((_ done: Int, _ total: Int) -> Void)? = nil
  ) -> (nats: Double, count: Int) where Tokens.Element == Int32, Tokens.Index == Int {
    let streams = streams ?? 0..<batch
    var state = zeroState(batch: streams.count)
    var total = 0.0
    let backend = parameters.backend
    backend.holdConstant(parameters)  // with bf16 products: the weights rounded once for all chunks
    defer { backend.releaseConstant(parameters) }
    let count = Self.scoringChunks(of: tokens, batch: batch, chunk: chunk, streams: streams, progress: progress) {
      steps, inputs, targets in
      let tape = Tape(recording: false, backend: backend)
      let (logits, final) = backend.uninterrupted {  // one region for the chunk's products
        self(inputs, time: steps, batch: streams.count, state: state.map { StateVariables($0, on: tape) }, on: tape)
      }
      let loss = tape.softmaxCrossEntropy(logits, targets: targets)
      total += Double(tape[loss].scalars[0]) * Double(steps * streams.count)
      state = final.map { $0.values(on: tape) }
    }
    return (total, count)
  }

  /// The chunks in which `loss(of:)` reads `tokens` as `batch` streams: calls `body` with each
  /// chunk's steps and its inputs and targets `[steps, rows]` (time-major) of `streams`, then
  /// `progress`. Returns the number of tokens scored (0 when no stream holds two).
  static func scoringChunks<Tokens: RandomAccessCollection, E: Error>(
    of tokens: Tokens, batch: Int, chunk: Int, streams: Range<Int>, progress: ((_ done: Int, _ total: Int) -> Void)?,
    _ body: (_ steps: Int, _ inputs: [Int32], _ targets: [Int32]) throws(E) -> Void
  ) throws(E) -> Int where Tokens.Element == Int32, Tokens.Index == Int {
    require(batch > 0 && chunk > 0, "batch and chunk must be positive")
    require(streams.clamped(to: 0..<batch) == streams, "streams \(streams) outside 0..<\(batch)")
    let perStream = tokens.count / batch
    let length = perStream - 1  // predictions per stream
    let rows = streams.count
    guard length > 0, rows > 0 else { return 0 }
    let base = tokens.startIndex
    for start in stride(from: 0, to: length, by: chunk) {
      let steps = min(chunk, length - start)
      var inputs = [Int32](repeating: 0, count: steps * rows)
      var targets = inputs
      for (row, stream) in streams.enumerated() {
        let offset = base + stream * perStream + start
        for t in 0..<steps {
          inputs[t * rows + row] = tokens[offset + t]
          targets[t * rows + row] = tokens[offset + t + 1]
        }
      }
      try body(steps, inputs, targets)
      progress?(start + steps, length)
    }
    return length * rows
  }
}
