import Foundation
import XCTest

@testable import RNN
@testable import RNNData

/// What the writer refuses, and files: atomic saves, failures that keep the previous file.
extension SafeTensorsTests {
  // MARK: Writer checks

  func testWriterRejectsWhatItCannotEncode() throws {
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("bad.safetensors").path
    let one = Tensor(shape: [1], scalars: [1])
    XCTAssertThrowsError(try SafeTensors(tensors: [("a", one), ("a", one)]).write(to: path)) {
      XCTAssertEqual($0 as? SafeTensorsError, .duplicateName("a"))
    }
    XCTAssertThrowsError(try SafeTensors(tensors: [("__metadata__", one)]).write(to: path)) {
      XCTAssertEqual($0 as? SafeTensorsError, .reservedName("__metadata__"))
    }
    var wrong = one
    wrong.scalars.append(2)
    XCTAssertThrowsError(try SafeTensors(tensors: [("w", wrong)]).write(to: path)) {
      XCTAssertEqual($0 as? SafeTensorsError, .scalarCountMismatch(name: "w", shape: [1], count: 2))
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
  }

  // MARK: Files

  func testWriteThenReadFile() throws {
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("model.safetensors").path
    try sample().write(to: path)
    XCTAssertEqual(try SafeTensors(contentsOf: path), sample())
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), sample().encoded())

    let replacement = SafeTensors(tensors: [("x", Tensor(shape: [1], scalars: [7]))])
    try replacement.write(to: path)
    XCTAssertEqual(try SafeTensors(contentsOf: path), replacement)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
  }

  func testFailedWriteLeavesPreviousFileAndNoJunk() throws {
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("model.safetensors").path
    let old = SafeTensors(tensors: [("old", Tensor(shape: [2], scalars: [1, 2]))])
    try old.write(to: path)
    let oldBytes = try Data(contentsOf: URL(fileURLWithPath: path))
    for step in SafeTensors.WriteStep.allCases {
      XCTAssertThrowsError(try sample().write(to: path, failingAt: step), "\(step)") {
        guard case .unwritable(let failedPath, let reason)? = $0 as? SafeTensorsError else {
          return XCTFail("wrong error \($0)")
        }
        XCTAssertEqual(failedPath, path)
        XCTAssertTrue(reason.hasSuffix("simulated failure"), reason)
      }
      XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), oldBytes, "\(step)")
      XCTAssertEqual(
        try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"],
        "\(step)")
    }
  }

  func testWriteIntoMissingDirectoryThrowsAndCreatesNothing() throws {
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("missing/model.safetensors").path
    XCTAssertThrowsError(try sample().write(to: path)) {
      guard case .unwritable(let failedPath, let reason)? = $0 as? SafeTensorsError else {
        return XCTFail("wrong error \($0)")
      }
      XCTAssertEqual(failedPath, path)
      XCTAssertTrue(reason.hasSuffix("No such file or directory"), reason)
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
  }

  func testWriteOverDirectoryFailsAtRenameAndCleansUp() throws {
    let directory = try temporaryDirectory()
    let target = directory.appendingPathComponent("occupied")
    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
    try Data([1, 2, 3]).write(to: target.appendingPathComponent("inside"))
    XCTAssertThrowsError(try sample().write(to: target.path)) {
      guard case .unwritable(_, let reason)? = $0 as? SafeTensorsError else {
        return XCTFail("wrong error \($0)")
      }
      XCTAssertTrue(reason.contains("cannot rename"), reason)
    }
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory.path), ["occupied"])
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target.path), ["inside"])
    XCTAssertThrowsError(try sample().write(to: directory.path + "/")) {
      XCTAssertEqual(
        $0 as? SafeTensorsError,
        .unwritable(path: directory.path + "/", reason: "path names a directory"))
    }
  }

  func testWriteIntoReadOnlyDirectoryKeepsPreviousFile() throws {
    try XCTSkipIf(geteuid() == 0, "root ignores directory permissions")
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("model.safetensors").path
    let old = SafeTensors(tensors: [("old", Tensor(shape: [1], scalars: [1]))])
    try old.write(to: path)
    XCTAssertEqual(chmod(directory.path, 0o555), 0)
    defer { chmod(directory.path, 0o755) }
    XCTAssertThrowsError(try sample().write(to: path)) {
      guard case .unwritable(_, let reason)? = $0 as? SafeTensorsError else {
        return XCTFail("wrong error \($0)")
      }
      XCTAssertTrue(reason.hasSuffix("Permission denied"), reason)
    }
    XCTAssertEqual(try SafeTensors(contentsOf: path), old)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
  }

  func testReadErrorsNameThePathAndReason() throws {
    let directory = try temporaryDirectory()
    let missing = directory.appendingPathComponent("nope.safetensors").path
    XCTAssertThrowsError(try SafeTensors(contentsOf: missing)) {
      XCTAssertEqual(
        $0 as? SafeTensorsError, .unreadable(path: missing, reason: "No such file or directory"))
    }
    XCTAssertThrowsError(try SafeTensors(contentsOf: directory.path)) {
      XCTAssertEqual(
        $0 as? SafeTensorsError, .unreadable(path: directory.path, reason: "Is a directory"))
    }
    let corrupt = directory.appendingPathComponent("corrupt.safetensors")
    try Data([1, 2, 3]).write(to: corrupt)
    XCTAssertThrowsError(try SafeTensors(contentsOf: corrupt.path)) {
      XCTAssertEqual($0 as? SafeTensorsError, .truncatedLength(size: 3))
    }
  }

  // MARK: Size

  /// A 50 MB file round-trips (its length as the header says); how fast is `rnn bench`'s concern.
  func testFiftyMegabytesRoundTrip() throws {
    var generator = SplitMix64(seed: 1)
    let count = 50_000_000 / 4
    var big = Tensor(shape: [count / 1000, 1000])
    big.withUnsafeMutableBufferPointer { buffer in
      for i in stride(from: 0, to: buffer.count, by: 997) {
        buffer[i] = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
      }
    }
    let st = SafeTensors(tensors: [
      ("big", big), ("small", Tensor(shape: [3], scalars: [1, 2, 3])),
    ])
    let bytes = st.encoded()
    let decoded = try SafeTensors(decoding: bytes)
    XCTAssertEqual(
      bytes.count, 8 + bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) } + 4 * (count + 3))
    XCTAssertEqual(decoded, st)
  }
}
