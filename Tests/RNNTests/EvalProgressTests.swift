import Foundation
import XCTest

/// `rnn eval` on a long text shows its progress on a terminal: a status line on standard error,
/// redrawn in place and erased at the end; into a pipe or file it writes nothing there.
final class EvalProgressTests: CommandLineTestCase {
  /// Runs `rnn arguments` with standard error on a new pseudo-terminal (standard output in a
  /// file); returns the exit status, what the terminal received and standard output.
  private func rnnWithTerminal(_ arguments: [String]) throws -> (status: Int32, terminal: String, stdout: String) {
    // Swift's Glibc module leaves out the pseudo-terminal functions (they need _XOPEN_SOURCE).
    typealias IntFunction = @convention(c) (Int32) -> Int32
    typealias NameFunction = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
    func libc<T>(_ name: String, _ type: T.Type) throws -> T {
      unsafeBitCast(try XCTUnwrap(dlsym(nil, name), "no \(name) in libc"), to: type)
    }
    let master = try libc("posix_openpt", IntFunction.self)(O_RDWR | O_NOCTTY)
    XCTAssertGreaterThanOrEqual(master, 0, "posix_openpt")
    defer { close(master) }
    XCTAssertEqual(try libc("grantpt", IntFunction.self)(master), 0)
    XCTAssertEqual(try libc("unlockpt", IntFunction.self)(master), 0)
    let name = try XCTUnwrap(try libc("ptsname", NameFunction.self)(master))
    let slave = open(String(cString: name), O_RDWR | O_NOCTTY)
    XCTAssertGreaterThanOrEqual(slave, 0, "open the terminal")

    let outPath = folder + "/.stdout"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    var environment = ProcessInfo.processInfo.environment
    environment["TERM"] = "xterm"
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardError = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
    try process.run()
    close(slave)  // the child holds the terminal; reading ends with EIO when it exits

    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
      if n > 0 { received += buffer[..<n] } else if n < 0 && errno == EINTR { continue } else { break }
    }
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: received, as: UTF8.self), try String(contentsOfFile: outPath, encoding: .utf8))
  }

  func testLongEvaluationShowsProgressOnlyOnATerminal() throws {
    let text = String(repeating: "the cat sat on the mat. ", count: 300)  // 7200 characters: 8 chunks of 1000
    let data = try write("text.txt", text)
    try rnnSucceeding([
      "train", "--data", data, "--checkpoint-dir", "ck", "--max-steps", "1", "--layers", "1", "--hidden", "8",
      "--embedding", "4", "--seq-length", "25", "--batch-size", "2", "--threads", "1", "--sample-length", "0",
    ])
    let arguments = ["eval", "--checkpoint", "ck/latest.safetensors", "--data", data, "--threads", "1"]

    let (status, terminal, stdout) = try rnnWithTerminal(arguments)
    XCTAssertEqual(status, 0, terminal)
    XCTAssertTrue(terminal.contains("\r\u{1B}[Kscoring: 13% (1000 of 7199 characters)"), terminal.debugDescription)
    XCTAssertTrue(terminal.hasSuffix("\r\u{1B}[K"), "the status line is erased at the end: \(terminal.debugDescription)")
    XCTAssertFalse(terminal.contains("\n"), "a status line, not log lines: \(terminal.debugDescription)")
    XCTAssertTrue(stdout.hasSuffix("bits/char over 7199 characters\n"), stdout)

    // Into a file: standard error stays empty, standard output is the same.
    let piped = try rnnSucceeding(arguments)
    XCTAssertEqual(piped.stderr, "")
    XCTAssertEqual(piped.stdout, stdout)
  }
}
