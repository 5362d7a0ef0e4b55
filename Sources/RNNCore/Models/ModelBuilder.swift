/// Makes the layers of a `Model`, each as the `torch.nn` module of the same name and shapes, in
/// the order PyTorch initialises them. A layer's parameters are named when the model is complete,
/// after where the layer sits in it (a tuple label, a property name, an array index): a linear
/// layer labelled `classify` has `classify.weight [O, I]` and `classify.bias [O]`.
public final class ModelBuilder: @unchecked Sendable {
  /// The parameters declared so far, under temporary names until `finish(naming:)`.
  private var layout = ParameterLayout()
  /// The temporary name prefix of each layer made, by layer number.
  private var placeholders: [String] = []
  /// The model's parameters, once it is complete.
  var parameters: Parameters?

  init() {}

  /// `nn.Linear(I, O)`: `weight [O, I]`, `bias [O]`; `[N..., I] -> [N..., O]`.
  public func linear(inputSize: Int, outputSize: Int) -> Bound<Linear> {
    make { Linear(inputSize: inputSize, outputSize: outputSize, layout: &layout, name: $0) }
  }

  /// `nn.Embedding(V, E)`: `weight [V, E]`; token ids `[T,B] -> [T,B,E]`.
  public func embedding(vocabularySize: Int, size: Int) -> Bound<Embedding> {
    make { Embedding(vocabularySize: vocabularySize, size: size, layout: &layout, name: $0) }
  }

  /// `nn.LSTM(D, H, num_layers: L, dropout: p)` (or `nn.GRU`, `nn.RNN` by `cell`): `L` layers,
  /// `weight_ih_l{k} [G*H, D or H]`, `weight_hh_l{k} [G*H, H]`, `bias_ih_l{k}`, `bias_hh_l{k}`
  /// `[G*H]`; `[T,B,D] -> [T,B,H]` and a final state `[B,H]` per layer.
  public func recurrent(
    _ cell: CellKind, inputSize: Int, hiddenSize: Int, layers: Int = 1, dropout: Float = 0
  ) -> Bound<RecurrentStack> {
    make {
      RecurrentStack(
        cell, inputSize: inputSize, hiddenSize: hiddenSize, layers: layers, dropout: dropout, layout: &layout,
        prefix: $0 + ".")
    }
  }

  /// `nn.LSTM(D, H, bidirectional: true)` (or `nn.GRU`, `nn.RNN` by `cell`): `weight_ih_l0`, ...
  /// and `weight_ih_l0_reverse`, ...; `[T,B,D] -> [T,B,2H]` and a final state `[2,B,H]`.
  public func bidirectional(_ cell: CellKind, inputSize: Int, hiddenSize: Int) -> Bound<Bidirectional> {
    make {
      Bidirectional(cell, inputSize: inputSize, hiddenSize: hiddenSize, layout: &layout, prefix: $0 + ".", suffix: "_l0")
    }
  }

  /// A layer that `declare` makes with a temporary name prefix, bound to this model.
  private func make<Layer>(_ declare: (String) -> Layer) -> Bound<Layer> {
    require(parameters == nil, "a layer made after its model was complete; make every layer inside the closure")
    let placeholder = "#\(placeholders.count)"
    placeholders.append(placeholder)
    return Bound(layer: declare(placeholder), builder: self, placeholder: placeholder)
  }

  /// The layout with every parameter named after where its layer sits in `layers`.
  func finish(naming layers: Any) -> ParameterLayout {
    var paths: [String: String] = [:]  // placeholder -> path
    name(layers, path: "", into: &paths)
    let lost = placeholders.filter { paths[$0] == nil }
    require(
      lost.isEmpty,
      "\(lost.count) of the \(placeholders.count) layers made are not in the model's layers "
        + "(return every layer made, in a tuple, struct, array or optional)")
    for index in layout.entries.indices {
      let name = layout.entries[index].name
      let placeholder = String(name.prefix { $0 != "." })
      let path = paths[placeholder]!
      layout.entries[index].name = path.isEmpty ? String(name.dropFirst(placeholder.count + 1)) : path + name.dropFirst(placeholder.count)
    }
    let names = layout.entries.map(\.name)
    require(Set(names).count == names.count, "two layers share the name of a parameter: \(names)")
    return layout
  }

  /// Records the path of each bound layer within `value`: labels joined by dots, array indices
  /// as numbers, optionals transparent.
  private func name(_ value: Any, path: String, into paths: inout [String: String]) {
    if let layer = value as? any BoundLayer {
      if layer.builder === self, paths[layer.placeholder] == nil { paths[layer.placeholder] = path }
      return
    }
    let mirror = Mirror(reflecting: value)
    switch mirror.displayStyle {
    case .optional:
      if let some = mirror.children.first { name(some.value, path: path, into: &paths) }
    case .tuple, .struct, .collection:
      // A collection of plain values (a tensor's scalars) holds no layer: skip it whole.
      if mirror.displayStyle == .collection, let first = mirror.children.first, !Self.mayHoldLayers(first.value) {
        return
      }
      for (index, child) in mirror.children.enumerated() {
        let label = child.label.map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 } ?? String(index)
        name(child.value, path: path.isEmpty ? label : "\(path).\(label)", into: &paths)
      }
    default: return
    }
  }

  /// Whether `value` is a bound layer or an aggregate that may hold one.
  private static func mayHoldLayers(_ value: Any) -> Bool {
    value is any BoundLayer || [.tuple, .struct, .collection, .optional].contains(Mirror(reflecting: value).displayStyle)
  }
}

/// What the builder reads of a bound layer, whatever its kind.
protocol BoundLayer {
  var builder: ModelBuilder { get }
  var placeholder: String { get }
}
