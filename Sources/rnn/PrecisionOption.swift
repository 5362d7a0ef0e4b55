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

extension BLAS.ProductPrecision: ExpressibleByArgument {}

/// `rnn train --precision`: the precision of training's matrix products.
struct TrainingPrecisionOption: ParsableArguments {
  @Option(
    help: """
      Matrix products: fp32, or bf16 (operands rounded to bf16, fp32 accumulation; master weights, \
      optimizer, loss and checkpoints stay fp32). bf16 needs AMX or AVX512-BF16 and oneDNN; \
      elsewhere a notice says so and training runs in fp32.
      """)
  var precision: BLAS.ProductPrecision = .fp32

  /// Sets the products' precision; where bf16 cannot run, says so in one line.
  func configure() {
    if precision == .bf16, BLAS.setProductPrecision(.bf16) != .bf16 {
      say("Training in fp32: \(BLAS.bf16Kernel).")
    }
  }
}
