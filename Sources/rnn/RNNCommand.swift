import ArgumentParser
import RNN

/// The `rnn` command: train, sample from and score character-level recurrent language models.
@main
struct RNNCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rnn",
    abstract: "Recurrent neural networks: train, sample from and score character-level language models.",
    subcommands: [Train.self, Sample.self, Eval.self, Bench.self, Plot.self, Visualize.self, Example.self]
  )

  /// Runs the command, then fails if its standard output could not be written.
  static func main() {
    FreedMemory.keepForReuse()
    do {
      var command = try parseAsRoot()
      try command.run()
      try checkStandardOutput()
    } catch {
      exit(withError: error)
    }
  }
}
