extension ParameterLayout {
  /// Checks that `file` holds every parameter of this layout under its name, with its shape and
  /// finite, and nothing else; errors name `path`.
  public func check(_ file: SafeTensors, path: String) throws(CheckpointError) {
    for entry in entries {
      guard let tensor = file[entry.name] else { throw .missingTensor(path: path, name: entry.name) }
      guard tensor.shape == entry.ref.shape else {
        throw .shapeMismatch(path: path, name: entry.name, expected: entry.ref.shape, actual: tensor.shape)
      }
      let nonFinite = tensor.nonFiniteCount
      guard nonFinite == 0 else { throw .nonFinite(path: path, name: entry.name, count: nonFinite, total: tensor.count) }
    }
    let known = Set(entries.map(\.name))
    let extra = file.tensors.map(\.name).filter { !known.contains($0) }
    guard extra.isEmpty else { throw .unexpectedTensors(path: path, names: extra) }
  }
}

extension Parameters {
  /// Saves the parameters as PyTorch's `state_dict` in a safetensors file, which
  /// `model.load_state_dict(safetensors.torch.load_file(path))` reads for the same modules.
  public func save(to path: String, metadata: [String: String] = [:]) throws {
    try SafeTensors(tensors: stateDict(), metadata: metadata).write(to: path)
  }

  /// The parameters of `layout` from a safetensors file: a PyTorch `state_dict` saved with
  /// `safetensors.torch.save_file`, or `save(to:)`. Every parameter must be there by name, with
  /// its shape and finite, and nothing else (`CheckpointError` names what is not).
  public convenience init(_ layout: ParameterLayout, contentsOf path: String) throws {
    self.init(layout)
    try load(from: path)
  }

  /// Overwrites every parameter with the one of its name in a safetensors file, as PyTorch's
  /// `model.load_state_dict(safetensors.torch.load_file(path))`; the file is checked as
  /// `init(_:contentsOf:)` checks it, and nothing changes when it fails the check.
  public func load(from path: String) throws {
    let file = try SafeTensors.checkpointFile(at: path)
    try layout.check(file, path: path)
    assign(file)
  }

  /// Overwrites every parameter with the tensor of its name in `file`, which
  /// `ParameterLayout.check` accepted.
  func assign(_ file: SafeTensors) {
    for entry in layout.entries { assign(file[entry.name]!, to: entry.ref) }
  }
}

extension SafeTensors {
  /// Reads `path`, its failures as `CheckpointError`s.
  static func checkpointFile(at path: String) throws(CheckpointError) -> SafeTensors {
    do {
      return try SafeTensors(contentsOf: path)
    } catch let error as SafeTensorsError {
      if case .unreadable(_, let reason) = error { throw .unreadable(path: path, reason: reason) }
      throw .format(path: path, error)
    } catch {
      throw .unreadable(path: path, reason: "\(error)")
    }
  }
}
