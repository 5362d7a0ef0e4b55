import Foundation
import RNN
import XCTest

/// `ChildProcess`, the one way the library and the command line run other programs: input in,
/// output and errors out through pipes, the environment given, a program that cannot start named.
final class ChildProcessTests: XCTestCase {
  private let searchPath = "/usr/bin:/bin"

  func testOutputComesBackAndTheEnvironmentGoesIn() throws {
    let cat = try XCTUnwrap(ChildProcess(firstOf: ["no-such-program", "cat"], searchPath: searchPath))
    XCTAssertEqual(cat.name, "cat")
    let input = Array((0..<200_000).map { UInt8(truncatingIfNeeded: $0) })
    let echoed = try cat.run([], input: input)
    XCTAssertEqual(echoed.exitStatus, 0)
    XCTAssertEqual(echoed.output, input)

    let sh = try XCTUnwrap(ChildProcess(firstOf: ["sh"], searchPath: searchPath))
    let run = try sh.run(["-c", "printf %s \"$GREETING\"; echo oops >&2; exit 3"], environment: ["GREETING": "hello"])
    XCTAssertEqual(run.exitStatus, 3)
    XCTAssertEqual(run.ending, "exit status 3")
    XCTAssertEqual(String(decoding: run.output, as: UTF8.self), "hello")
    XCTAssertEqual(run.errors, "oops\n")
  }

  func testOutputBeyondTheLimitKillsIt() throws {
    let sh = try XCTUnwrap(ChildProcess(firstOf: ["sh"], searchPath: searchPath))
    let run = try sh.run(["-c", "yes"], outputLimit: 1 << 16)
    XCTAssertTrue(run.overflowed)
    XCTAssertNil(run.exitStatus)
    XCTAssertEqual(run.ending, "killed by a signal")
  }

  func testAProgramThatCannotStartIsNamed() {
    XCTAssertNil(ChildProcess(firstOf: ["no-such-program"], searchPath: searchPath))
    XCTAssertThrowsError(try ChildProcess(path: "/no/such/program").run([])) { error in
      XCTAssertEqual("\(error)", "cannot run /no/such/program: No such file or directory")
    }
  }
}
