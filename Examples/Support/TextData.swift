import RNN

/// Character ids for the text examples: an ASCII character is its own code, `0...127`; any other
/// character (rare in source code) shares id `128`.
enum ASCIITokens {
  /// `V`: the 128 ASCII codes and one for everything else.
  static let count = 129

  static func id(_ character: Unicode.Scalar) -> Int32 { character.isASCII ? Int32(character.value) : 128 }
}

/// The characters of the UTF-8 text file at `path`, read with `Corpus.load` (so a file that is
/// missing, unreadable, empty or not UTF-8 throws its one-line `CorpusError`).
func characters(ofFile path: String) throws -> [Unicode.Scalar] {
  let corpus = try Corpus.load(paths: [path])
  return corpus.text.map { corpus.vocabulary.scalars[Int($0)] }
}
