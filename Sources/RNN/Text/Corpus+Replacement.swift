extension Corpus {
  /// The characters of a text that a vocabulary lacks.
  public struct UnknownCharacters: Equatable, Sendable {
    /// How many characters of the text (not distinct ones) are outside the vocabulary.
    public var count: Int
    /// Up to five distinct ones, in order of first appearance.
    public var examples: [Unicode.Scalar]
  }

  /// Reads the files at `paths` as `load(paths:)` does and encodes the text with `vocabulary`,
  /// writing the id of `replacement` for every character outside it (to fine-tune a model on text
  /// with a few characters it has never seen). `replacement` must be in `vocabulary`.
  ///
  /// Returns the corpus (its vocabulary is `vocabulary`) and what was replaced, nil if nothing.
  /// Costs one extra pass over the ids and a second id buffer while it runs.
  public static func load(
    paths: [String], vocabulary: Vocabulary, replacingUnknownWith replacement: Unicode.Scalar
  ) throws -> (corpus: Corpus, replaced: UnknownCharacters?) {
    guard let replacementID = vocabulary.id(of: replacement) else {
      preconditionFailure("the replacement \(replacement.readable) is not in the vocabulary")
    }
    let own = try load(paths: paths)
    // Own id -> id in `vocabulary`; -1 marks characters it lacks.
    let mapping = own.vocabulary.scalars.map { vocabulary.id(of: $0) ?? -1 }
    var unknownCount = 0
    let text = [Int32](unsafeUninitializedCapacity: own.text.count) { ids, initialized in
      own.text.withUnsafeBufferPointer { source in
        mapping.withUnsafeBufferPointer { mapping in
          for i in source.indices {
            let id = mapping[Int(source[i])]
            unknownCount &+= id < 0 ? 1 : 0
            ids[i] = id < 0 ? replacementID : id
          }
        }
      }
      initialized = own.text.count
    }
    var replaced: UnknownCharacters? = nil
    if unknownCount > 0 {
      let distinct = mapping.reduce(0) { $0 + ($1 < 0 ? 1 : 0) }
      var examples: [Unicode.Scalar] = []
      for id in own.text where mapping[Int(id)] < 0 {
        let scalar = own.vocabulary.scalar(for: id)
        if !examples.contains(scalar) { examples.append(scalar) }
        if examples.count == min(5, distinct) { break }
      }
      replaced = UnknownCharacters(count: unknownCount, examples: examples)
    }
    return (Corpus(text: text, vocabulary: vocabulary, sources: own.sources), replaced)
  }
}
