import Foundation

/// What names a training run and what it reads, kept in its training state
/// (`__metadata__["run"]`, JSON): a resume checks that the checkpoint and the training state it
/// reads belong to one run and one model, and rereads the same text without being told again.
public struct RunRecord: Codable, Equatable, Sendable {
  /// Made when a run starts (`makeID()`) and kept by its resumes; the run's checkpoints carry it
  /// too (`Checkpoint.run`).
  public var id: String
  /// The model the training state goes with: `fingerprint(of:vocabulary:)` of its checkpoint.
  public var model: String
  /// The files and folders read (`--data`), absolute; empty for a built-in corpus.
  public var dataPaths: [String]
  /// The built-in corpus read when `dataPaths` is empty (`BuiltInCorpus.rawValue`).
  public var corpus: String?
  /// The fractions of the text held out at its end for validation and test.
  public var valFraction: Double
  public var testFraction: Double

  public init(
    id: String, model: String, dataPaths: [String], corpus: String?, valFraction: Double, testFraction: Double
  ) {
    self.id = id
    self.model = model
    self.dataPaths = dataPaths
    self.corpus = corpus
    self.valFraction = valFraction
    self.testFraction = testFraction
  }

  /// A new run's id: 32 random hexadecimal digits.
  public static func makeID() -> String {
    (0..<2).map { _ in
      let digits = String(UInt64.random(in: 0...UInt64.max), radix: 16)
      return String(repeating: "0", count: 16 - digits.count) + digits
    }.joined()
  }

  /// A short fingerprint of a model's config and vocabulary (FNV-1a of their JSON).
  public static func fingerprint(of config: CharLMConfig, vocabulary: Vocabulary) -> String {
    var hash = FNV1a()
    for byte in try! JSONEncoder.sorted.encode(config) { hash.combine(UInt64(byte)) }
    for byte in vocabulary.jsonArray.utf8 { hash.combine(UInt64(byte)) }
    hash.combine(vocabulary.encoding == .bytes ? 1 : 0)
    return String(hash.value, radix: 16)
  }

  enum CodingKeys: String, CodingKey {
    case id, model, corpus
    case dataPaths = "data_paths"
    case valFraction = "val_fraction"
    case testFraction = "test_fraction"
  }
}

/// 64-bit FNV-1a, one value (a token, a byte) at a time: a short fingerprint, not a cryptographic hash.
struct FNV1a {
  private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

  mutating func combine(_ x: UInt64) { value = (value ^ x) &* 0x100_0000_01b3 }
}
