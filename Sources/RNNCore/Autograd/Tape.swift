/// A value recorded on a `Tape`.
public struct Variable: Hashable, Sendable {
  /// Index of the value on its tape.
  public let id: Int
}

/// Records coarse operations (a whole recurrent layer, a linear map over all steps, a loss) as a
/// model runs forward, then runs their fused backward functions in reverse order, accumulating
/// gradients into the `Parameters` and into each recorded value. Models are written forward only.
///
/// A tape made with `recording: false` keeps no caches and cannot run backward (evaluation,
/// sampling). Its `backend` computes the losses, dropout and the sums of gradients recorded on it;
/// a model's own layers compute on their parameters' (`Parameters.backend`).
public final class Tape {
  /// Whether operations keep what their backward needs.
  public let isRecording: Bool
  /// What computes the tape's own operations.
  public let backend: any ComputeBackend
  private var values: [Tensor] = []
  private var gradients: [Tensor?] = []
  private var pullbacks: [() -> Void] = []

  public init(recording: Bool = true, backend: any ComputeBackend = CPUBackend()) {
    isRecording = recording
    self.backend = backend
  }

  /// Records a value that no operation produced (an input, an initial state).
  public func input(_ value: Tensor) -> Variable {
    values.append(value)
    gradients.append(nil)
    return Variable(id: values.count - 1)
  }

  /// The value of `variable`.
  public subscript(_ variable: Variable) -> Tensor { values[variable.id] }

  /// The gradient accumulated into `variable` by `backward`, or nil if none reached it.
  public func gradient(_ variable: Variable) -> Tensor? { gradients[variable.id] }

  /// Registers the backward of the operation just recorded; it runs during `backward`.
  public func onBackward(_ pullback: @escaping () -> Void) {
    if isRecording { pullbacks.append(pullback) }
  }

  /// Adds `gradient` into `variable`'s gradient.
  public func accumulate(_ gradient: Tensor, into variable: Variable) {
    require(gradient.shape == values[variable.id].shape, "gradient \(gradient.shape) for value \(values[variable.id].shape)")
    if gradients[variable.id] == nil {
      gradients[variable.id] = gradient
    } else {
      gradient.withPointer { g in
        gradients[variable.id]!.withMutablePointer { backend.add(gradient.count, $0, g) }
      }
    }
  }

  /// Runs every recorded backward, last first, from `d loss / d loss = seed`.
  public func backward(from loss: Variable, seed: Float = 1) {
    require(isRecording, "backward on a tape that did not record")
    accumulate(Tensor(shape: values[loss.id].shape, repeating: seed), into: loss)
    while let pullback = pullbacks.popLast() { pullback() }
  }
}
