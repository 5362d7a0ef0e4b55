/// The backward of an affine map `y = x W^T + b` over all rows: `dW += dy^T x`, `db += sum(dy)`;
/// returns `dx = dy W`. `x [N..., I]`, `dy [N..., O]`, `weight [O, I]`, `bias [O]`; each product
/// split by rows across threads.
func affineBackward(_ dy: Tensor, x: Tensor, weight: ParameterRef, bias: ParameterRef, parameters: Parameters) -> Tensor {
  dy.withPointer { affineBackward($0, x: x, weight: weight, bias: bias, parameters: parameters) }
}

/// The same with `dy` at a pointer (a recurrent layer's workspace).
func affineBackward(
  _ dy: UnsafePointer<Float>, x: Tensor, weight: ParameterRef, bias: ParameterRef, parameters: Parameters
) -> Tensor {
  let (o, i) = (weight.shape[0], weight.shape[1])
  let n = x.count / i
  guard n > 0 else { return .zeros(x.shape) }
  let backend = parameters.backend
  x.withPointer { x in
    parameters.accumulateWeightGradient(of: weight, [.init(n: n, dy: dy, ldy: o, x: x)])
  }
  backend.addColumnSums(n, o, dy, into: parameters.gradient(bias))
  return Tensor(shape: x.shape) { dx in
    backend.parallelGemm(false, false, n, i, o, dy, parameters.value(weight), beta: 0, dx)
  }
}

/// An affine map of the last dimension, `y = x W^T + b`: `weight [O, I]`, `bias [O]`, as `torch.nn.Linear`.
public struct Linear: Sendable {
  public let inputSize: Int
  public let outputSize: Int
  public let weight: ParameterRef
  public let bias: ParameterRef

  /// Declares `<name>.weight [O, I]` and `<name>.bias [O]`.
  public init(inputSize: Int, outputSize: Int, layout: inout ParameterLayout, name: String) {
    self.inputSize = inputSize
    self.outputSize = outputSize
    let bound = ParameterInitialization.uniform(bound: 1 / Float(inputSize).squareRoot())
    weight = layout.declare("\(name).weight", shape: [outputSize, inputSize], initialization: bound)
    bias = layout.declare("\(name).bias", shape: [outputSize], initialization: bound)
  }

  /// PyTorch's initialisation: weight and bias uniform in `[-1/sqrt(I), 1/sqrt(I)]`.
  public func initialize(_ parameters: Parameters, using generator: inout RandomGenerator) {
    parameters.initialize([weight, bias], using: &generator)
  }

  /// `x [N..., I] -> [N..., O]`: one GEMM over all rows.
  public func forward(_ x: Tensor, parameters: Parameters) -> Tensor {
    require(x.shape.last == inputSize, "input \(x.shape) does not end in \(inputSize)")
    let (n, backend) = (x.count / inputSize, parameters.backend)
    return Tensor(shape: x.shape.dropLast() + [outputSize]) { y in
      backend.fillRows(n, outputSize, y, parameters.value(bias), nil)
      x.withPointer { x in backend.parallelGemm(false, true, n, outputSize, inputSize, x, parameters.value(weight), beta: 1, y) }
    }
  }

  /// Accumulates `dW += dy^T x`, `db += sum(dy)`; returns `dx = dy W`.
  public func backward(_ dy: Tensor, x: Tensor, parameters: Parameters) -> Tensor {
    affineBackward(dy, x: x, weight: weight, bias: bias, parameters: parameters)
  }

  /// Records the map on `tape`.
  public func callAsFunction(_ x: Variable, parameters: Parameters, on tape: Tape) -> Variable {
    let input = tape[x]
    let y = tape.input(forward(input, parameters: parameters))
    tape.onBackward { [self] in
      if let dy = tape.gradient(y) { tape.accumulate(backward(dy, x: input, parameters: parameters), into: x) }
    }
    return y
  }
}
