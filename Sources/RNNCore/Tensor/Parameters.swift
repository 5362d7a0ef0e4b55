/// Where one named parameter lives inside a `Parameters` store.
public struct ParameterRef: Hashable, Sendable {
  /// Offset of the first element in the flat buffers.
  public let offset: Int
  /// The parameter's shape, e.g. `[4H, D]` for an LSTM's `weight_ih`.
  public let shape: [Int]
  /// Number of elements.
  public var count: Int { shape.reduce(1, *) }
}

/// How a parameter starts, as PyTorch's modules initialise theirs.
public enum ParameterInitialization: Equatable, Sendable {
  /// Uniform in `[-bound, bound]`: `nn.Linear`'s weight and bias and every recurrent weight and
  /// bias, with `bound = 1 / sqrt(fan)` (the layer's input size, or a recurrent layer's hidden size).
  case uniform(bound: Float)
  /// Standard normal: `nn.Embedding`'s weight.
  case normal
}

/// The list of named parameters of a model, in order, before any memory is allocated.
///
/// Layers declare their parameters here while they are built; `Parameters(layout)` then
/// allocates one flat buffer for all values and one for all gradients.
public struct ParameterLayout: Sendable {
  /// One named parameter.
  public struct Entry: Sendable {
    /// The PyTorch `state_dict` name, e.g. `rnn.weight_ih_l0`.
    public internal(set) var name: String
    /// Where the parameter lives.
    public let ref: ParameterRef
    /// How it starts.
    public let initialization: ParameterInitialization
  }

  /// The parameters in declaration order.
  public internal(set) var entries: [Entry] = []
  /// Total number of scalars, with the padding that aligns each parameter.
  public private(set) var count = 0

  /// The number of parameters as PyTorch counts them (`sum(p.numel() for p in
  /// model.parameters())`): without the padding.
  public var parameterCount: Int { entries.reduce(0) { $0 + $1.ref.count } }

  /// An empty layout.
  public init() {}

  /// Declares a parameter; `name` is its PyTorch `state_dict` name. By default it starts as a
  /// weight `[out, in]` of `nn.Linear` does: uniform within `1 / sqrt(in)`.
  public mutating func declare(
    _ name: String, shape: [Int], initialization: ParameterInitialization? = nil
  ) -> ParameterRef {
    require(!entries.contains { $0.name == name }, "duplicate parameter \(name)")
    let ref = ParameterRef(offset: count, shape: shape)
    let fan = max(shape.last ?? 1, 1)
    entries.append(Entry(name: name, ref: ref, initialization: initialization ?? .uniform(bound: 1 / Float(fan).squareRoot())))
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
  public private(set) var values: UnsafeMutableBufferPointer<Float>
  /// Whether `values` is this object's own allocation (not memory given to `keepValues(in:)`).
  private var ownsValues = true
  /// All gradients, in the same places as `values`.
  public private(set) var gradients: UnsafeMutableBufferPointer<Float>
  /// Whether `gradients` is this object's own allocation (not memory given to `keepGradients(in:)`).
  private var ownsGradients = true
  /// What computes with them: the layers that read them, their optimizer and clipping.
  public let backend: any ComputeBackend
  /// The sharings that compute given weights' gradients (`shareWeightGradient`), by the weight's offset.
  var weightGradientSharings: [Int: any WeightGradientSharing] = [:]

  /// Parameters of `layout`, all zero (to be loaded, or initialised), computed with by `backend`.
  public init(_ layout: ParameterLayout, backend: any ComputeBackend = CPUBackend()) {
    self.layout = layout
    self.backend = backend
    values = Parameters.allocate(layout.count)
    gradients = Parameters.allocate(layout.count)
  }

  /// Parameters of `layout` initialised as PyTorch initialises the same modules: each by its
  /// declared `ParameterInitialization`, in declaration order, from `generator`.
  public convenience init(
    _ layout: ParameterLayout, backend: any ComputeBackend = CPUBackend(), using generator: inout RandomGenerator
  ) {
    self.init(layout, backend: backend)
    initialize(layout.entries.map(\.ref), using: &generator)
  }

  /// Initialises `refs`, in this order, each by its declared `ParameterInitialization`.
  public func initialize(_ refs: [ParameterRef], using generator: inout RandomGenerator) {
    for ref in refs {
      let entry = layout.entries.first { $0.ref == ref }
      require(entry != nil, "the parameter at \(ref.offset) is not in this model's layout")
      let p = value(ref)
      switch entry!.initialization {
      case .uniform(let bound): for i in 0..<ref.count { p[i] = generator.uniform(-bound, bound) }
      case .normal: for i in 0..<ref.count { p[i] = generator.normal() }
      }
    }
  }

  deinit {
    if ownsValues { UnsafeMutableRawPointer(values.baseAddress!).deallocate() }
    if ownsGradients { UnsafeMutableRawPointer(gradients.baseAddress!).deallocate() }
  }

  /// Keeps the gradients in `storage` from now on, the current ones copied there: memory that the
  /// data-parallel ranks on one machine share, where they sum their gradients without copies.
  /// `storage` holds `count` floats, 64-byte aligned; its owner keeps it valid while these
  /// gradients are used, and frees it. Not while the gradients are being computed.
  public func keepGradients(in storage: UnsafeMutableBufferPointer<Float>) {
    require(storage.count == count, "gradient storage of \(storage.count) floats for \(count) parameters")
    require(Int(bitPattern: storage.baseAddress) % 64 == 0, "gradient storage not 64-byte aligned")
    _ = storage.update(fromContentsOf: gradients)
    if ownsGradients { UnsafeMutableRawPointer(gradients.baseAddress!).deallocate() }
    gradients = storage
    ownsGradients = false
  }

  /// Keeps the values in `storage` from now on, which must already hold them: memory that the
  /// data-parallel ranks on one machine share, one copy for all of them, where one rank copied
  /// them. `storage` holds `count` floats, 64-byte aligned; its owner keeps it valid while these
  /// parameters are used, and frees it. Not while the parameters are being computed with.
  public func keepValues(in storage: UnsafeMutableBufferPointer<Float>) {
    require(storage.count == count, "value storage of \(storage.count) floats for \(count) parameters")
    require(Int(bitPattern: storage.baseAddress) % 64 == 0, "value storage not 64-byte aligned")
    if ownsValues { UnsafeMutableRawPointer(values.baseAddress!).deallocate() }
    values = storage
    ownsValues = false
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
