/// Where one named parameter lives inside a `Parameters` store.
public struct ParameterRef: Hashable, Sendable {
  /// Offset of the first element in the flat buffers.
  public let offset: Int
  /// The parameter's shape, e.g. `[4H, D]` for an LSTM's `weight_ih`.
  public let shape: [Int]
  /// Number of elements.
  public var count: Int { shape.reduce(1, *) }
}

/// The list of named parameters of a model, in order, before any memory is allocated.
///
/// Layers declare their parameters here while they are built; `Parameters(layout)` then
/// allocates one flat buffer for all values and one for all gradients.
public struct ParameterLayout: Sendable {
  /// One named parameter.
  public struct Entry: Sendable {
    public let name: String
    public let ref: ParameterRef
  }

  public private(set) var entries: [Entry] = []
  /// Total number of scalars.
  public private(set) var count = 0

  public init() {}

  /// Declares a parameter; `name` is its PyTorch `state_dict` name.
  public mutating func declare(_ name: String, shape: [Int]) -> ParameterRef {
    require(!entries.contains { $0.name == name }, "duplicate parameter \(name)")
    let ref = ParameterRef(offset: count, shape: shape)
    entries.append(Entry(name: name, ref: ref))
    // Keep every parameter 64-byte aligned so vector kernels see aligned rows.
    count += (ref.count + 15) / 16 * 16
    return ref
  }
}

/// All parameters of a model and their gradients, each in one flat, 64-byte aligned allocation.
///
/// The optimizer, clipping and checkpoints see the flat arrays; layers see typed views through
/// the `ParameterRef`s they declared. Gradients accumulate; `zeroGradients()` clears them.
public final class Parameters: @unchecked Sendable {
  /// The names, shapes and offsets of the parameters.
  public let layout: ParameterLayout
  /// All parameter values; padding between parameters is kept at zero.
  public let values: UnsafeMutableBufferPointer<Float>
  /// All gradients, in the same places as `values`.
  public let gradients: UnsafeMutableBufferPointer<Float>

  public init(_ layout: ParameterLayout) {
    self.layout = layout
    values = Parameters.allocate(layout.count)
    gradients = Parameters.allocate(layout.count)
  }

  deinit {
    UnsafeMutableRawPointer(values.baseAddress!).deallocate()
    UnsafeMutableRawPointer(gradients.baseAddress!).deallocate()
  }

  private static func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
    let pointer = raw.initializeMemory(as: Float.self, repeating: 0, count: max(count, 1))
    return UnsafeMutableBufferPointer(start: pointer, count: count)
  }

  /// Total number of scalars (including alignment padding).
  public var count: Int { layout.count }

  /// Pointer to the first value of `ref`.
  @inlinable public func value(_ ref: ParameterRef) -> UnsafeMutablePointer<Float> {
    values.baseAddress! + ref.offset
  }

  /// Pointer to the first gradient element of `ref`.
  @inlinable public func gradient(_ ref: ParameterRef) -> UnsafeMutablePointer<Float> {
    gradients.baseAddress! + ref.offset
  }

  /// Sets every gradient to zero.
  public func zeroGradients() {
    gradients.update(repeating: 0)
  }

  /// A copy of one parameter's values as a tensor.
  public func tensor(_ ref: ParameterRef) -> Tensor {
    Tensor(shape: ref.shape, scalars: Array(UnsafeBufferPointer(start: value(ref), count: ref.count)))
  }

  /// A copy of one parameter's gradient as a tensor.
  public func gradientTensor(_ ref: ParameterRef) -> Tensor {
    Tensor(shape: ref.shape, scalars: Array(UnsafeBufferPointer(start: gradient(ref), count: ref.count)))
  }

  /// Overwrites one parameter's values; `tensor.shape` must equal `ref.shape`.
  public func assign(_ tensor: Tensor, to ref: ParameterRef) {
    require(tensor.shape == ref.shape, "shape \(tensor.shape) does not match \(ref.shape)")
    tensor.withUnsafeBufferPointer { value(ref).update(from: $0.baseAddress!, count: ref.count) }
  }

  /// The named parameters as tensors, in declaration order (a PyTorch `state_dict`).
  public func stateDict() -> [(name: String, tensor: Tensor)] {
    layout.entries.map { ($0.name, tensor($0.ref)) }
  }
}
