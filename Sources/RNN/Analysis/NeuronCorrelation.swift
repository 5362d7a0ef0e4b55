/// Which recurrent state a neuron belongs to: the hidden output `h` or the LSTM cell state `c`.
public enum StateKind: String, Sendable {
  case h, c
}

/// One neuron of a recurrent model: layer, state and index in `0 ..< H`.
public struct NeuronID: Hashable, Sendable {
  public var layer: Int
  public var kind: StateKind
  public var index: Int

  public init(layer: Int, kind: StateKind, index: Int) {
    self.layer = layer
    self.kind = kind
    self.index = index
  }
}

/// A neuron and its Pearson correlation with a property over a passage.
public struct NeuronCorrelation: Sendable {
  public var neuron: NeuronID
  public var r: Double
}

/// The Pearson correlation of `x` and `y` (same length), or nil when either is constant or they
/// have fewer than 2 values.
public func pearsonCorrelation(_ x: [Double], _ y: [Double]) -> Double? {
  require(x.count == y.count, "pearsonCorrelation: \(x.count) vs \(y.count) values")
  let n = Double(x.count)
  guard x.count >= 2 else { return nil }
  let mx = x.reduce(0, +) / n
  let my = y.reduce(0, +) / n
  var sxy = 0.0
  var sxx = 0.0
  var syy = 0.0
  for i in x.indices {
    let dx = x[i] - mx
    let dy = y[i] - my
    sxy += dx * dy
    sxx += dx * dx
    syy += dy * dy
  }
  guard sxx > 1e-12 * n, syy > 1e-12 * n else { return nil }
  return sxy / (sxx * syy).squareRoot()
}

/// The `count` neurons whose activations correlate most strongly (by |r|) with `property`
/// (`[T]`). `activations` maps each neuron to its values `[T]`. Constant neurons are skipped; a
/// constant property gives no neurons.
public func strongestCorrelations(
  with property: [Double], among activations: [(NeuronID, [Float])], count: Int
) -> [NeuronCorrelation] {
  var found: [NeuronCorrelation] = []
  for (neuron, values) in activations {
    if let r = pearsonCorrelation(values.map(Double.init), property) {
      found.append(NeuronCorrelation(neuron: neuron, r: r))
    }
  }
  found.sort { abs($0.r) > abs($1.r) }
  return Array(found.prefix(count))
}
