/// A training text as token ids, with the vocabulary that maps them to characters (or bytes).
///
/// `load` reads files in chunks of 1 MiB and keeps the ids compact (`TokenIDs`: 1 byte per token
/// for up to 256 distinct symbols, 2 for up to 65536), so peak memory is the ids plus a few
/// megabytes: 1 or 2 bytes per character for real text, whatever its size. Without a vocabulary a
/// UTF-8 corpus is read twice, once to find (and count) its characters and once to store their
/// ids in the width the vocabulary needs; with one it is read once. A byte-level corpus is read
/// once, straight into its ids.
public struct Corpus: Sendable {
  /// The whole text, files concatenated in order, as token ids in `0 ..< vocabulary.count`.
  public let text: TokenIDs
  /// The vocabulary: the one given to `load`, the sorted unique characters of a UTF-8 text, or
  /// `Vocabulary.bytes`.
  public let vocabulary: Vocabulary
  /// The files read, in order.
  public let sources: [String]

  public init(text: TokenIDs, vocabulary: Vocabulary, sources: [String]) {
    self.text = text
    self.vocabulary = vocabulary
    self.sources = sources
  }

  /// Reads and concatenates the files at `paths`, building the vocabulary: the sorted unique
  /// characters of the text for `utf8`, all 256 bytes (`Vocabulary.bytes`) for `bytes`.
  ///
  /// Each path is a file or a folder. A folder is walked recursively: regular files only (symbolic
  /// links to files are followed, links to folders are not), sorted by path, skipping hidden entries
  /// (names starting with `.`). For `utf8`, a folder's files with a NUL byte in their first 8 KiB
  /// are skipped and a file given explicitly must not look binary; `bytes` reads every file.
  public static func load(paths: [String], encoding: TextEncoding = .utf8) throws -> Corpus {
    let files = try CorpusFile.list(paths)
    switch encoding {
    case .utf8: return try loadUTF8(files, paths: paths, vocabulary: nil)
    case .bytes: return try loadBytes(files, paths: paths)
    }
  }

  /// Reads the files at `paths` as `load(paths:encoding:)` does, in the vocabulary's encoding, and
  /// encodes them with it. Characters outside it are an error (`CorpusError.unknownCharacters`).
  public static func load(paths: [String], vocabulary: Vocabulary) throws -> Corpus {
    let files = try CorpusFile.list(paths)
    switch vocabulary.encoding {
    case .utf8: return try loadUTF8(files, paths: paths, vocabulary: vocabulary)
    case .bytes: return try loadBytes(files, paths: paths)
    }
  }

  /// The fraction of a text held out for validation when none is given (`rnn train --val-fraction`).
  public static let defaultValidationFraction = 0.05
  /// The fraction held out, at the very end, for the final test (`rnn train --test-fraction`).
  public static let defaultTestFraction = 0.05

  /// Contiguous splits of `count` tokens: train first, then validation, then test (each a tail).
  ///
  /// Validation and test get `floor(count * fraction)` tokens; train gets the rest. The caller
  /// validates the fractions (each in `0 ..< 1`, sum below 1).
  public static func split(
    count: Int, valFraction: Double = defaultValidationFraction, testFraction: Double = defaultTestFraction
  ) -> (train: Range<Int>, validation: Range<Int>, test: Range<Int>) {
    require(count >= 0, "negative count")
    require(
      valFraction >= 0 && testFraction >= 0 && valFraction + testFraction < 1,
      "invalid split fractions \(valFraction), \(testFraction)")
    let validationCount = Int(Double(count) * valFraction)
    let testCount = Int(Double(count) * testFraction)
    let trainEnd = count - validationCount - testCount
    return (0..<trainEnd, trainEnd..<(trainEnd + validationCount), (trainEnd + validationCount)..<count)
  }
}

// MARK: - Reading

extension Corpus {
  /// Bytes read (and scalars decoded) at a time.
  static let chunkSize = 1 << 20

  /// Every byte of every file is a token, its id the byte's value.
  private static func loadBytes(_ files: [CorpusFile], paths: [String]) throws -> Corpus {
    let tokens = TokenBuffer(capacity: files.reduce(0) { $0 + $1.size }, bytesPerToken: 1)
    for file in files { try file.fill(tokens) }
    if tokens.count == 0 { throw CorpusError.emptyCorpus(paths: paths) }
    return Corpus(text: TokenIDs(tokens), vocabulary: .bytes, sources: files.map(\.path))
  }

