import Foundation
import XCTest

@testable import RNN

/// Long loops through the library hold their memory steady: after a warm-up (buffers sized,
/// caches filled), thousands of sampling steps and hundreds of training steps leave the process's
/// anonymous resident memory (heap and stacks, from `/proc/self/status`) where it was, within a
/// small bound (a few hundred kilobytes: the allocator's own churn). A leak of a few dozen bytes
/// per sampling step, or of one small buffer per training step, exceeds it.
///
/// Under AddressSanitizer the measure means nothing (freed memory waits in its quarantine, so
/// every allocation of a step stays resident): the tests skip, and LeakSanitizer checks leaks.
final class LongRunMemoryTests: XCTestCase {
  override func setUpWithError() throws {
    try XCTSkipIf(underAddressSanitizer, "resident memory is not a leak measure under AddressSanitizer")
  }

  /// `RssAnon` of `/proc/self/status`: resident anonymous memory, in bytes.
  private func anonymousResidentBytes() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") }, status)
    let kilobytes = try XCTUnwrap(line.split(separator: " ").dropFirst().first.flatMap { Int($0) }, String(line))
    return kilobytes << 10
  }

  /// Runs `body` `warmUp` times, then `count` times, and checks that the anonymous resident memory
  /// grew by less than `bound` bytes over the second part.
  private func assertSteadyMemory(_ what: String, warmUp: Int, count: Int, bound: Int, _ body: () throws -> Void) throws
  {
    for _ in 0..<warmUp { try body() }
    let before = try anonymousResidentBytes()
    for _ in 0..<count { try body() }
    let growth = try anonymousResidentBytes() - before
    XCTAssertLessThan(growth, bound, "\(what): resident memory grew by \(growth) bytes over \(count) steps")
  }

  func testSamplingLoopDoesNotGrow() throws {
    var generator = RandomGenerator(seed: 3)
    let model = CharLM(
      CharLMConfig(cell: .lstm, layers: 2, hidden: 64, embedding: 16, vocabularySize: 40), using: &generator)
    let sampler = Sampler(model: model)
    sampler.feed([1, 2, 3])
    let options = SamplingOptions(temperature: 0.8, topK: 10)
    try assertSteadyMemory("sampling", warmUp: 1_000, count: 10_000, bound: 384 << 10) {
      _ = sampler.next(options, using: &generator)
    }
  }

  func testTrainingLoopDoesNotGrow() throws {
    var generator = RandomGenerator(seed: 4)
    let model = CharLM(
      CharLMConfig(cell: .gru, layers: 2, hidden: 48, embedding: 16, vocabularySize: 30, dropout: 0.1),
      using: &generator)
    let tokens = (0..<20_000).map { _ in Int32(generator.next() % 30) }
    var config = TrainConfig()
    config.batchSize = 8
    config.seqLength = 20
    let trainer = Trainer(
      model: model, batches: try BatchIterator(tokens: tokens, batchSize: 8, seqLength: 20), config: config)
    // 124 batches per epoch: the loop crosses epochs (and their learning-rate and state resets).
    try assertSteadyMemory("training", warmUp: 50, count: 1_000, bound: 1 << 20) {
      _ = try trainer.step()
    }
  }
}
