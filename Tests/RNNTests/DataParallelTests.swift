import Foundation
import XCTest

@testable import RNN

/// `rnn train` under `mpirun`: N ranks train the same model as one process, checkpoints move
/// between any numbers of ranks, and a batch the ranks cannot share is refused.
final class DataParallelTests: MPIRunTestCase {
  /// A small model with dropout (so the ranks must reproduce the whole batch's masks), validation
  /// and test text (scored in shares), and a save at step 20.
  private func arguments(_ folder: String, steps: Int, resume: Bool = false) -> [String] {
    [
      "train", "--data", "text.txt", "--batch-size", "8", "--max-steps", String(steps), "--seed", "3", "--threads", "1",
      "--layers", "2", "--hidden", "32", "--embedding", "16", "--seq-length", "20", "--dropout", "0.3",
      "--eval-every", "20", "--print-every", "10", "--sample-length", "0", "--checkpoint-dir", folder,
    ] + (resume ? ["--resume", folder + "/latest.safetensors"] : [])
  }

  func testTwoAndFourRanksTrainAsOneProcess() throws {
    try write("text.txt", SentenceText(length: 12_000, seed: 5).text)
    let alone = try rnnSucceeding(arguments("one", steps: 40))
    for ranks in [2, 4] {
      let result = try mpirunRNN(ranks: ranks, arguments("ranks\(ranks)", steps: 40))
      XCTAssertEqual(result.status, 0, result.transcript)
      XCTAssertLessThanOrEqual(
        try largestDifference("one/latest.safetensors", "ranks\(ranks)/latest.safetensors"), 1e-4)
      // Each rank updates its part of the optimizer's buffers; the checkpoint has them whole.
      XCTAssertLessThanOrEqual(
        try largestOptimizerDifference("one/latest.safetensors", "ranks\(ranks)/latest.safetensors"), 1e-5)
      // Validation, split across the ranks, gives the one-process losses; rank 0 alone prints them.
      XCTAssertEqual(result.validationLosses.map(\.step), alone.validationLosses.map(\.step), result.transcript)
      for (a, b) in zip(result.validationLosses, alone.validationLosses) {
        XCTAssertEqual(a.loss, b.loss, accuracy: 2e-4)
      }
      let metrics = try String(contentsOfFile: folder + "/ranks\(ranks)/metrics.jsonl", encoding: .utf8)
      XCTAssertEqual(
        metrics.split(separator: "\n").count,
        try String(contentsOfFile: folder + "/one/metrics.jsonl", encoding: .utf8).split(separator: "\n").count)
      // Progress lines carry rank 0's allreduce seconds per step and, of them, its wait; alone, neither.
      let lines = try progressLines(in: "ranks\(ranks)")
      XCTAssertEqual(lines.count, 4)
      for line in lines {
        let allreduce = try XCTUnwrap(line["allreduce_s"] as? Double, "\(line)")
        let waiting = try XCTUnwrap(line["allreduce_wait_s"] as? Double, "\(line)")
        XCTAssert(
          allreduce > 0 && waiting >= 0 && waiting <= allreduce, "allreduce \(allreduce) s, waiting \(waiting) s")
      }
      XCTAssert(try progressLines(in: "one").allSatisfy { $0["allreduce_s"] == nil && $0["allreduce_wait_s"] == nil })
    }
  }

  /// Clipping by value and by norm, each rank clamping its part and the norm taken over the parts
  /// (`SharedUpdate`): the same update as one process's, with clips small enough that both act.
  func testClippedGradientsTrainAsOneProcess() throws {
    try write("text.txt", SentenceText(length: 12_000, seed: 5).text)
    let clips = ["--grad-clip", "0.05", "--grad-clip-value", "0.002"]
    try rnnSucceeding(arguments("one", steps: 30) + clips)
    let result = try mpirunRNN(ranks: 2, arguments("ranks", steps: 30) + clips)
    XCTAssertEqual(result.status, 0, result.transcript)
    XCTAssertLessThanOrEqual(try largestDifference("one/latest.safetensors", "ranks/latest.safetensors"), 1e-4)
    // Clipped, the run differs from one that is not.
    try rnnSucceeding(arguments("unclipped", steps: 30))
    XCTAssertGreaterThan(try largestDifference("one/latest.safetensors", "unclipped/latest.safetensors"), 1e-3)
  }

