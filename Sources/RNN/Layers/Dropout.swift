import CKernels

extension Tape {
  /// Inverted dropout: zeroes each element with probability `p` and scales the rest by
  /// `1/(1-p)`, with a mask drawn from `generator`. The identity when `p == 0`.
  public func dropout(_ x: Variable, probability p: Float, using generator: inout RandomGenerator) -> Variable {
    guard p > 0 else { return x }
    var input = self[x]
    let count = input.count
    var s = generator.kernelState()
    let mask = Tensor(shape: input.shape) { mask in
      withUnsafeMutablePointer(to: &s) {
        $0.withMemoryRebound(to: UInt32.self, capacity: 4) { rnn_dropout_mask(count, mask, p, $0) }
      }
    }
    mask.withPointer { m in input.withMutablePointer { rnn_multiply(count, $0, m) } }
    let y = self.input(input)
    onBackward { [self] in
      guard var dy = gradient(y) else { return }
      mask.withPointer { m in dy.withMutablePointer { rnn_multiply(count, $0, m) } }
      accumulate(dy, into: x)
    }
    return y
  }
}
