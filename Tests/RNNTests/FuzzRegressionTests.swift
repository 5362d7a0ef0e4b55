import Foundation
import XCTest

@testable import RNN

/// Replays the fuzzers' inputs (see `Fuzz/README.md`): every file in `Fuzz/regressions/<reader>/`
/// and every seed in `Fuzz/seeds/<reader>/` not named `valid-*` must be rejected with a thrown
/// error, never a crash; the `valid-*` seeds must load. Hand-made hostile inputs follow.
final class FuzzRegressionTests: FolderTestCase {
  /// `Fuzz/` at the package root.
  private static let fuzzFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fuzz")

  /// The files of `Fuzz/<folder>/<reader>/` (no hidden files), sorted by name, with their bytes.
  private func inputs(_ folder: String, _ reader: String) throws -> [(name: String, bytes: [UInt8])] {
    let url = Self.fuzzFolder.appendingPathComponent(folder).appendingPathComponent(reader)
    guard FileManager.default.fileExists(atPath: url.path) else { return [] }
    return try FileManager.default.contentsOfDirectory(atPath: url.path)
      .filter { !$0.hasPrefix(".") }
      .sorted()
      .map { ($0, Array(try Data(contentsOf: url.appendingPathComponent($0)))) }
  }

  /// Inputs every reader must reject: the regressions and the seeds not named `valid-*`.
  private func hostile(_ reader: String) throws -> [(name: String, bytes: [UInt8])] {
    try inputs("regressions", reader) + inputs("seeds", reader).filter { !$0.name.hasPrefix("valid-") }
  }

  private func valid(_ reader: String) throws -> [(name: String, bytes: [UInt8])] {
    try inputs("seeds", reader).filter { $0.name.hasPrefix("valid-") }
  }

  // MARK: Checkpoint reader

  /// What the checkpoint fuzz target does: decode, then validate as a checkpoint.
  private func readCheckpoint(_ bytes: [UInt8]) throws -> Checkpoint {
    try Checkpoint(try SafeTensors(decoding: bytes), path: "fuzz.safetensors")
  }

  func testCheckpointReaderRejectsHostileInputs() throws {
    let files = try hostile("checkpoint")
    XCTAssertFalse(files.isEmpty, "no inputs under \(Self.fuzzFolder.path)")
    for (name, bytes) in files {
      XCTAssertThrowsError(try readCheckpoint(bytes), name)
    }
  }

  func testCheckpointReaderLoadsValidSeedsAndRoundTrips() throws {
    let files = try valid("checkpoint")
    XCTAssertEqual(files.count, 4)
    for (name, bytes) in files {
      let checkpoint = try readCheckpoint(bytes)
      XCTAssertEqual(checkpoint.step, 7, name)
      let again = try readCheckpoint(checkpoint.encoded().encoded())
      XCTAssertEqual(again.model.config, checkpoint.model.config, name)
      XCTAssertEqual(again.vocabulary, checkpoint.vocabulary, name)
      XCTAssertEqual(Array(again.model.parameters.values), Array(checkpoint.model.parameters.values), name)
    }
  }

