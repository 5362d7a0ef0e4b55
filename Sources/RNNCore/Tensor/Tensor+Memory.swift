extension Tensor {
  /// A tensor whose elements `body` writes into uninitialised memory (every element must be set).
  @inlinable
  public init(shape: [Int], initializingWith body: (UnsafeMutablePointer<Float>) throws -> Void) rethrows {
    let count = shape.reduce(1, *)
    let scalars = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      if count > 0 { try body(buffer.baseAddress!) }
      initialized = count
    }
    self.init(shape: shape, scalars: scalars)
  }

  /// A tensor whose elements are undefined until written (for buffers a kernel fills entirely).
  @inlinable
  public init(uninitializedShape shape: [Int]) {
    self.init(shape: shape) { _ in }
  }

  /// A zero tensor of the given shape.
  public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }

  /// Calls `body` with a pointer to the elements (never nil, even for an empty tensor).
  @inlinable
  public func withPointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
    try scalars.withUnsafeBufferPointer { try body($0.baseAddress ?? UnsafePointer(bitPattern: 64)!) }
  }

  /// Calls `body` with a mutable pointer to the elements (copying them first if shared).
  @inlinable
  public mutating func withMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    try scalars.withUnsafeMutableBufferPointer {
      try body($0.baseAddress ?? UnsafeMutablePointer(bitPattern: 64)!)
    }
  }
}
