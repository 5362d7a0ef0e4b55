import ArgumentParser
import Examples
import RNN

/// `rnn example NAME`: trains and scores one of the examples of the RNN taxonomy.
struct Example: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run an example of the RNN taxonomy on a real task; print its accuracy and time.",
    discussion: """
      addition      many-to-many, encoder-decoder: "357+409" -> "766" (generated sums)
      digit-rows    many-to-one: a handwritten digit read one row per step (scikit-learn's digits)
      digit-names   one-to-many: a digit image -> its English name, letter by letter
      code-tagging  synced many-to-many: each character of C code -> code, comment or string
      line-origin   many-to-one on text: which corpus a line comes from
      """)

  /// The examples, by command-line name.
  enum Name: String, ExpressibleByArgument, CaseIterable {
    case addition
    case digitRows = "digit-rows"
    case digitNames = "digit-names"
    case codeTagging = "code-tagging"
    case lineOrigin = "line-origin"
  }

  @Argument(help: "The example: \(Name.allCases.map(\.rawValue).joined(separator: ", ")).")
  var name: Name
  @Option(help: "Training steps (default: each example's own).")
  var steps: Int?
  @Option(help: "Seed for the data, the split, the initialisation and the batch order.")
  var seed: UInt64 = 1
  @Flag(help: "A small model on a small part of the data for few steps (seconds; what the tests run).")
  var quick = false
  @Option(
    name: .customLong("data"), parsing: .upToNextOption,
    help: "digit-rows, digit-names: a CSV file (pixels then label per line) or MNIST IDX images and labels files.")
  var data: [String] = []
  @OptionGroup var compute: ComputeOptions

  func validate() throws {
    if let steps { try requirePositive(steps, "steps") }
  }

  func run() throws {
    compute.configure()
    let settings = ExampleSettings(steps: steps, seed: seed, quick: quick, data: data)
    let result: ExampleResult =
      switch name {
      case .addition: Addition.run(settings, log: say)
      case .digitRows: try DigitRows.run(settings, log: say)
      case .digitNames: try DigitNames.run(settings, log: say)
      case .codeTagging: try CodeTagging.run(settings, log: say)
      case .lineOrigin: try LineOrigin.run(settings, log: say)
      }
    var line = "\(name.rawValue): \(result.metric): \(fixed(100 * result.accuracy, 2))%"
    if let baseline = result.baseline { line += " (majority-class baseline \(fixed(100 * baseline, 2))%)" }
    say(line + " in \(formatDuration(result.seconds)) (\(fixed(result.seconds, 1)) s)")
  }
}
