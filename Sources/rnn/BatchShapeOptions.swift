import ArgumentParser
import RNN

/// `--seq-length` and `--batch-size`, shared by `train` and `bench`. Optional, so that
/// `train --resume` can tell what was given; the defaults are `TrainConfig`'s.
struct BatchShapeOptions: ParsableArguments {
  @Option(parsing: .unconditional, help: "Steps of backpropagation through time per batch (default: \(TrainConfig().seqLength)).")
  var seqLength: Int?
  @Option(parsing: .unconditional, help: "Sequences per batch (default: \(TrainConfig().batchSize)).")
  var batchSize: Int?

  func validate() throws {
    if let seqLength { try requirePositive(seqLength, "seq-length") }
    if let batchSize { try requirePositive(batchSize, "batch-size") }
  }

  /// `T` and `B`: those given, else the defaults.
  var steps: Int { seqLength ?? TrainConfig().seqLength }
  var rows: Int { batchSize ?? TrainConfig().batchSize }
}