  func testACheckpointResumesWithAnotherNumberOfRanks() throws {
    try write("text.txt", SentenceText(length: 12_000, seed: 5).text)
    try rnnSucceeding(arguments("one", steps: 40))
    // 20 steps on two ranks, 20 more on four, then 20 more alone: the run of 40 steps alone.
    XCTAssertEqual(try mpirunRNN(ranks: 2, arguments("mixed", steps: 20)).status, 0)
    let four = try mpirunRNN(ranks: 4, arguments("mixed", steps: 40, resume: true))
    XCTAssertEqual(four.status, 0, four.transcript)
    XCTAssertTrue(four.stdout.contains("Resuming mixed/latest.safetensors at step 20"), four.transcript)
    XCTAssertLessThanOrEqual(try largestDifference("one/latest.safetensors", "mixed/latest.safetensors"), 1e-4)
    try rnnSucceeding(arguments("one", steps: 60, resume: true))
    try rnnSucceeding(arguments("mixed", steps: 60, resume: true))
    XCTAssertLessThanOrEqual(try largestDifference("one/latest.safetensors", "mixed/latest.safetensors"), 1e-4)
  }

  /// The progress lines (those with `train_loss`) of a run's metrics log.
  private func progressLines(in run: String) throws -> [[String: Any]] {
    try String(contentsOfFile: folder + "/\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
      try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }.filter { $0["train_loss"] != nil }
  }

  /// The `streams` of each progress line of a run's metrics log.
  private func streams(in run: String) throws -> [[Int]] {
    try progressLines(in: run).compactMap { $0["streams"] as? [Int] }
  }

  func testARankSlowedByAnotherProgramTrainsFewerStreamsAndTheModelStaysTheSame() throws {
    guard ProcessInfo.processInfo.activeProcessorCount >= 2 else { throw XCTSkip("needs two cores") }
    try write("text.txt", SentenceText(length: 40_000, seed: 6).text)
    let arguments = [
      "train", "--data", "text.txt", "--batch-size", "16", "--max-steps", "60", "--seed", "5", "--threads", "1",
      "--layers", "2", "--hidden", "128", "--seq-length", "20", "--dropout", "0.2", "--eval-every", "1000",
      "--print-every", "10", "--sample-length", "0",
    ]
    try rnnSucceeding(arguments + ["--checkpoint-dir", "one"])
    let result = try mpirunWithRankOneSlowed(arguments + ["--checkpoint-dir", "ranks"])
    XCTAssertEqual(result.status, 0, result.transcript)
    let shares = try streams(in: "ranks")
    XCTAssertEqual(shares.count, 6, result.transcript)
    XCTAssertTrue(
      shares.allSatisfy { $0.count == 2 && $0.reduce(0, +) == 16 && $0.allSatisfy { $0 >= 1 } }, "\(shares)")
    // Rank 0's share after the first report, in the median: a burst of other work on rank 0's core
    // may even the shares out for a while, but not for most of the run.
    let later = shares.dropFirst().map { $0[0] }.sorted()
    XCTAssertGreaterThan(later[later.count / 2], 8, "rank 1, slowed, kept its streams: \(shares)")
    // Streams that moved took their carried state and dropout masks along: the run of one process.
    XCTAssertLessThanOrEqual(try largestDifference("one/latest.safetensors", "ranks/latest.safetensors"), 1e-4)
  }

  /// Runs `rnn arguments` as two ranks, rank 1 on core 1, which it shares with a busy loop, so that
  /// it works at about half the speed of rank 0.
  private func mpirunWithRankOneSlowed(_ arguments: [String]) throws -> CommandResult {
    let taskset = URL(fileURLWithPath: "/usr/bin/taskset")
    let busy = try startCommand(taskset, ["-c", "1", "/bin/sh", "-c", "while :; do :; done"], in: folder)
    defer {
      busy.process.terminate()
      _ = try? finishCommand(busy)
    }
    return try runCommand(
      mpirun,
      mpirunArguments(ranks: 1, arguments, options: ["--bind-to", "none"])
        + [":", "-np", "1"] + (underAddressSanitizer ? ["-x", "ASAN_OPTIONS=detect_leaks=0"] : [])
        + [taskset.path, "-c", "1", executable.path] + arguments,
      in: folder, timeout: commandTimeout)
  }

