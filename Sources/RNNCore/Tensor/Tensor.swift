/// A dense float32 tensor: row-major, contiguous, with value semantics (copy-on-write storage).
///
/// Shape legend used throughout the library: `T` time, `B` batch, `D` input features,
/// `H` hidden, `V` vocabulary, `L` layers. Sequences are time-major, `[T, B, D]`, as in
/// `torch.nn.LSTM(batch_first=False)`.
public struct Tensor: Equatable, Sendable {
  /// The extent of each dimension, outermost first.
  public private(set) var shape: [Int]
  /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
  public var scalars: [Float]

  /// A tensor of the given shape filled with `value`.
  public init(shape: [Int], repeating value: Float = 0) {
    require(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
    self.shape = shape
    self.scalars = [Float](repeating: value, count: shape.reduce(1, *))
  }

  /// A tensor wrapping `scalars`, whose count must match `shape`.
  public init(shape: [Int], scalars: [Float]) {
    require(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) scalars")
    self.shape = shape
    self.scalars = scalars
  }

  /// The number of elements.
  public var count: Int { scalars.count }

  /// The same elements viewed with another shape of equal element count.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    Tensor(shape: newShape, scalars: scalars)
  }

  /// Calls `body` with a pointer to the elements.
  @inlinable
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try scalars.withUnsafeBufferPointer(body)
  }

  /// Calls `body` with a mutable pointer to the elements (copying the storage first if shared).
  @inlinable
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    try scalars.withUnsafeMutableBufferPointer(body)
  }
}
