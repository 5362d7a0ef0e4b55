import ArgumentParser
import RNN

/// Options every command that computes shares.
struct ComputeOptions: ParsableArguments {
  @Option(parsing: .unconditional, help: "Threads for matrix products (0: one per core).")
  var threads: Int = 0

  @Option(help: "Matrix-multiply library: automatic, onednn, openblas or builtin.")
  var blas: BLAS.Backend = .automatic

  func validate() throws {
    guard (0...1024).contains(threads) else {
      throw ValidationError("--threads must be from 0 (one per core) to 1024, got \(threads)")
    }
  }

  /// Loads the chosen BLAS with the chosen threads.
  func configure() { BLAS.configure(blas, threads: threads) }
}

extension BLAS.Backend: ExpressibleByArgument {}
extension CellKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}

/// The `--cell` spellings: PyTorch's module names, `rnn` meaning the tanh RNN.
enum CellOption: String, ExpressibleByArgument, CaseIterable {
  case lstm, gru, rnn
  case rnnTanh = "rnn_tanh"
  case rnnRelu = "rnn_relu"

  var kind: CellKind {
    switch self {
    case .lstm: .lstm
    case .gru: .gru
    case .rnn, .rnnTanh: .rnnTanh
    case .rnnRelu: .rnnRelu
    }
  }
}

/// Checks that an option is positive.
func requirePositive<T: Comparable & Numeric>(_ value: T, _ name: String) throws {
  guard value > 0 else { throw ValidationError("--\(name) must be positive, got \(value)") }
}

/// Checks that an option is within `range`.
func requireWithin(_ range: ClosedRange<Int>, _ value: Int, _ name: String) throws {
  guard !range.contains(value) else { return }
  let (low, high) = (range.lowerBound, range.upperBound)
  let bounds = low == 1 ? "positive and at most \(high)" : "from \(low) to \(high)"
  throw ValidationError("--\(name) must be \(bounds), got \(value)")
}
