import CProcess
import Foundation

/// A helper program run as a filter (the PNG renderer of `rnn plot`): its input goes in through a
/// pipe and its output comes back through one, so nothing is left in temporary files, and it is
/// killed when `rnn` ends, however `rnn` ends.
struct HelperProgram {
  /// What one run did.
  struct Run {
    /// The exit status, or nil when a signal ended it.
    var exitStatus: Int32?
    var output: [UInt8]
    /// Its standard error (the first 64 KiB).
    var errors: String
    /// Whether it wrote more than the limit and was killed for it.
    var overflowed: Bool
  }

  /// The program's path.
  let path: String

  /// The first of `names` found as an executable on the `PATH`, or nil.
  init?(firstOf names: [String], environment: [String: String] = ProcessInfo.processInfo.environment) {
    let folders = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
    let found = names.lazy.compactMap { name in
      folders.lazy.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }.first
    guard let found else { return nil }
    path = found
  }

  /// The program's file name.
  var name: String { (path as NSString).lastPathComponent }

  /// Runs the program with `arguments`, `input` on its standard input; keeps at most
  /// `outputLimit` bytes of its output. Throws a `Failure` when it cannot be started.
  func run(_ arguments: [String], input: [UInt8], outputLimit: Int) throws -> Run {
    let argv = ([name] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var result = rnn_filter_result()
    let code = input.withUnsafeBytes { bytes in
      rnn_run_filter(path, argv, bytes.baseAddress, bytes.count, outputLimit, &result)
    }
    guard code == 0 else { throw Failure("cannot run \(path): \(String(cString: strerror(code)))") }
    defer { rnn_filter_result_free(&result) }
    let status = result.status
    return Run(
      exitStatus: status & 0x7f == 0 ? (status >> 8) & 0xff : nil,
      output: result.output_length > 0 ? Array(UnsafeBufferPointer(start: result.output, count: result.output_length)) : [],
      errors: result.errors_length > 0
        ? String(decoding: UnsafeBufferPointer(start: result.errors, count: result.errors_length), as: UTF8.self) : "",
      overflowed: result.output_overflowed != 0)
  }
}