  /// With equal shares the ranks sum in the same order at every step, so runs repeat bit for bit,
  /// whichever rank makes which block of the shared product: the third run's rank 1 is slowed, so
  /// that rank 0 makes part of rank 1's product (its bench counts the blocks).
  func testEvenSharesRepeatBitForBitWhoeverMakesTheSharedProduct() throws {
    guard ProcessInfo.processInfo.activeProcessorCount >= 2 else { throw XCTSkip("needs two cores") }
    try write("text.txt", SentenceText(length: 12_000, seed: 5).text)
    for run in ["first", "second", "slowed"] {
      let arguments = arguments(run, steps: 20) + ["--even-shares"]
      let result = try run == "slowed" ? mpirunWithRankOneSlowed(arguments) : mpirunRNN(ranks: 2, arguments)
      XCTAssertEqual(result.status, 0, result.transcript)
      XCTAssertEqual(try streams(in: run), Array(repeating: [4, 4], count: 2))
    }
    XCTAssertEqual(try largestDifference("first/latest.safetensors", "second/latest.safetensors"), 0)
    XCTAssertEqual(try largestDifference("first/latest.safetensors", "slowed/latest.safetensors"), 0)
    let bench = try mpirunWithRankOneSlowed([
      "bench", "--layers", "2", "--hidden", "32", "--embedding", "16", "--seq-length", "20", "--batch-size", "8",
      "--even-shares", "--seconds", "0.5", "--threads", "1", "--json",
    ])
    let json = try benchJSON(bench)
    XCTAssertEqual(json["shared_product"] as? Bool, true)
    XCTAssertGreaterThan(try XCTUnwrap(json["shared_product_blocks_helped_per_step"] as? Double), 0)
  }

