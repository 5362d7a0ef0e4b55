extension RecurrentState {
  /// Rows `streams` of this `[B,H]` state (and cell state), as a `[streams.count, H]` state.
  public func rows(_ streams: Range<Int>) -> RecurrentState {
    func slice(_ x: Tensor) -> Tensor {
      let width = x.shape[1]
      return Tensor(
        shape: [streams.count, width],
        scalars: Array(x.scalars[streams.lowerBound * width..<streams.upperBound * width]))
    }
    return RecurrentState(h: slice(h), c: c.map(slice))
  }
}

extension Communicator {
  /// The whole batch's `[B,H]` states, one per layer, from each rank's rows `share.streams`:
  /// every rank places its rows in zeros and the ranks sum (exact: each element has one non-zero term).
  public func gather(_ states: [RecurrentState], share: BatchShare) throws(DataParallelError) -> [RecurrentState] {
    func whole(_ x: Tensor) -> Tensor {
      let width = x.shape[1]
      var all = Tensor(shape: [share.total, width])
      all.scalars.replaceSubrange(share.streams.lowerBound * width..<share.streams.upperBound * width, with: x.scalars)
      return all
    }
    var tensors = states.flatMap { [whole($0.h)] + ($0.c.map { [whole($0)] } ?? []) }
    for i in tensors.indices {
      try tensors[i].scalars.withUnsafeMutableBufferPointer { (buffer) throws(DataParallelError) in try sum(buffer) }
    }
    var next = tensors.makeIterator()
    return states.map { RecurrentState(h: next.next()!, c: $0.c == nil ? nil : next.next()!) }
  }

  /// The summed loss (nats) and count of tokens scored of `tokens` read as `batch` streams, each rank
  /// scoring its share of the streams (see `CharLM.loss(of:batch:chunk:streams:)`).
  public func loss<Tokens: RandomAccessCollection>(
    of model: CharLM, _ tokens: Tokens, batch: Int, chunk: Int
  ) throws(DataParallelError) -> (nats: Double, count: Int) where Tokens.Element == Int32, Tokens.Index == Int {
    let share = BatchShare(rank: rank, of: size, total: batch)
    let local = model.loss(of: tokens, batch: batch, chunk: chunk, streams: share.streams)
    let total = try sum([local.nats, Double(local.count)])
    return (total[0], Int(total[1]))
  }
}
