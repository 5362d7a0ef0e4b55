import ArgumentParser
import RNN

/// `--cell`, `--layers`, `--hidden` and `--embedding`, shared by `train` and `bench`. Optional,
/// so that `train --resume` and `--init-from` can tell what was given; the defaults are
/// `CharLMConfig`'s (the embedding's: `defaultEmbedding` for `train`, `benchmarkEmbedding` for
/// `bench`).
struct ModelShapeOptions: ParsableArguments {
  @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn_relu (default: \(CharLMConfig.defaultCell.rawValue)).")
  var cell: CellOption?
  @Option(
    parsing: .unconditional,
    help: "Stacked recurrent layers (default: \(CharLMConfig.defaultLayers); at most \(CharLMConfig.layersRange.upperBound)).")
  var layers: Int?
  @Option(
    parsing: .unconditional,
    help: "Hidden size of each layer (default: \(CharLMConfig.defaultHidden); at most \(CharLMConfig.hiddenRange.upperBound)).")
  var hidden: Int?
  @Option(
    parsing: .unconditional,
    help: """
      Size of the character embedding (default: \(CharLMConfig.defaultEmbedding) for train, the hidden size for bench; \
      at most \(CharLMConfig.embeddingRange.upperBound)).
      """)
  var embedding: Int?

  func validate() throws {
    if let layers { try requireWithin(CharLMConfig.layersRange, layers, "layers") }
    if let hidden { try requireWithin(CharLMConfig.hiddenRange, hidden, "hidden") }
    if let embedding { try requireWithin(CharLMConfig.embeddingRange, embedding, "embedding") }
  }

  /// The cell, layers and hidden size: those given, else the defaults.
  var cellKind: CellKind { cell?.kind ?? CharLMConfig.defaultCell }
  var layerCount: Int { layers ?? CharLMConfig.defaultLayers }
  var hiddenSize: Int { hidden ?? CharLMConfig.defaultHidden }
}
