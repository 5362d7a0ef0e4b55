/// What an example reports once it has trained and scored its model.
public struct ExampleResult: Sendable {
  /// What `accuracy` measures, e.g. "exact-match accuracy on 2,000 held-out sums".
  public var metric: String
  /// The fraction right, in `0...1`.
  public var accuracy: Double
  /// The accuracy of always answering the most frequent class, for classifiers.
  public var baseline: Double?
  /// Training and evaluation time in seconds.
  public var seconds: Double
}

/// Settings every example shares (each has its own defaults for what is nil).
public struct ExampleSettings: Sendable {
  /// Training steps (minibatch updates); nil: the example's default.
  public var steps: Int?
  /// Seeds the data generation, the split, the initialisation and the batch order.
  public var seed: UInt64
  /// A small model, a small part of the data and few steps: seconds, for tests.
  public var quick: Bool
  /// Data files, for the examples that read some (see each example).
  public var data: [String]

  public init(steps: Int? = nil, seed: UInt64 = 1, quick: Bool = false, data: [String] = []) {
    self.steps = steps
    self.seed = seed
    self.quick = quick
    self.data = data
  }
}