  func testABatchTheRanksCannotShareIsRefusedInOneLine() throws {
    try write("text.txt", SentenceText(length: 12_000, seed: 5).text)
    let result = try mpirunRNN(ranks: 3, arguments("three", steps: 40))
    XCTAssertNotEqual(result.status, 0, result.transcript)
    let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("Error: ") }
    XCTAssertEqual(
      errors,
      [
        "Error: --batch-size 8 does not divide among 3 ranks: each rank trains batch-size / ranks streams; use a multiple of 3"
      ], result.transcript)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/three"), "a refused run created its folder")
  }

  func testStartedByMPIRunWithoutAUsableMPIIsRefusedInOneLine() throws {
    try write("text.txt", SentenceText(length: 12_000, seed: 5).text)
    let launched = ["OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=0"]
    // No such library, and a library that is not an MPI (libm).
    for (library, reason) in [("/nonexistent/libmpi.so.40", "cannot load"), ("libm.so.6", "lacks MPI functions")] {
      let result = try runCommand(
        URL(fileURLWithPath: "/usr/bin/env"),
        launched + ["RNN_MPI_LIBRARY=\(library)", executable.path] + arguments("none", steps: 1), in: folder)
      assertCleanFailure(result, mentioning: ["started by mpirun but cannot use MPI", reason])
    }
  }

  func testAnUnknownGradientSumIsRefusedInOneLine() throws {
    try write("text.txt", SentenceText(length: 12_000, seed: 5).text)
    let result = try runCommand(
      URL(fileURLWithPath: "/usr/bin/env"),
      ["OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=0", "RNN_GRADIENT_SUM=ring", executable.path]
        + arguments("none", steps: 1), in: folder)
    assertCleanFailure(result, mentioning: ["RNN_GRADIENT_SUM must be shared or allreduce, not ring"])
  }

  func testBenchReportsRanksAndAllreduceTime() throws {
    // Both ranks on this machine: the gradients are summed in the memory they share, the bottom
    // layer's W_hh gradient made there together and the update made once, unless told.
    for (setting, gradientSum, shared) in [(nil, "shared memory", true), ("allreduce", "MPI_Allreduce", false)] {
      let (json, result) = try twoRankBench(
        ["--layers", "1", "--hidden", "32"], options: setting.map { ["-x", "RNN_GRADIENT_SUM=\($0)"] } ?? [])
      XCTAssertEqual(json["gradient_sum"] as? String, gradientSum)
      XCTAssertEqual(json["shared_product"] as? Bool, shared)
      XCTAssertEqual(json["shared_update"] as? Bool, shared)
      try checkRanksAndAllreduceTime(json, result)
    }
  }

  /// A window that would not fit where Open MPI keeps it (a container's small /dev/shm, here a
  /// 1 MiB tmpfs named by `osc_sm_backing_directory`) is not made: the gradients go through
  /// MPI_Allreduce instead of a write past the room, which would end the rank (SIGBUS). Gradients
  /// that fit there still go through it, and so do the shared update and a shared product where
  /// the parameters' copy and the operands fit too; where they do not, each rank makes its own.
  /// Skipped where a tmpfs cannot be mounted (not root).
  func testGradientsThatDoNotFitInSharedMemoryAreSummedByAllreduce() throws {
    let small = folder + "/small-shm"
    try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
    let mount = try runCommand(
      URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small], in: folder)
    guard mount.status == 0 else { throw XCTSkip("cannot mount a tmpfs here: \(mount.stderr)") }
    defer { _ = try? runCommand(URL(fileURLWithPath: "/bin/umount"), [small], in: folder) }
    // 2 x 256: 4.5 MB of gradients a rank. 1 x 32: 35 KB, and 26 KB of a shared product's operands
    // (T*B rows of 4H + H floats). 1 x 64 at T = 100: 0.17 MB of gradients, 0.5 MB of operands.
    // 1 x 96: 0.36 MB of gradients a rank, and no room left for the 0.36 MB copy of the parameters.
    let shapes = [
      (["--layers", "2", "--hidden", "256"], "MPI_Allreduce", false, false),
      (["--layers", "1", "--hidden", "32"], "shared memory", true, true),
      (["--layers", "1", "--hidden", "64", "--seq-length", "100"], "shared memory", false, true),
      (["--layers", "1", "--hidden", "96"], "shared memory", true, false),
    ]
    for (shape, gradientSum, product, update) in shapes {
      let (json, _) = try twoRankBench(shape, options: ["--mca", "osc_sm_backing_directory", small])
      XCTAssertEqual(json["gradient_sum"] as? String, gradientSum, shape.joined(separator: " "))
      XCTAssertEqual(json["shared_product"] as? Bool, product, shape.joined(separator: " "))
      XCTAssertEqual(json["shared_update"] as? Bool, update, shape.joined(separator: " "))
    }
  }

  /// `rnn bench --json` of a model of `shape` (short sequences, batch 4, unless `shape` says
  /// otherwise) as two ranks, which must succeed: its JSON object, and the run.
  private func twoRankBench(_ shape: [String], options: [String]) throws -> ([String: Any], CommandResult) {
    let result = try mpirunRNN(
      ranks: 2,
      ["bench", "--seq-length", "10", "--batch-size", "4"] + shape + ["--seconds", "0.2", "--threads", "1", "--json"],
      options: options)
    return (try benchJSON(result), result)
  }

  /// The ranks, streams and allreduce times of a two-rank `bench --json` (`result`'s `json`).
  private func checkRanksAndAllreduceTime(_ json: [String: Any], _ result: CommandResult) throws {
    XCTAssertEqual(json["ranks"] as? Int, 2)
    let streams = try XCTUnwrap(json["streams"] as? [Int])
    XCTAssert(streams.count == 2 && streams.reduce(0, +) == 4 && streams.allSatisfy { $0 >= 1 }, "\(streams)")
    let perStep = try XCTUnwrap(json["allreduce_s_per_step"] as? Double)
    XCTAssertGreaterThan(perStep, 0)
    let step = try XCTUnwrap(json["train_step_s_median"] as? Double)
    let allreduce = try XCTUnwrap(json["allreduce_s_median"] as? Double)
    XCTAssert(allreduce > 0 && allreduce < step, "a step's median \(step) s, its allreduce's \(allreduce) s")
    let waiting = try XCTUnwrap(json["allreduce_wait_s_per_step"] as? Double)
    XCTAssert(waiting >= 0 && waiting < perStep, "waiting \(waiting) s of an allreduce of \(perStep) s a step")
    XCTAssertEqual(result.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }.count, 1, "rank 1 printed too")
  }
}
