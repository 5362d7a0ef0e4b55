import ArgumentParser
import Foundation
import RNN

/// `rnn eval`: scores a text with a trained model, in nats and bits per character.
struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Score text with a trained model (loss per character).",
    discussion: "The text is read as one continuous stream from a zero state, batch 1, no dropout; the first character is not scored. On a terminal, a status line on standard error shows the progress of a long text.")

  @Option(help: "Checkpoint to evaluate.")
  var checkpoint: String
  @Option(name: .customLong("data"), parsing: .upToNextOption, help: "Files or folders to score (UTF-8 text, or any file for a byte-level model).")
  var paths: [String]
  @Flag(help: "Print one JSON object: loss_nats_per_char, bits_per_char, characters (the number scored).")
  var json = false
  @OptionGroup var compute: ComputeOptions
  @OptionGroup var weights: PrecisionOption
  @OptionGroup var device: DeviceOption

  func validate() throws {
    guard !paths.isEmpty else { throw ValidationError("--data needs at least one file") }
    try device.check(weights.precision)
  }

  func run() throws {
    compute.configure()
    let gpu = try device.open()
    let loaded = try Checkpoint(contentsOf: checkpoint)
    let corpus = try Corpus.load(paths: paths, vocabulary: loaded.vocabulary)
    guard corpus.text.count >= 2 else { throw Failure("the text has \(corpus.text.count) character; at least 2 are needed to score one") }
    let status = TerminalStatus()
    let start = monotonicSeconds()
    let report = { (done: Int, total: Int) in
      if done < total { status.update(TerminalStatus.progress("scoring", done: done, of: total, unit: "characters", since: start)) }
    }
    // fp32 through the sequence model (on the GPU or the CPU); bf16 and int8 through the step
    // model that sampling runs.
    let (nats, count) =
      if let gpu {
        try onGPU { () throws(CUDAError) in
          try CUDALanguageModel(loaded.model, on: gpu).loss(of: corpus.text, batch: 1, chunk: 1000, progress: report)
        }
      } else if weights.precision == .fp32 {
        loaded.model.loss(of: corpus.text, batch: 1, chunk: 1000, progress: report)
      } else {
        loaded.model.stepLoss(of: corpus.text, precision: weights.precision, progress: report)
      }
    status.clear()
    let mean = nats / Double(count)
    guard mean.isFinite else { throw Failure("the loss on this text is not finite: \(checkpoint)'s values overflow") }
    if json {
      print("{\"loss_nats_per_char\": \(mean), \"bits_per_char\": \(mean / log(2)), \"characters\": \(count)}")
    } else {
      print("\(fixed(mean, 4)) nats/char, \(fixed(mean / log(2), 4)) bits/char over \(count) characters")
    }
  }
}
