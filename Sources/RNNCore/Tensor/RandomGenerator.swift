/// A small, fast, seedable random generator (xoshiro128+ for floats, xoshiro256** for words),
/// passed explicitly to whatever needs randomness so runs are reproducible and resumable.
public struct RandomGenerator: RandomNumberGenerator, Equatable, Sendable {
  /// The whole generator state; saving and restoring it resumes the exact sequence.
  public var state: (UInt64, UInt64, UInt64, UInt64)

  public static func == (a: Self, b: Self) -> Bool { a.state == b.state }

  /// A generator whose sequence is fixed by `seed` (state expanded with SplitMix64).
  public init(seed: UInt64) {
    var s = seed
    func next() -> UInt64 {
      s &+= 0x9E37_79B9_7F4A_7C15
      var z = s
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    state = (next(), next(), next(), next())
  }

  /// A generator continuing from a saved `state`.
  public init(state: (UInt64, UInt64, UInt64, UInt64)) {
    self.state = state
  }

  /// The next 64 random bits (xoshiro256**).
  public mutating func next() -> UInt64 {
    let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
    let t = state.1 << 17
    state.2 ^= state.0
    state.3 ^= state.1
    state.1 ^= state.2
    state.0 ^= state.3
    state.2 ^= t
    state.3 = state.3 << 45 | state.3 >> 19
    return result
  }

  /// A float uniform in `[low, high)`.
  public mutating func uniform(_ low: Float, _ high: Float) -> Float {
    low + (high - low) * Float(next() >> 40) * 0x1p-24
  }

  /// A float from the normal distribution (Box-Muller).
  public mutating func normal(mean: Float = 0, deviation: Float = 1) -> Float {
    let u1 = Double(next() >> 11 + 1) * 0x1p-53
    let u2 = Double(next() >> 11) * 0x1p-53
    return mean + deviation * Float((-2 * _log(u1)).squareRoot() * _cos(2 * .pi * u2))
  }

  /// Four 32-bit words of fresh state for the C dropout kernel's own generator.
  mutating func kernelState() -> (UInt32, UInt32, UInt32, UInt32) {
    let a = next(), b = next()
    return (UInt32(truncatingIfNeeded: a), UInt32(truncatingIfNeeded: a >> 32) | 1,
            UInt32(truncatingIfNeeded: b), UInt32(truncatingIfNeeded: b >> 32))
  }
}