  private static func loadUTF8(_ files: [CorpusFile], paths: [String], vocabulary given: Vocabulary?) throws -> Corpus {
    // Scalar value -> id for every possible scalar (4.4 MB); -1 for scalars outside the vocabulary.
    var table = [Int32](repeating: -1, count: 0x11_0000)
    let scratch = UnsafeMutableBufferPointer<Int32>.allocate(capacity: chunkSize)
    defer { scratch.deallocate() }

    var textFiles = files
    let vocabulary: Vocabulary
    let capacity: Int
    if let given {
      for (id, scalar) in given.scalars.enumerated() { table[Int(scalar.value)] = Int32(id) }
      vocabulary = given
      capacity = files.reduce(0) { $0 + $1.size }  // bytes bound characters; untouched pages cost nothing
    } else {
      // First pass: which characters occur (marked 0 in the table), and how many there are.
      var count = 0
      textFiles = try table.withUnsafeMutableBufferPointer { table in
        try files.filter { file in
          try decode(file, into: scratch, mapping: MarkingIdentity(seen: table.baseAddress!)) { count += $0.count }
        }
      }
      var scalars: [Unicode.Scalar] = []
      for value in table.indices where table[value] == 0 {
        table[value] = Int32(scalars.count)
        scalars.append(Unicode.Scalar(UInt32(value))!)
      }
      vocabulary = Vocabulary(uniqueScalars: scalars)
      capacity = count
    }

    let tokens = TokenBuffer(
      capacity: capacity, bytesPerToken: TokenIDs.bytesPerToken(vocabularySize: vocabulary.count))
    var sources: [String] = []
    var foldersWithText: Set<String> = []
    var unknown = UnknownCharacters(count: 0, examples: [])
    var firstUnknownPath: String?
    try table.withUnsafeBufferPointer { table in
      for file in textFiles {
        let changed = CorpusError.unreadable(path: file.path, reason: "the file changed while it was read")
        let isText = try decode(file, into: scratch, mapping: Identity()) { values in
          for i in values.indices {
            let id = table[Int(values[i])]
            if id < 0 {
              guard given != nil else { throw changed }
              unknown.record(Unicode.Scalar(UInt32(values[i]))!)
              if firstUnknownPath == nil { firstUnknownPath = file.path }
            }
            values[i] = id
          }
          guard unknown.count == 0 else { return }  // only counting unknown characters now
          guard values.count <= tokens.capacity - tokens.count else { throw changed }
          tokens.append(UnsafeBufferPointer(values))
        }
        if isText {
          sources.append(file.path)
          if let folder = file.folder { foldersWithText.insert(folder) }
        }
      }
    }

    for case let folder? in files.map(\.folder) where !foldersWithText.contains(folder) {
      throw CorpusError.noTextFiles(folder: folder)
    }
    if let firstUnknownPath {
      throw CorpusError.unknownCharacters(count: unknown.count, examples: unknown.examples, firstPath: firstUnknownPath)
    }
    if tokens.count == 0 { throw CorpusError.emptyCorpus(paths: paths) }
    return Corpus(text: TokenIDs(tokens), vocabulary: vocabulary, sources: sources)
  }

  /// Decodes the UTF-8 file chunk by chunk into `scratch` (which must hold `chunkSize` values)
  /// with `mapping`, handing each chunk's values to `sink`. Returns false, having decoded nothing,
  /// if the file has a NUL byte in its first 8 KiB and was found in a folder; such a file given
  /// explicitly is an error.
  private static func decode<Mapping: ScalarMapping>(
    _ file: CorpusFile, into scratch: UnsafeMutableBufferPointer<Int32>, mapping: Mapping,
    _ sink: (UnsafeMutableBufferPointer<Int32>) throws -> Void
  ) throws -> Bool {
    var binary = false
    try file.readChunks(of: scratch.count) { bytes, offset, isLast in
      if offset == 0, let nul = bytes[..<min(bytes.count, 8192)].firstIndex(of: 0) {
        if file.explicit { throw CorpusError.binaryFile(path: file.path, byteOffset: nul) }
        binary = true
        return nil
      }
      let end = isLast ? bytes.count : completeSequencesLength(bytes)
      switch decodeUTF8(UnsafeBufferPointer(rebasing: bytes[..<end]), into: scratch, mapping: mapping) {
      case .success(let count):
        try sink(UnsafeMutableBufferPointer(rebasing: scratch[..<count]))
      case .failure(let failure):
        throw try invalidUTF8(in: file, at: offset + failure.offset, reason: failure.reason)
      }
      return end
    }
    return !binary
  }

  /// The error for an ill-formed sequence at byte `offset` of `file`, with its line and column
  /// (counted by reading the file again up to there).
  private static func invalidUTF8(in file: CorpusFile, at offset: Int, reason: String) throws -> CorpusError {
    var position = TextPosition()
    try file.readChunks { bytes, start, _ in
      position.advance(over: UnsafeBufferPointer(rebasing: bytes[..<min(bytes.count, offset - start)]))
      return start + bytes.count < offset ? bytes.count : nil
    }
    return .invalidUTF8(
      path: file.path, byteOffset: offset, line: position.line, column: position.column, reason: reason)
  }
}
