#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Arithmetic and activations on the tape, each one pass forward and one fused pass backward, as
/// PyTorch's `torch.relu`, `torch.tanh`, `torch.sigmoid`, `+`, `torch.cat(dim=-1)` and
/// `x.mean(0)` compute them.
extension Tape {
  /// An elementwise function whose derivative is a function of its output: `y = f(x)`,
  /// `dx = dy * f'(y)`.
  private func elementwise(_ x: Variable, _ f: (Float) -> Float, derivative: @escaping (Float) -> Float) -> Variable {
    let input = self[x]
    let output = Tensor(shape: input.shape) { y in
      input.withPointer { x in for i in 0..<input.count { y[i] = f(x[i]) } }
    }
    let y = self.input(output)
    onBackward { [self] in
      guard let dy = gradient(y) else { return }
      let dx = Tensor(shape: output.shape) { dx in
        output.withPointer { y in dy.withPointer { dy in for i in 0..<output.count { dx[i] = dy[i] * derivative(y[i]) } } }
      }
      accumulate(dx, into: x)
    }
    return y
  }

  /// `max(x, 0)`, any shape.
  public func relu(_ x: Variable) -> Variable {
    elementwise(x, { max($0, 0) }, derivative: { $0 > 0 ? 1 : 0 })
  }

  /// `tanh(x)`, any shape.
  public func tanh(_ x: Variable) -> Variable {
    elementwise(x, { Float(2 / (1 + exp(-2 * Double($0))) - 1) }, derivative: { 1 - $0 * $0 })
  }

  /// `1 / (1 + exp(-x))`, any shape.
  public func sigmoid(_ x: Variable) -> Variable {
    elementwise(x, { 1 / (1 + Float(exp(-Double($0)))) }, derivative: { $0 * (1 - $0) })
  }

  /// `a + b`, of one shape.
  public func add(_ a: Variable, _ b: Variable) -> Variable {
    let (x, z) = (self[a], self[b])
    require(x.shape == z.shape, "adding \(x.shape) and \(z.shape)")
    let y = input(Tensor(shape: x.shape) { out in
      x.withPointer { xs in z.withPointer { zs in for i in 0..<x.count { out[i] = xs[i] + zs[i] } } }
    })
    onBackward { [self] in
      guard let dy = gradient(y) else { return }
      accumulate(dy, into: a)
      accumulate(dy, into: b)
    }
    return y
  }

  /// The tensors `[..., D_k]` side by side along their last axis: `[..., sum D_k]` (all leading
  /// shapes equal).
  public func concatenate(_ parts: [Variable]) -> Variable {
    require(!parts.isEmpty, "concatenating nothing")
    let values = parts.map { self[$0] }
    let leading = Array(values[0].shape.dropLast())
    for value in values {
      require(Array(value.shape.dropLast()) == leading, "concatenating \(values.map(\.shape)) along the last axis")
    }
    let widths = values.map { $0.shape.last! }
    let total = widths.reduce(0, +)
    let rows = leading.reduce(1, *)
    let y = input(Tensor(shape: leading + [total]) { out in
      var column = 0
      for (value, width) in zip(values, widths) {
        value.withPointer { x in
          for r in 0..<rows { (out + r * total + column).update(from: x + r * width, count: width) }
        }
        column += width
      }
    })
    onBackward { [self] in
      guard let dy = gradient(y) else { return }
      var column = 0
      for (part, width) in zip(parts, widths) {
        let dx = Tensor(shape: leading + [width]) { dx in
          dy.withPointer { dy in for r in 0..<rows { (dx + r * width).update(from: dy + r * total + column, count: width) } }
        }
        accumulate(dx, into: part)
        column += width
      }
    }
    return y
  }

  /// The mean over time of `x [T,B,D]`: `[B,D]`. With `lengths` (one per row, each in `1...T`),
  /// each row's mean over its own first steps (padded steps neither count nor get gradient).
  public func meanOverTime(_ x: Variable, lengths: [Int]? = nil) -> Variable {
    let value = self[x]
    require(value.shape.count == 3, "mean over time of \(value.shape), not [T,B,D]")
    let (t, b, d) = (value.shape[0], value.shape[1], value.shape[2])
    let lengths = lengths ?? Array(repeating: t, count: b)
    require(lengths.count == b && lengths.allSatisfy { (1...t).contains($0) }, "lengths \(lengths) for [\(t), \(b)]")
    let y = input(Tensor(shape: [b, d]) { out in
      value.withPointer { x in
        for row in 0..<b {
          let o = out + row * d
          o.initialize(repeating: 0, count: d)
          for step in 0..<lengths[row] { for j in 0..<d { o[j] += x[(step * b + row) * d + j] } }
          for j in 0..<d { o[j] /= Float(lengths[row]) }
        }
      }
    })
    onBackward { [self] in
      guard let dy = gradient(y) else { return }
      let dx = Tensor(shape: value.shape) { dx in
        dx.initialize(repeating: 0, count: value.count)
        dy.withPointer { dy in
          for row in 0..<b {
            let scale = 1 / Float(lengths[row])
            for step in 0..<lengths[row] { for j in 0..<d { dx[(step * b + row) * d + j] = dy[row * d + j] * scale } }
          }
        }
      }
      accumulate(dx, into: x)
    }
    return y
  }
}
