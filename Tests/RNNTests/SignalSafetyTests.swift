import Foundation
import Synchronization
import XCTest

@testable import RNN

/// Signals handled while matrix products run. oneDNN's generated sgemm kernels point `rsp` into
/// their heap workspace, so a handler that ran during one pushed its frame into the heap and
/// corrupted it: Ctrl-C aborted `rnn train` in 20-50% of tries. Products now hold signals back
/// (`Sources/CKernels/blas.c`); these tests fail (the test process aborts, or a run exits 134)
/// when they do not.
final class SignalSafetyTests: CommandLineTestCase {
  override var commandTimeout: Double { 60 }

  /// Sends `signal` to `command` `delay` seconds after its output first contains `marker`, and
  /// returns what it did (a run still going 30 s after it started is terminated).
  private func interrupt(_ command: RunningCommand, once marker: String, delay: Double = 0, with signal: Int32) throws
    -> CommandResult
  {
    let deadline = Date().addingTimeInterval(30)
    while command.process.isRunning, Date() < deadline, !command.stdoutSoFar.contains(marker) { usleep(2_000) }
    usleep(UInt32(delay * 1e6))
    kill(command.process.processIdentifier, signal)
    while command.process.isRunning, Date() < deadline { usleep(5_000) }
    if command.process.isRunning { command.process.terminate() }
    return try finishCommand(command)
  }

  /// A thread sends a signal to the computing thread every few microseconds, with a handler
  /// installed, while it runs 1,500 products of the shape of one LSTM time step ([16, 512] x
  /// [512, 2048]): every result equals the one computed without signals, the heap stays intact
  /// (each result is a fresh allocation, freed after its comparison), and the handler ran.
  func testProductsUnderASignalStormStayExact() throws {
    BLAS.configure()
    let (m, n, k) = (16, 2048, 512)
    let a = (0..<m * k).map { Float(($0 * 7919) % 97) / 97 }
    let b = (0..<k * n).map { Float(($0 * 104_729) % 89) / 89 }
    var reference = [Float](repeating: 0, count: m * n)
    BLAS.gemm(false, false, m, n, k, a, b, beta: 0, &reference)

    handledSignals.store(0, ordering: .relaxed)
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in handledSignals.add(1, ordering: .relaxed) }
    action.sa_flags = SA_RESTART
    var previous = sigaction()
    sigaction(SIGUSR1, &action, &previous)
    defer { sigaction(SIGUSR1, &previous, nil) }

    let target = pthread_self()
    let stop = Atomic<Bool>(false)
    let sender = Thread {
      while !stop.load(ordering: .relaxed) {
        pthread_kill(target, SIGUSR1)
        usleep(20)
      }
    }
    sender.start()
    var mismatches = 0
    for _ in 0..<1_500 {
      var c = [Float](repeating: .nan, count: m * n)
      BLAS.gemm(false, false, m, n, k, a, b, beta: 0, &c)
      if c != reference { mismatches += 1 }
    }
    stop.store(true, ordering: .relaxed)
    while !sender.isFinished { usleep(100) }
    XCTAssertEqual(mismatches, 0, "products that differ from the one computed without signals")
    XCTAssertGreaterThan(handledSignals.load(ordering: .relaxed), 100, "the storm did not reach the handler")
  }

  /// The reproduction from the issue, shortened: SIGINT at spread-out moments of eight runs of a
  /// 2 x 64 LSTM, with the default matrix-product library. Each run exits with 130 (not an abort
  /// on a corrupted heap) and leaves a `latest.safetensors` that loads.
  func testSIGINTAtAnyMomentExits130() throws {
    let data = try write("text.txt", SentenceText(length: 30_000, seed: 3).text)
    for run in 0..<8 {
      let dir = "run\(run)"
      let command = try startRNN([
        "train", "--data", data, "--checkpoint-dir", dir, "--layers", "2", "--hidden", "64", "--embedding", "16",
        "--seq-length", "50", "--batch-size", "32", "--eval-every", "100000", "--checkpoint-every", "2",
        "--print-every", "1", "--sample-length", "0",
      ])
      // 0.05 to 0.7 s into training
      let result = try interrupt(command, once: "\nstep ", delay: 0.05 + 0.09 * Double(run), with: SIGINT)
      XCTAssertFalse(result.signaled, "run \(run): \(result.transcript)")
      XCTAssertEqual(result.status, 130, "run \(run): \(result.transcript)")
      XCTAssertNoThrow(try Checkpoint(contentsOf: folder + "/\(dir)/latest.safetensors"), "run \(run)")
    }
  }

  /// A closed terminal (SIGHUP) stops training as SIGTERM does: saved, exit status 129.
  func testSIGHUPSavesAndExits129() throws {
    let data = try write("text.txt", SentenceText(length: 4_000, seed: 5).text)
    let command = try startRNN([
      "train", "--data", data, "--checkpoint-dir", "hup", "--layers", "1", "--hidden", "16", "--embedding", "8",
      "--seq-length", "10", "--batch-size", "4", "--max-steps", "1000000", "--eval-every", "1000000",
      "--checkpoint-every", "1000000", "--print-every", "5", "--sample-length", "0", "--threads", "1",
    ])
    let result = try interrupt(command, once: "\nstep ", with: SIGHUP)
    XCTAssertFalse(result.signaled, result.transcript)
    XCTAssertEqual(result.status, 129, result.transcript)
    XCTAssertTrue(result.stdout.contains("Stopped by SIGHUP after step "), result.transcript)
    XCTAssertNoThrow(try Checkpoint(contentsOf: folder + "/hup/latest.safetensors"))
  }

  /// SIGINT while the validation sample is being written (up to 100,000 characters): the sample
  /// ends where it got to, the run saves and exits with 130 at once.
  func testSIGINTDuringTheValidationSampleCutsItShort() throws {
    let data = try write("text.txt", SentenceText(length: 4_000, seed: 5).text)
    let command = try startRNN([
      "train", "--data", data, "--checkpoint-dir", "sampling", "--layers", "2", "--hidden", "64", "--embedding", "8",
      "--seq-length", "10", "--batch-size", "4", "--max-steps", "1000", "--eval-every", "1", "--val-fraction", "0.1",
      "--test-fraction", "0", "--sample-length", "100000", "--threads", "1",
    ])
    let result = try interrupt(command, once: "validation loss", with: SIGINT)
    XCTAssertEqual(result.status, 130, result.transcript)
    XCTAssertTrue(result.stdout.contains("Stopped by SIGINT after step 1:"), result.transcript)
    let sample = try Data(contentsOf: URL(fileURLWithPath: folder + "/sampling/samples/step-1.txt"))
    XCTAssertLessThan(sample.count, 100_000, "the sample ran to its full length")
  }
}


/// Signals the storm's handler has run for.
private let handledSignals = Atomic<Int>(0)