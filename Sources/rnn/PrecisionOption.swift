import ArgumentParser
import RNN

extension Precision: ExpressibleByArgument {}

/// `--precision` of the commands that run the batch-1 model (sample, eval, visualize, bench).
struct PrecisionOption: ParsableArguments {
  @Option(
    help: """
      Weights of the batch-1 model: fp32, bf16 or int8 (rounded from the fp32 checkpoint when it \
      loads). bf16 and int8 stream a half and a quarter of the bytes per character.
      """)
  var precision: Precision = .fp32
}
