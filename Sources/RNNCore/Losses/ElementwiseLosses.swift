#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension Tape {
  /// The mean of `(x - targets)^2` over all elements (`nn.MSELoss()`): a `[1]` loss. `targets`
  /// has the shape of `x`.
  public func meanSquaredError(_ x: Variable, targets: Tensor) -> Variable {
    let value = self[x]
    require(value.shape == targets.shape, "targets \(targets.shape) for values \(value.shape)")
    let n = max(value.count, 1)
    let total = value.withPointer { x in
      targets.withPointer { t in (0..<value.count).reduce(0.0) { $0 + Double((x[$1] - t[$1]) * (x[$1] - t[$1])) } }
    }
    let loss = input(Tensor(shape: [1], scalars: [Float(total / Double(n))]))
    onBackward { [self] in
      guard let seed = gradient(loss)?.scalars[0] else { return }
      let scale = 2 * seed / Float(n)
      accumulate(
        Tensor(shape: value.shape) { dx in
          value.withPointer { x in targets.withPointer { t in for i in 0..<value.count { dx[i] = scale * (x[i] - t[i]) } } }
        }, into: x)
    }
    return loss
  }

  /// The mean binary cross-entropy of `logits` against `targets` in `[0, 1]`, of one shape
  /// (`nn.BCEWithLogitsLoss()`): `max(z, 0) - z * t + log(1 + exp(-|z|))` per element, which
  /// never overflows. A `[1]` loss.
  public func binaryCrossEntropy(logits: Variable, targets: Tensor) -> Variable {
    let value = self[logits]
    require(value.shape == targets.shape, "targets \(targets.shape) for logits \(value.shape)")
    let n = max(value.count, 1)
    let total = value.withPointer { z in
      targets.withPointer { t in
        (0..<value.count).reduce(0.0) { sum, i in
          let (zi, ti) = (Double(z[i]), Double(t[i]))
          return sum + max(zi, 0) - zi * ti + log1p(exp(-abs(zi)))
        }
      }
    }
    let loss = input(Tensor(shape: [1], scalars: [Float(total / Double(n))]))
    onBackward { [self] in
      guard let seed = gradient(loss)?.scalars[0] else { return }
      let scale = seed / Float(n)
      accumulate(
        Tensor(shape: value.shape) { dz in
          value.withPointer { z in
            targets.withPointer { t in
              for i in 0..<value.count { dz[i] = scale * (Float(1 / (1 + exp(-Double(z[i])))) - t[i]) }
            }
          }
        }, into: logits)
    }
    return loss
  }
}