  func testCheckpointReaderRejectsHandMadeInputs() throws {
    let seed = try XCTUnwrap(valid("checkpoint").first { $0.name == "valid-lstm.safetensors" }).bytes
    func withLength(_ length: UInt64, _ rest: [UInt8]) -> [UInt8] {
      withUnsafeBytes(of: length.littleEndian, Array.init) + rest
    }
    func header(_ json: String, data: [UInt8] = []) -> [UInt8] {
      withLength(UInt64(json.utf8.count), Array(json.utf8)) + data
    }
    var cases: [(String, [UInt8])] = [
      ("empty file", []),
      ("7 bytes", [1, 0, 0, 0, 0, 0, 0]),
      ("header length 0", withLength(0, [])),
      ("header length UInt64.max", withLength(.max, Array(seed[8...]))),
      ("header length Int.max + 1", withLength(UInt64(Int.max) + 1, Array(seed[8...]))),
      ("header one byte short", withLength(UInt64(seed.count - 7), Array(seed[8...]))),
      ("deeply nested header", header(String(repeating: "[", count: 100_000))),
      ("deeply nested metadata", header(#"{"__metadata__":{"a":"#.appending(String(repeating: "{", count: 10_000)))),
      ("shape overflow", header(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#)),
      ("negative shape", header(#"{"a":{"dtype":"F32","shape":[-1,-4],"data_offsets":[0,16]}}"#, data: .init(repeating: 0, count: 16))),
      ("negative offsets", header(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}"#, data: [0])),
      ("offsets past Int", header(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,0]}}"#, data: [0])),
      ("overlapping", header(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#, data: [0, 0, 0])),
      ("duplicate names", header(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [0, 0])),
      ("invalid UTF-8 in header", withLength(4, [0x7B, 0xC0, 0xAF, 0x7D])),
      ("NUL in header", header("{\u{0}}")),
    ]
    // Metadata edits of the valid seed, keeping its tensors.
    let file = try SafeTensors(decoding: seed)
    let edits: [(String, String, String)] = [
      ("config: layers 0", "config", #"{"cell":"lstm","dropout":0,"embedding":3,"hidden":2,"layers":0,"vocabulary_size":4}"#),
      ("config: hidden -1", "config", #"{"cell":"lstm","dropout":0,"embedding":3,"hidden":-1,"layers":1,"vocabulary_size":4}"#),
      ("config: dropout 1", "config", #"{"cell":"lstm","dropout":1,"embedding":3,"hidden":2,"layers":1,"vocabulary_size":4}"#),
      ("config: dropout NaN", "config", #"{"cell":"lstm","dropout":"nan","embedding":3,"hidden":2,"layers":1,"vocabulary_size":4}"#),
      ("config: unknown cell", "config", #"{"cell":"transformer","dropout":0,"embedding":3,"hidden":2,"layers":1,"vocabulary_size":4}"#),
      ("config: hidden past Int", "config", #"{"cell":"lstm","dropout":0,"embedding":3,"hidden":1e400,"layers":1,"vocabulary_size":4}"#),
      ("config: nested", "config", String(repeating: "[", count: 100_000)),
      ("config: not JSON", "config", "lstm"),
      ("vocabulary: nested", "vocabulary", String(repeating: "[", count: 100_000)),
      ("vocabulary: duplicates", "vocabulary", #"["a","a","b","c"]"#),
      ("vocabulary: lone surrogate", "vocabulary", #"["\ud800","a","b","c"]"#),
    ]
    for (what, key, value) in edits {
      var edited = file
      edited.metadata[key] = value
      cases.append((what, edited.encoded()))
    }
    var renamed = file
    renamed.tensors[0].name = "embedding.weights"
    cases.append(("renamed tensor", renamed.encoded()))
    var reshaped = file
    reshaped.tensors[0].tensor = Tensor(shape: [3, 4], scalars: reshaped.tensors[0].tensor.scalars)
    cases.append(("transposed tensor", reshaped.encoded()))
    var extra = file
    extra.tensors.append(("rnn.weight_ih_l1", Tensor(shape: [1], scalars: [0])))
    cases.append(("extra tensor", extra.encoded()))

    for (what, bytes) in cases {
      XCTAssertThrowsError(try readCheckpoint(bytes), what)
    }
  }

  // MARK: Corpus reader

  /// What the corpus fuzz target does: the bytes as a file, read without and with a vocabulary.
  private func loadCorpus(_ bytes: [UInt8], vocabulary: Vocabulary? = nil) throws -> Corpus {
    let path = try write("input.txt", bytes)
    return try vocabulary.map { try Corpus.load(paths: [path], vocabulary: $0) } ?? Corpus.load(paths: [path])
  }

  func testCorpusReaderRejectsHostileInputs() throws {
    let files = try hostile("corpus")
    XCTAssertFalse(files.isEmpty)
    let vocabulary = try Vocabulary(jsonArray: #"["a","b"]"#)
    for (name, bytes) in files {
      XCTAssertThrowsError(try loadCorpus(bytes), name)
      XCTAssertThrowsError(try loadCorpus(bytes, vocabulary: vocabulary), name)
    }
  }

  func testCorpusReaderLoadsValidSeedsLikeTheStandardLibrary() throws {
    let files = try valid("corpus")
    XCTAssertFalse(files.isEmpty)
    for (name, bytes) in files {
      let text = try XCTUnwrap(String(validating: bytes, as: UTF8.self), name)
      let corpus = try loadCorpus(bytes)
      XCTAssertEqual(corpus.vocabulary, Vocabulary(building: text), name)
      XCTAssertEqual(corpus.vocabulary.decode(corpus.text), text, name)
    }
  }

  func testCorpusReaderRejectsHandMadeInputs() throws {
    let cases: [(String, [UInt8])] = [
      ("lone lead byte at the end of an 8-byte block", Array("1234567".utf8) + [0xE2]),
      ("lead byte then ASCII", [0xF0, 0x41, 0x41, 0x41]),
      ("all 0xFF", [UInt8](repeating: 0xFF, count: 64)),
      ("5-byte form", [0xF8, 0x88, 0x80, 0x80, 0x80]),
      ("CESU-8 surrogate pair", [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]),
      ("NUL after 8 KiB of text", [UInt8](repeating: 0x61, count: 8192) + [0, 0x80]),
      ("continuation after 8 KiB of text", [UInt8](repeating: 0x61, count: 9000) + [0x80]),
    ]
    for (what, bytes) in cases {
      XCTAssertThrowsError(try loadCorpus(bytes), what)
    }
  }

  // MARK: Vocabulary JSON

  func testVocabularyReaderRejectsHostileInputs() throws {
    var files = try hostile("vocabulary")
    files += [
      ("nested", Array(String(repeating: "[", count: 100_000).utf8)),
      ("escape at the end", Array(#"["\"#.utf8)),
      ("truncated \\u", Array(#"["\u12"]"#.utf8)),
      ("high surrogate then high", Array(#"["\ud800\ud800"]"#.utf8)),
      ("high surrogate then end", Array(#"["\ud800\"#.utf8)),
      ("trailing comma", Array(#"["a",]"#.utf8)),
      ("trailing text", Array(#"["a"] x"#.utf8)),
      ("object", Array(#"{"a":"b"}"#.utf8)),
      ("unescaped newline", Array("[\"\n\"]".utf8)),
    ]
    for (name, bytes) in files {
      XCTAssertThrowsError(try Vocabulary(jsonArray: String(decoding: bytes, as: UTF8.self)), name)
    }
  }

  func testVocabularyReaderLoadsValidSeedsAndRoundTrips() throws {
    let files = try valid("vocabulary")
    XCTAssertFalse(files.isEmpty)
    for (name, bytes) in files {
      let vocabulary = try Vocabulary(jsonArray: String(decoding: bytes, as: UTF8.self))
      XCTAssertEqual(try Vocabulary(jsonArray: vocabulary.jsonArray), vocabulary, name)
    }
  }
}
