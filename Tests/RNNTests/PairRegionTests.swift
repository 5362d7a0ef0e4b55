import CKernels
import Dispatch
import XCTest

/// The two-thread regions (`rnn_run_pair_stages`) behind batch-1 sampling and the short parallel
/// parts of a training step.
final class PairRegionTests: XCTestCase {
  private static let stages = 6

  /// One region's log, `[stages, 2]` each: how often each part of each stage ran, and whether it
  /// started before both parts of the stage before had run.
  private struct Log {
    let runs: UnsafeMutablePointer<Int>, early: UnsafeMutablePointer<Int>
  }

  private static let logPart: rnn_stage_fn = { context, stage, part in
    let log = context!.assumingMemoryBound(to: Log.self).pointee
    let (s, p) = (Int(stage), Int(part))
    if s > 0 && (log.runs[2 * s - 2] != 1 || log.runs[2 * s - 1] != 1) { log.early[2 * s + p] += 1 }
    log.runs[2 * s + p] += 1
  }

  /// A one-stage region whose part 0 runs a whole region of `logPart` inside it (inline).
  private static let nestRegion: rnn_stage_fn = { context, _, part in
    if part == 0 { rnn_run_pair_stages(logPart, context, Int32(stages)) }
  }

  /// Every part of every stage runs exactly once, and no stage starts before both parts of the one
  /// before have finished: with regions started from two threads at once, and nested.
  func testEveryPartRunsOnceAfterTheStageBefore() {
    let size = 2 * Self.stages
    nonisolated(unsafe) let mistakes = UnsafeMutablePointer<Int>.allocate(capacity: 2)  // one slot per caller
    mistakes.initialize(repeating: 0, count: 2)
    defer { mistakes.deallocate() }
    DispatchQueue.concurrentPerform(iterations: 2) { caller in
      var log = Log(runs: .allocate(capacity: size), early: .allocate(capacity: size))
      defer {
        log.runs.deallocate()
        log.early.deallocate()
      }
      for region in 0..<500 {
        log.runs.initialize(repeating: 0, count: size)
        log.early.initialize(repeating: 0, count: size)
        withUnsafeMutablePointer(to: &log) { log in
          if region % 10 == 9 {
            rnn_run_pair_stages(Self.nestRegion, log, 1)
          } else {
            rnn_run_pair_stages(Self.logPart, log, Int32(Self.stages))
          }
        }
        mistakes[caller] += (0..<size).filter { log.runs[$0] != 1 || log.early[$0] != 0 }.count
      }
    }
    XCTAssertEqual(mistakes[0] + mistakes[1], 0, "parts that ran other than once, or before the stage before was done")
  }
}
