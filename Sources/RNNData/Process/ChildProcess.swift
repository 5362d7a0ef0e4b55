import CProcess
import Foundation

/// A program run as a filter, the one way swift-rnn runs other programs (gzip, pip, tar, python3,
/// the PNG renderer): its input goes in through a pipe and its output and errors come back
/// through pipes, so nothing is left in temporary files, and it is killed when this process ends,
/// however it ends (`PR_SET_PDEATHSIG`, which Foundation's `Process` cannot set). The C shim
/// `CProcess` does the fork and exec.
public struct ChildProcess: Sendable {
  /// What one run did.
  public struct Result: Sendable {
    /// The exit status, or nil when a signal ended it.
    public var exitStatus: Int32?
    /// Its standard output (at most the run's `outputLimit` bytes).
    public var output: [UInt8]
    /// Its standard error (the first 64 KiB).
    public var errors: String
    /// Whether it wrote more than the limit and was killed for it.
    public var overflowed: Bool

    /// How it ended, for messages: "exit status N" or "killed by a signal".
    public var ending: String { exitStatus.map { "exit status \($0)" } ?? "killed by a signal" }
  }

  /// The program's path.
  public let path: String

  public init(path: String) { self.path = path }

  /// The first of `names` found as an executable regular file in the folders of `searchPath`
  /// (a `PATH`: folders separated by colons), or nil.
  public init?(firstOf names: [String], searchPath: String) {
    let folders = searchPath.split(separator: ":")
    let found = names.lazy.compactMap { name in
      folders.lazy.map { "\($0)/\(name)" }.first { path in
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
      }
    }.first
    guard let found else { return nil }
    path = found
  }

  /// The program's file name.
  public var name: String { (path as NSString).lastPathComponent }

  /// Runs the program with `arguments` and `environment` (nil: this process's), `input` on its
  /// standard input, and waits for it; keeps at most `outputLimit` bytes of its output.
  public func run(
    _ arguments: [String], input: [UInt8] = [], outputLimit: Int = .max, environment: [String: String]? = nil
  ) throws(ChildProcessError) -> Result {
    let argv = ([name] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
    defer { for pointer in argv + (envp ?? []) { free(pointer) } }
    var result = rnn_filter_result()
    let code = input.withUnsafeBytes { bytes in
      rnn_run_filter(path, argv, envp, bytes.baseAddress, bytes.count, outputLimit, &result)
    }
    guard code == 0 else { throw .cannotStart(path: path, reason: String(cString: strerror(code))) }
    defer { rnn_filter_result_free(&result) }
    let status = result.status
    return Result(
      exitStatus: status & 0x7f == 0 ? (status >> 8) & 0xff : nil,
      output: result.output_length > 0
        ? Array(UnsafeBufferPointer(start: result.output, count: result.output_length)) : [],
      errors: result.errors_length > 0
        ? String(decoding: UnsafeBufferPointer(start: result.errors, count: result.errors_length), as: UTF8.self) : "",
      overflowed: result.output_overflowed != 0)
  }
}

/// Why a child process did not run.
public enum ChildProcessError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The program at `path` could not be started (`reason`: the system's, e.g. "No such file or directory").
  case cannotStart(path: String, reason: String)

  public var description: String {
    switch self {
    case .cannotStart(let path, let reason): "cannot run \(path): \(reason)"
    }
  }
}
