import CKernels
import Dispatch

/// Splits work across the threads configured with `BLAS.configure(threads:)`.
///
/// The matrix library itself runs single-threaded; parallelism is ours and coarse: a recurrent
/// layer's time loop runs each slice of the batch on its own core with no synchronisation
/// inside the loop, and large products are split by rows of their output. (An OpenMP BLAS
/// synchronising twice per time step collapses when the machine has other work.)
public enum Parallel {
  /// The number of parts work is split into.
  public static var width: Int { BLAS.threads }

  /// Whether, with two threads, a GRU's forward time loop shares every step by hidden units
  /// (`RecurrentLayer.unitParts`, the default) instead of giving each thread a slice of the
  /// batch. Tests switch it off to check that both ways agree.
  nonisolated(unsafe) static var timeStepsSharedByUnits = true

  /// Calls `body` with consecutive, near-equal ranges that cover `0..<count`, concurrently, one
  /// per thread (fewer if `count` is smaller). Two parts go to `pair` (a spinning helper, for
  /// the many short regions of a training step); more to Dispatch.
  @inlinable
  public static func split(_ count: Int, _ body: (Range<Int>) -> Void) {
    let parts = min(width, count)
    guard parts > 1 else {
      if count > 0 { body(0..<count) }
      return
    }
    if parts == 2 { return pair { body($0 == 0 ? 0..<count / 2 : count / 2..<count) } }
    withoutActuallyEscaping(body) { body in
      let box = UncheckedBox(body)
      DispatchQueue.concurrentPerform(iterations: parts) { part in
        box.value(count * part / parts..<count * (part + 1) / parts)
      }
    }
  }
}

extension Parallel {
  /// Calls `body(0)` on this thread and `body(1)` on a helper thread that spins between regions
  /// (handing work over costs well under a microsecond); returns when both are done. If the
  /// helper is not running (the machine is busy), this thread runs both.
  public static func pair(_ body: (Int) -> Void) {
    pairStages(1) { _, part in body(part) }
  }

  /// Runs `stages` stages of two parts, `body(stage, part)`, each as `pair` runs its two; a stage
  /// starts when both parts of the one before are done. For loops whose steps both threads
  /// share: a stage boundary costs a few cache-line transfers (`rnn_run_pair_stages`).
  public static func pairStages(_ stages: Int, _ body: (_ stage: Int, _ part: Int) -> Void) {
    guard stages > 0 else { return }
    withoutActuallyEscaping(body) { body in
      var task = body
      withUnsafeMutablePointer(to: &task) { task in
        rnn_run_pair_stages({ context, stage, part in
          context!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(Int(stage), Int(part))
        }, task, Int32(stages))
      }
    }
  }
}

/// Carries a value that is only read concurrently (a closure over disjoint slices) into
/// `concurrentPerform`.
@usableFromInline
struct UncheckedBox<Value>: @unchecked Sendable {
  @usableFromInline let value: Value
  @usableFromInline init(_ value: Value) { self.value = value }
}

extension Parallel {
  /// `sums[j] += sum over n of x[n, j]` for `x [N, M]`, columns split across threads.
  public static func addColumnSums(_ n: Int, _ m: Int, _ x: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>) {
    let x = UncheckedBox(x), sums = UncheckedBox(sums)
    split(m) { columns in
      rnn_add_column_sums(n, columns.count, x.value + columns.lowerBound, m, sums.value + columns.lowerBound)
    }
  }

  /// `dst[n, :] = a + b` for `N` rows of width `M`, rows split across threads (`b` may be nil).
  public static func fillRows(
    _ n: Int, _ m: Int, _ dst: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?
  ) {
    let dst = UncheckedBox(dst), a = UncheckedBox(a), b = UncheckedBox(b)
    split(n) { rows in rnn_fill_rows(rows.count, m, dst.value + rows.lowerBound * m, a.value, b.value) }
  }
}
