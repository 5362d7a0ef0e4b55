import Foundation
import XCTest

@testable import RNN

/// The base of the tests that run `rnn` under Open MPI's `mpirun` (skipped, with the reason, where
/// it is not installed). It has no tests of its own.
class MPIRunTestCase: CommandLineTestCase {
  /// `mpirun` found on PATH.
  private(set) var mpirun: URL!

  override func setUpWithError() throws {
    try super.setUpWithError()
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let found = path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
      .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    guard let found else {
      throw XCTSkip("mpirun is not installed (Debian: apt-get install openmpi-bin libopenmpi-dev)")
    }
    mpirun = found
  }

  /// The `mpirun` arguments that start `rnn arguments` as `ranks` ranks on this machine (as root
  /// too, with more ranks than cores, and with shared memory that does not need ptrace rights,
  /// which containers often withhold), followed by `options` for mpirun. Under AddressSanitizer
  /// the ranks do not check for leaks: Open MPI's plugins leak and are unloaded before
  /// LeakSanitizer reports, so it can neither name nor suppress them (runs alone keep the check).
  func mpirunArguments(ranks: Int, _ arguments: [String], options: [String] = []) -> [String] {
    [
      "--allow-run-as-root", "--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none", "-np",
      String(ranks),
    ] + (underAddressSanitizer ? ["-x", "ASAN_OPTIONS=detect_leaks=0"] : []) + options + [executable.path]
      + arguments
  }

  /// Runs `rnn arguments` as `ranks` ranks in the test folder.
  func mpirunRNN(
    ranks: Int, _ arguments: [String], options: [String] = [], file: StaticString = #filePath, line: UInt = #line
  ) throws -> CommandResult {
    try runCommand(
      mpirun, mpirunArguments(ranks: ranks, arguments, options: options), in: folder, timeout: commandTimeout,
      file: file, line: line)
  }

  /// Starts `rnn arguments` as `ranks` ranks in the test folder without waiting.
  func startMPIRunRNN(ranks: Int, _ arguments: [String], options: [String] = []) throws -> RunningCommand {
    try startCommand(mpirun, mpirunArguments(ranks: ranks, arguments, options: options), in: folder)
  }

  /// The JSON object of a `rnn bench --json` run (its last line that is one), which must succeed.
  func benchJSON(_ result: CommandResult, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    XCTAssertEqual(result.status, 0, result.transcript, file: file, line: line)
    let json = try XCTUnwrap(
      result.stdout.split(separator: "\n").last { $0.hasPrefix("{") }, result.transcript, file: file, line: line)
    return try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], result.transcript, file: file, line: line)
  }

  /// The largest absolute difference between the parameters of two checkpoints of one model.
  func largestDifference(_ a: String, _ b: String) throws -> Float {
    let (x, y) = (
      try Checkpoint(contentsOf: folder + "/" + a).model, try Checkpoint(contentsOf: folder + "/" + b).model
    )
    XCTAssertEqual(x.parameters.count, y.parameters.count)
    return largestDifference(x.parameters.values, y.parameters.values)
  }

  /// The largest absolute difference between elements in the same places of `x` and `y`.
  private func largestDifference(_ x: some Sequence<Float>, _ y: some Sequence<Float>) -> Float {
    zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
  }

  /// The largest absolute difference between the optimizer buffers saved beside checkpoints `a`
  /// and `b` (paths under `folder`), which must be of the same optimizer and model.
  func largestOptimizerDifference(_ a: String, _ b: String) throws -> Float {
    func buffers(_ path: String) throws -> [String: [Float]] {
      let full = folder + "/" + path
      return try TrainingState(besides: Checkpoint(contentsOf: full), at: full).optimizer.buffers
    }
    let (x, y) = (try buffers(a), try buffers(b))
    XCTAssertEqual(Set(x.keys), Set(y.keys))
    return x.keys.map { largestDifference(x[$0]!, y[$0] ?? []) }.max() ?? 0
  }

  /// The ids of the processes whose parent is `parent` (from /proc).
  func children(of parent: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return false }
      // "pid (name) state ppid ...": the name may hold spaces, so read after its closing parenthesis.
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      return fields.count > 1 && Int32(fields[1]) == parent
    }.sorted()
  }
}
