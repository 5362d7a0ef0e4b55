extension Corpus {
  /// The characters of a text that a vocabulary lacks.
  public struct UnknownCharacters: Equatable, Sendable {
    /// How many characters of the text (not distinct ones) are outside the vocabulary.
    public var count: Int
    /// Up to five distinct ones, in order of first appearance.
    public var examples: [Unicode.Scalar]

    /// Counts one more, keeping it as an example if it is new and there are fewer than five.
    mutating func record(_ scalar: Unicode.Scalar) {
      count += 1
      if examples.count < 5 && !examples.contains(scalar) { examples.append(scalar) }
    }
  }

  /// Reads the files at `paths` as `load(paths:)` does and encodes the text with `vocabulary`,
  /// writing the id of `replacement` for every character outside it (to fine-tune a model on text
  /// with a few characters it has never seen). `replacement` must be in `vocabulary`.
  ///
  /// Returns the corpus (its vocabulary is `vocabulary`) and what was replaced, nil if nothing.
  /// Costs one extra pass over the ids and a second id buffer while it runs. A byte-level
  /// vocabulary has every byte, so nothing is replaced.
  public static func load(
    paths: [String], vocabulary: Vocabulary, replacingUnknownWith replacement: Unicode.Scalar
  ) throws -> (corpus: Corpus, replaced: UnknownCharacters?) {
    guard let replacementID = vocabulary.id(of: replacement) else {
      fatalError("the replacement \(replacement.readable) is not in the vocabulary")
    }
    let own = try load(paths: paths, encoding: vocabulary.encoding)
    // Own id -> id in `vocabulary`; -1 marks characters it lacks.
    let mapping = own.vocabulary.scalars.map { vocabulary.id(of: $0) ?? -1 }
    var unknown = UnknownCharacters(count: 0, examples: [])
    let tokens = TokenBuffer(
      capacity: own.text.count, bytesPerToken: TokenIDs.bytesPerToken(vocabularySize: vocabulary.count))
    own.text.forEachChunk { ids in
      for i in ids.indices {
        let id = mapping[Int(ids[i])]
        if id < 0 { unknown.record(own.vocabulary.scalar(for: ids[i])) }
        ids[i] = id < 0 ? replacementID : id
      }
      tokens.append(UnsafeBufferPointer(ids))
    }
    let text = TokenIDs(tokens)
    let replaced = unknown.count > 0 ? unknown : nil
    return (Corpus(text: text, vocabulary: vocabulary, sources: own.sources), replaced)
  }
}
