/// How the files of a corpus become symbols, and symbols become output.
///
/// - `utf8`: files must be UTF-8 text; each Unicode scalar is one symbol.
/// - `bytes`: any file, binary ones included; each byte is one symbol. Byte `b` is represented by
///   the scalar U+0000 + `b` (U+0000 ... U+00FF), so the vocabulary, the model and the sampler
///   still see "characters"; reading and writing convert at the edges. A byte-level vocabulary is
///   always all 256 bytes in order (`Vocabulary.bytes`), so token id = byte value and no input is
///   ever outside it.
///
/// A checkpoint records the encoding of its vocabulary in `__metadata__["encoding"]`; a checkpoint
/// without that entry is `utf8`.
public enum TextEncoding: String, CaseIterable, Sendable {
  case utf8
  case bytes
}
