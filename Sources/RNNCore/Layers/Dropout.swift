extension Tape {
  /// Inverted dropout: zeroes each element with probability `p` and scales the rest by
  /// `1/(1-p)`, with a mask drawn from `generator`. The identity when `p == 0`.
  ///
  /// With `share`, `x` holds only a rank's rows `share.streams` of a `[..., B, H]` batch, and
  /// gets exactly those rows of the mask the whole batch would get (the generator advances alike).
  public func dropout(
    _ x: Variable, probability p: Float, using generator: inout RandomGenerator, share: BatchShare? = nil
  ) -> Variable {
    guard p > 0 else { return x }
    var input = self[x]
    let count = input.count
    // The mask as [outer, rows of the whole batch, width], of which rows `first ..< first + kept` are kept.
    var (outer, rows, first, kept, width) = (1, 1, 0, 1, count)
    if let share, !share.isWhole {
      require(
        input.shape.count >= 2 && input.shape[input.shape.count - 2] == share.streams.count,
        "dropout share of \(share.streams.count) rows for shape \(input.shape)")
      width = input.shape.last!
      (rows, first, kept) = (share.total, share.streams.lowerBound, share.streams.count)
      outer = count / max(kept * width, 1)
    }
    var s = generator.kernelState()
    let mask = Tensor(shape: input.shape) { mask in
      withUnsafeMutablePointer(to: &s) {
        $0.withMemoryRebound(to: UInt32.self, capacity: 4) {
          backend.dropoutMask(outer, rows, first, kept, width, mask, probability: p, state: $0)
        }
      }
    }
    mask.withPointer { m in input.withMutablePointer { backend.multiply(count, $0, m) } }
    let y = self.input(input)
    onBackward { [self] in
      guard var dy = gradient(y) else { return }
      mask.withPointer { m in dy.withMutablePointer { backend.multiply(count, $0, m) } }
      accumulate(dy, into: x)
    }
    return y
  }
}
