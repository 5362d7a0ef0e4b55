extension Tensor {
  /// Calls `body` with pointers to the elements of every tensor of `outputs` (each copied first
  /// if its storage is shared) and of `inputs`, in their orders, all borrowed at once: a time loop
  /// takes its raw pointers in one closure at its top instead of one nested closure per tensor.
  /// The pointers are valid only inside `body`.
  static func withPointers<R>(
    mutating outputs: inout [Tensor], reading inputs: [Tensor],
    _ body: (_ outputs: [UnsafeMutablePointer<Float>], _ inputs: [UnsafePointer<Float>]) -> R
  ) -> R {
    outputs.withUnsafeMutableBufferPointer { outputs in
      func borrowOutputs(_ i: Int, _ taken: [UnsafeMutablePointer<Float>]) -> R {
        guard i < outputs.count else { return borrowInputs(0, taken, []) }
        return outputs[i].withMutablePointer { borrowOutputs(i + 1, taken + [$0]) }
      }
      func borrowInputs(_ i: Int, _ written: [UnsafeMutablePointer<Float>], _ taken: [UnsafePointer<Float>]) -> R {
        guard i < inputs.count else { return body(written, taken) }
        return inputs[i].withPointer { borrowInputs(i + 1, written, taken + [$0]) }
      }
      return borrowOutputs(0, [])
    }
  }
}

extension Tensor {
  /// `withPointers(mutating:reading:_:)` with nothing to write.
  static func withPointers<R>(reading inputs: [Tensor], _ body: (_ inputs: [UnsafePointer<Float>]) -> R) -> R {
    var none: [Tensor] = []
    return withPointers(mutating: &none, reading: inputs) { body($1) }
  }
}
