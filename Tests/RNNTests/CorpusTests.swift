import Foundation
import XCTest

@testable import RNN
@testable import RNNData

final class CorpusTests: FolderTestCase {
  private func assertCorpusError(
    _ expected: CorpusError, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Corpus
  ) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
      XCTAssertEqual(error as? CorpusError, expected, file: file, line: line)
    }
  }

  // MARK: Reading

  func testSingleFileBuildsSortedVocabularyAndIds() throws {
    let path = try write("a.txt", "héllo 😀\n")
    let corpus = try Corpus.load(paths: [path])
    XCTAssertEqual(corpus.sources, [path])
    XCTAssertEqual(corpus.vocabulary.scalars, ["\n", " ", "h", "l", "o", "é", "😀"])
    XCTAssertEqual(corpus.vocabulary.decode(corpus.text), "héllo 😀\n")
    XCTAssertEqual(Array(corpus.text), [2, 5, 3, 3, 4, 1, 6, 0])
  }

  func testDecoderMatchesSwiftOnMixedText() throws {
    var text = ""
    for i in 0..<5000 {
      text += "line \(i): ascii then ü€𝄞 and 中文 😀\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\n"
    }
    let path = try write("mixed.txt", text)
    let corpus = try Corpus.load(paths: [path])
    XCTAssertEqual(corpus.text.count, text.unicodeScalars.count)
    XCTAssertEqual(corpus.vocabulary, Vocabulary(building: text))
    XCTAssertEqual(corpus.vocabulary.decode(corpus.text), text)
  }

  func testFolderIsWalkedRecursivelyInPathOrderSkippingHiddenAndBinary() throws {
    try write("b.txt", "B")
    try write("a/z.txt", "Z")
    try write("a/b/c.txt", "C")
    try write("a.txt", "A")
    try write("a/b.txt", "b")  // "a/b.txt" sorts before "a/b/c.txt" ('.' < '/')
    try write(".hidden.txt", "H")
    try write(".git/config", "G")
    try write("a/.cache/x.txt", "X")
    try write("image.png", [0x89, 0x50, 0x4E, 0x47, 0x00, 0x01])
    var late = [UInt8](repeating: UInt8(ascii: "x"), count: 9000)
    late[8191] = 0  // NUL inside the first 8 KiB: binary
    try write("late-nul.bin", late)
    var later = [UInt8](repeating: UInt8(ascii: "y"), count: 9000)
    later[8192] = 0  // NUL after the first 8 KiB: read as text
    try write("nul-after-8k.txt", later)
    try FileManager.default.createSymbolicLink(atPath: folder + "/link.txt", withDestinationPath: folder + "/a.txt")
    try FileManager.default.createSymbolicLink(atPath: folder + "/loop", withDestinationPath: folder)

    let corpus = try Corpus.load(paths: [folder])
    let relative = corpus.sources.map { String($0.dropFirst(folder.count + 1)) }
    XCTAssertEqual(relative, ["a.txt", "a/b.txt", "a/b/c.txt", "a/z.txt", "b.txt", "link.txt", "nul-after-8k.txt"])
    let text = corpus.vocabulary.decode(corpus.text)
    let expected = "AbCZBA" + String(repeating: "y", count: 8192) + "\u{0}" + String(repeating: "y", count: 807)
    XCTAssertTrue(text == expected, "text starts \(text.prefix(12).debugDescription), \(text.count) characters")
  }

  func testPathsAreConcatenatedInGivenOrder() throws {
    let first = try write("2.txt", "second ")
    let second = try write("1.txt", "first")
    let corpus = try Corpus.load(paths: [first, second])
    XCTAssertEqual(corpus.vocabulary.decode(corpus.text), "second first")
    XCTAssertEqual(corpus.sources, [first, second])
  }

  func testGivenVocabularyIsUsedAndUnknownCharactersReported() throws {
    let path = try write("t.txt", "abba")
    let vocabulary = try Vocabulary(scalars: ["b", "a", "z"])
    let corpus = try Corpus.load(paths: [path], vocabulary: vocabulary)
    XCTAssertEqual(Array(corpus.text), [1, 0, 0, 1])
    XCTAssertEqual(corpus.vocabulary, vocabulary)

    let other = try write("u.txt", "abcdcé\n")
    assertCorpusError(.unknownCharacters(count: 5, examples: ["c", "d", "é", "\n"], firstPath: other)) {
      try Corpus.load(paths: [path, other], vocabulary: vocabulary)
    }
  }

  // MARK: Errors

  func testMissingPath() {
    let path = folder + "/nope.txt"
    assertCorpusError(.missingPath(path)) { try Corpus.load(paths: [path]) }
    XCTAssertTrue("\(CorpusError.missingPath(path))".contains(path))
  }

  func testUnreadableFileIncludesStrerror() throws {
    if geteuid() == 0 { throw XCTSkip("root can read files without permission") }
    let path = try write("secret.txt", "x")
    chmod(path, 0)
    assertCorpusError(.unreadable(path: path, reason: "Permission denied")) { try Corpus.load(paths: [path]) }
  }

  func testExplicitBinaryFileIsAnError() throws {
    let path = try write("data.bin", [0x41, 0x42, 0x00, 0x43])
    assertCorpusError(.binaryFile(path: path, byteOffset: 2)) { try Corpus.load(paths: [path]) }
  }

  func testEmptyFileAndEmptyFolder() throws {
    let empty = try write("empty.txt", [])
    assertCorpusError(.emptyCorpus(paths: [empty])) { try Corpus.load(paths: [empty]) }

    let emptyFolder = folder + "/nothing"
    try FileManager.default.createDirectory(atPath: emptyFolder, withIntermediateDirectories: true)
    try write("nothing/.hidden", "x")
    assertCorpusError(.noTextFiles(folder: emptyFolder)) { try Corpus.load(paths: [emptyFolder]) }

    let binaryFolder = folder + "/binary"
    try write("binary/x.bin", [0x00])
    assertCorpusError(.noTextFiles(folder: binaryFolder)) { try Corpus.load(paths: [binaryFolder, empty]) }
  }

  func testInvalidUTF8ReportsOffsetLineAndColumn() throws {
    // Line 3, after "é" (2 bytes) and "xy": column 4 in characters, byte 6 + 3 + 4 = 13.
    var bytes = Array("ab\ncd\n".utf8) + Array("éxy".utf8)
    bytes += [0xFF] + Array("rest\n".utf8)
    let path = try write("bad.txt", bytes)
    XCTAssertThrowsError(try Corpus.load(paths: [path])) { error in
      guard case .invalidUTF8(let p, let offset, let line, let column, let reason) = error as? CorpusError else {
        return XCTFail("unexpected error \(error)")
      }
      XCTAssertEqual(p, path)
      XCTAssertEqual(offset, 10)
      XCTAssertEqual(line, 3)
      XCTAssertEqual(column, 4)
      XCTAssertTrue(reason.contains("0xFF"), reason)
      XCTAssertTrue("\(error)".hasPrefix("\(path):3:4: invalid UTF-8 at byte offset 10"), "\(error)")
    }
  }

  func testInvalidUTF8ErrorIsInTheRightFileAfterFastPath() throws {
    let good = try write("good.txt", "fine\n")
    // 20 ASCII bytes go through the 8-byte fast path before the bad lead byte.
    let bad = try write("bad.txt", Array("0123456789\n012345678".utf8) + [0xE2, 0x82] + Array("x".utf8))
    XCTAssertThrowsError(try Corpus.load(paths: [good, bad])) { error in
      guard case .invalidUTF8(let p, let offset, let line, let column, _) = error as? CorpusError else {
        return XCTFail("unexpected error \(error)")
      }
      XCTAssertEqual(p, bad)
      XCTAssertEqual(offset, 20)
      XCTAssertEqual(line, 2)
      XCTAssertEqual(column, 10)
    }
  }

  func testIllFormedSequencesAreRejected() throws {
    let cases: [(bytes: [UInt8], reason: String)] = [
      ([0x80], "continuation"),  // lone continuation byte
      ([0xC0, 0xAF], "overlong"),  // overlong '/'
      ([0xC1, 0xBF], "overlong"),
      ([0xE0, 0x80, 0xAF], "overlong"),  // overlong 3-byte
      ([0xE0, 0x9F, 0xBF], "overlong"),
      ([0xF0, 0x80, 0x80, 0xAF], "overlong"),  // overlong 4-byte
      ([0xF0, 0x8F, 0xBF, 0xBF], "overlong"),
      ([0xED, 0xA0, 0x80], "surrogate"),  // U+D800
      ([0xED, 0xBF, 0xBF], "surrogate"),  // U+DFFF
      ([0xF4, 0x90, 0x80, 0x80], "U+10FFFF"),  // U+110000
      ([0xF5, 0x80, 0x80, 0x80], "invalid byte"),
      ([0xFF], "invalid byte"),
      ([0xFE], "invalid byte"),
      ([0xE2, 0x82], "end of file"),  // truncated at end
      ([0xF0, 0x9F, 0x98], "end of file"),
      ([0xE2, 0x82, 0x41], "not a continuation"),  // truncated by ASCII
      ([0xC3, 0xC3, 0xA9], "not a continuation"),
    ]
    for (index, testCase) in cases.enumerated() {
      let path = try write("case\(index).txt", Array("ok".utf8) + testCase.bytes)
      XCTAssertThrowsError(try Corpus.load(paths: [path]), "\(testCase.bytes)") { error in
        guard case .invalidUTF8(_, let offset, 1, 3, let reason) = error as? CorpusError else {
          return XCTFail("\(testCase.bytes): unexpected error \(error)")
        }
        XCTAssertEqual(offset, 2, "\(testCase.bytes)")
        XCTAssertTrue(reason.contains(testCase.reason), "\(testCase.bytes): \(reason)")
      }
    }
  }

  func testBoundaryScalarsDecode() throws {
    let scalars: [Unicode.Scalar] = [
      "\u{0}", "\u{7F}", "\u{80}", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{FFFF}", "\u{10000}", "\u{10FFFF}",
    ]
    var text = String.UnicodeScalarView()
    text.append(contentsOf: scalars)
    let path = try write("edges.txt", Array("t".utf8) + Array(String(text).utf8))  // NUL after byte 0: binary check
    // A NUL within 8 KiB makes an explicit file binary, so check the decoder directly as well.
    assertCorpusError(.binaryFile(path: path, byteOffset: 1)) { try Corpus.load(paths: [path]) }
    let bytes = Array(String(text).utf8)
    var out = [Int32](repeating: -1, count: bytes.count)
    let result = bytes.withUnsafeBufferPointer { input in
      out.withUnsafeMutableBufferPointer { decodeUTF8(input, into: $0) }
    }
    guard case .success(let count) = result else { return XCTFail("\(result)") }
    XCTAssertEqual(Array(out[..<count]), scalars.map { Int32($0.value) })
  }

  // MARK: Reading in chunks

  /// Files over several read chunks (1 MiB each), with 2-, 3- and 4-byte sequences straddling
  /// the chunk boundaries, decode exactly as the standard library decodes them.
  func testSequencesAcrossChunkBoundariesDecode() throws {
    var text = ""
    while text.utf8.count < 3 * Corpus.chunkSize { text += "a é € 𝄞 中文;\n" }
    let path = try write("big.txt", text)
    let corpus = try Corpus.load(paths: [path])
    XCTAssertEqual(corpus.text.count, text.unicodeScalars.count)
    XCTAssertTrue(corpus.vocabulary.decode(corpus.text) == text, "text changed")
  }

  /// An ill-formed byte in a later chunk is reported at its offset, line and column in the file.
  func testInvalidUTF8InALaterChunkReportsFileOffsetLineAndColumn() throws {
    let line = Array("0123456789abcdé\n".utf8)  // 17 bytes, 16 characters
    let lines = 2 * Corpus.chunkSize / line.count
    let bytes = Array([[UInt8]](repeating: line, count: lines).joined()) + Array("xy".utf8) + [0xC3, 0x41]
    let path = try write("late.txt", bytes)
    assertCorpusError(
      .invalidUTF8(
        path: path, byteOffset: lines * line.count + 2, line: lines + 1, column: 3,
        reason: "incomplete 2-byte sequence (byte 0x41 is not a continuation byte)")
    ) { try Corpus.load(paths: [path]) }
  }

  // MARK: Compact ids

  /// Ids take 1 byte per token for up to 256 symbols, 2 up to 65536, 4 beyond, and read back the same.
  func testIdsAreStoredInTheNarrowestWidth() throws {
    XCTAssertEqual(TokenIDs.bytesPerToken(vocabularySize: 256), 1)
    XCTAssertEqual(TokenIDs.bytesPerToken(vocabularySize: 257), 2)
    XCTAssertEqual(TokenIDs.bytesPerToken(vocabularySize: 65536), 2)
    XCTAssertEqual(TokenIDs.bytesPerToken(vocabularySize: 65537), 4)

    let small = try Corpus.load(paths: [try write("small.txt", "hello, world\n")])
    XCTAssertEqual(small.text.bytesPerToken, 1)
    var wide = ""
    for value in 0x4E00..<(0x4E00 + 300) { wide.unicodeScalars.append(Unicode.Scalar(value)!) }
    let large = try Corpus.load(paths: [try write("wide.txt", wide)])
    XCTAssertEqual(large.vocabulary.count, 300)
    XCTAssertEqual(large.text.bytesPerToken, 2)
    XCTAssertEqual(Array(large.text), (0..<300).map { Int32($0) })

    let ids: [Int32] = [70_000, 3, 65_535, 0]
    XCTAssertEqual(TokenIDs(ids).bytesPerToken, 4)
    XCTAssertEqual(Array(TokenIDs(ids)), ids)
    let slice = TokenIDs(ids)[1..<3]
    XCTAssertEqual(slice.startIndex, 1)
    XCTAssertEqual(Array(slice), [3, 65_535])
  }

  // MARK: Bytes

  /// With `.bytes` every byte is a token, its id the byte: ill-formed UTF-8 and NUL bytes included,
  /// and a folder's binary files are read too. The vocabulary is all 256 bytes.
  func testByteEncodingReadsEveryByte() throws {
    let odd: [UInt8] = [0x61, 0xFF, 0x00, 0xC3, 0x0A, 0x80]
    let path = try write("odd.bin", odd)
    let corpus = try Corpus.load(paths: [path], encoding: .bytes)
    XCTAssertEqual(corpus.vocabulary, .bytes)
    XCTAssertEqual(corpus.vocabulary.count, 256)
    XCTAssertEqual(corpus.text.bytesPerToken, 1)
    XCTAssertEqual(Array(corpus.text), odd.map { Int32($0) })
    XCTAssertEqual(corpus.vocabulary.bytes(of: corpus.text), odd)

    try write("folder/a.txt", "text")
    try write("folder/b.png", [0x89, 0x50, 0x00])
    try write("folder/.hidden", "h")
    let folderCorpus = try Corpus.load(paths: [folder + "/folder"], encoding: .bytes)
    XCTAssertEqual(folderCorpus.sources.map { ($0 as NSString).lastPathComponent }, ["a.txt", "b.png"])
    XCTAssertEqual(folderCorpus.vocabulary.bytes(of: folderCorpus.text), Array("text".utf8) + [0x89, 0x50, 0x00])
    // A byte-level vocabulary given to load reads bytes as well.
    XCTAssertEqual(Array(try Corpus.load(paths: [path], vocabulary: .bytes).text), odd.map { Int32($0) })
    assertCorpusError(.emptyCorpus(paths: [try write("empty.bin", [])])) {
      try Corpus.load(paths: [folder + "/empty.bin"], encoding: .bytes)
    }
  }

  // MARK: Split

  func testSplitIsContiguousTrainValidationTest() {
    let split = Corpus.split(count: 1000, valFraction: 0.1, testFraction: 0.05)
    XCTAssertEqual(split.train, 0..<850)
    XCTAssertEqual(split.validation, 850..<950)
    XCTAssertEqual(split.test, 950..<1000)
    let noHeldOut = Corpus.split(count: 7, valFraction: 0, testFraction: 0)
    XCTAssertEqual(noHeldOut.train, 0..<7)
    XCTAssertTrue(noHeldOut.validation.isEmpty && noHeldOut.test.isEmpty)
    XCTAssertEqual(noHeldOut.test.lowerBound, 7)
  }
}
