extension Model {
  /// Saves the parameters as the PyTorch module's `state_dict` in a safetensors file, which
  /// `module.load_state_dict(safetensors.torch.load_file(path))` reads for the same modules.
  public func save(to path: String, metadata: [String: String] = [:]) throws {
    try parameters.save(to: path, metadata: metadata)
  }

  /// Overwrites the parameters with a safetensors file's: one that `save(to:)` or PyTorch's
  /// `safetensors.torch.save_file(module.state_dict(), path)` wrote. Every parameter must be there
  /// by name, with its shape and finite, and nothing else (`CheckpointError` names what is not);
  /// nothing changes when the file fails these checks.
  public func load(from path: String) throws {
    try parameters.load(from: path)
  }

  /// The model that `build` makes, with the parameters of a safetensors file (see `load(from:)`).
  public init(contentsOf path: String, _ build: (ModelBuilder) -> Layers) throws {
    self.init(build)
    try load(from: path)
  }
}
