/// A model of one's own that owns its parameters, as a PyTorch `nn.Module`: its layers, made in
/// one expression by a `ModelBuilder`, and one flat store of their parameters, named after the
/// layers' labels as the module's `state_dict` is named after its attributes.
///
///     let model = Model(using: &generator) { make in
///       (reader: make.recurrent(.lstm, inputSize: 8, hiddenSize: 32),   // reader.weight_ih_l0 [4H, D] ...
///        classify: make.linear(inputSize: 32, outputSize: 2))            // classify.weight [2, H] ...
///     }
///     let (_, final) = model.reader(sequences, on: tape)      // [T,B,D] with lengths -> final h [B,H]
///     let logits = model.classify(final[0].h, on: tape)       // [B,2]
///
/// `Layers` is anything that holds the layers: a labelled tuple, a struct, an array (named
/// `0`, `1`, ... as `nn.ModuleList`), nested as deep as wanted (`encoder.reader.weight_ih_l0`).
/// Each layer is a `Bound` layer, called without `parameters:`; `model.reader` reads
/// `model.layers.reader`. `save(to:)` and `load(from:)` write and read the parameters as a PyTorch
/// `state_dict` in a safetensors file.
@dynamicMemberLookup
public struct Model<Layers> {
  /// The layers, as the builder closure returned them.
  public let layers: Layers
  /// All parameters in one flat store (what an `Optimizer` updates), named as a `state_dict`.
  public let parameters: Parameters

  /// A model whose parameters are all zero (to be loaded): `build` makes the layers, which
  /// compute on `backend`.
  public init(backend: any ComputeBackend = CPUBackend(), _ build: (ModelBuilder) -> Layers) {
    let builder = ModelBuilder()
    layers = build(builder)
    parameters = Parameters(builder.finish(naming: layers), backend: backend)
    builder.parameters = parameters
  }

  /// A model initialised as PyTorch initialises the same modules, in the order `build` makes
  /// them, from `generator`.
  public init(
    using generator: inout RandomGenerator, backend: any ComputeBackend = CPUBackend(),
    _ build: (ModelBuilder) -> Layers
  ) {
    self.init(backend: backend, build)
    parameters.initialize(parameters.layout.entries.map(\.ref), using: &generator)
  }

  /// `model.name` is `model.layers.name`.
  public subscript<Value>(dynamicMember keyPath: KeyPath<Layers, Value>) -> Value { layers[keyPath: keyPath] }

  /// The number of parameters as PyTorch counts them: `sum(p.numel() for p in model.parameters())`.
  public var parameterCount: Int { parameters.layout.parameterCount }
}

extension Model: Sendable where Layers: Sendable {}
