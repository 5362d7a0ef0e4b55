#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A learning rate by update, as PyTorch's schedulers give it: `schedule(k)` is the rate of update
/// `k` (from 0), the value of `optimizer.param_groups[0]["lr"]` after `k` calls of
/// `scheduler.step()`.
///
///     let schedule = LearningRateSchedule.cosine(2e-3, total: 10_000).warmup(steps: 500)
///     for k in 0..<10_500 { optimizer.minimize(parameters, learningRate: schedule(k)) { ... } }
public struct LearningRateSchedule: Sendable {
  private let rate: @Sendable (Int) -> Float

  private init(_ rate: @escaping @Sendable (Int) -> Float) { self.rate = rate }

  /// The rate of update `k` (from 0).
  public func callAsFunction(_ k: Int) -> Float { rate(max(k, 0)) }

  /// The same rate throughout.
  public static func constant(_ rate: Float) -> Self { Self { _ in rate } }

  /// `StepLR`: `rate * gamma^(k / every)`.
  public static func step(_ rate: Float, every: Int, gamma: Float) -> Self {
    require(every > 0, "a step schedule needs every > 0, got \(every)")
    return Self { k in rate * Float(pow(Double(gamma), Double(k / every))) }
  }

  /// `MultiStepLR`: `rate`, multiplied by `gamma` at each of `milestones` (updates, ascending).
  public static func milestones(_ rate: Float, at milestones: [Int], gamma: Float) -> Self {
    Self { k in milestones.reduce(rate) { k >= $1 ? $0 * gamma : $0 } }
  }

  /// `CosineAnnealingLR`: from `rate` down to `minimum` along half a cosine over `total` updates,
  /// `minimum + (rate - minimum) * (1 + cos(pi * k / total)) / 2` (which rises again after).
  public static func cosine(_ rate: Float, total: Int, minimum: Float = 0) -> Self {
    require(total > 0, "a cosine schedule needs total > 0, got \(total)")
    return Self { k in
      minimum + (rate - minimum) * Float((1 + cos(Double.pi * Double(k) / Double(total))) / 2)
    }
  }

  /// This schedule after a linear warm-up of `steps` updates from `start` times its first rate
  /// (`SequentialLR` of `LinearLR(start_factor: start, total_iters: steps)` and this, with the
  /// milestone at `steps`): update `steps` gets this schedule's rate of update 0.
  public func warmup(steps: Int, start: Float = 0.25) -> Self {
    require(steps > 0, "a warm-up needs steps > 0, got \(steps)")
    let after = rate
    let first = after(0)
    return Self { k in
      k < steps ? first * (start + (1 - start) * Float(k) / Float(steps)) : after(k - steps)
    }
  }
}
