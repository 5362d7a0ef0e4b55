/// Sums across the ranks of a data-parallel run: MPI's allreduce (`MPICommunicator`) or a
/// stand-in. Every rank calls the same sums in the same order with buffers of the same length.
public protocol Communicator: AnyObject {
  /// This process's rank, `0 ..< size`; rank 0 is the one that writes files and prints.
  var rank: Int { get }
  /// The number of ranks, `N`.
  var size: Int { get }
  /// Replaces `buffer` on every rank with the element-wise sum of all ranks' buffers.
  func sum(_ buffer: UnsafeMutableBufferPointer<Float>) throws(DataParallelError)
  /// Replaces `buffer` on every rank with the element-wise sum of all ranks' buffers.
  func sum(_ buffer: UnsafeMutableBufferPointer<Double>) throws(DataParallelError)
  /// Replaces the gradients of `parameters` on every rank with their sum over all ranks: the same
  /// as `sum(parameters.gradients)`, by the fastest way this communicator has (it may move the
  /// gradients, with `Parameters.keepGradients(in:)`, into memory the ranks share).
  func sumGradients(of parameters: Parameters) throws(DataParallelError)
  /// From now on, has the ranks on each machine make the product of `weight`'s gradient together
  /// (`SharedWeightGradient`), for operands of at most `rows` rows (`dy [N, O]`, `x [N, I]`,
  /// `N <= rows`); returns the sharing, or nil where this communicator cannot. Every rank calls it
  /// at the same point, after `sumGradients(of:)` has moved the gradients of `parameters`.
  func shareWeightGradient(of weight: ParameterRef, in parameters: Parameters, rows: Int) -> SharedWeightGradient?
  /// From now on, has the ranks on each machine keep one copy of `parameters` and each update its
  /// own part of it (`SharedUpdate`); returns the sharing, or nil where this communicator cannot.
  /// Every rank calls it at the same point, with the same values, after `sumGradients(of:)` has
  /// moved the gradients of `parameters`.
  func shareUpdate(of parameters: Parameters) throws(DataParallelError) -> SharedUpdate?
}

extension Communicator {
  public func sumGradients(of parameters: Parameters) throws(DataParallelError) {
    try sum(parameters.gradients)
  }

  public func shareWeightGradient(of weight: ParameterRef, in parameters: Parameters, rows: Int)
    -> SharedWeightGradient?
  {
    nil
  }

  public func shareUpdate(of parameters: Parameters) throws(DataParallelError) -> SharedUpdate? { nil }

  /// The element-wise sum of `values` over all ranks.
  public func sum(_ values: [Double]) throws(DataParallelError) -> [Double] {
    var values = values
    try values.withUnsafeMutableBufferPointer { (buffer) throws(DataParallelError) in try sum(buffer) }
    return values
  }

  /// Whether `flag` is true on any rank (every rank gets the same answer).
  public func any(_ flag: Bool) throws(DataParallelError) -> Bool {
    try sum([flag ? 1 : 0])[0] > 0
  }
}

/// One rank's part in a data-parallel run: the ranks to sum gradients with, and how the ranks
/// divide each batch's streams.
public struct DataParallel {
  public let communicator: Communicator
  /// Whether the shares follow the ranks' speeds (`StreamBalance`), or stay equal: then a run
  /// with the same number of ranks repeats bit for bit, as its gradients are always summed in the
  /// same order.
  public let balancesStreams: Bool
  /// The equal shares every run starts from.
  public let equalShares: StreamBalance

  /// Rank `communicator.rank`'s part in training batches of `batchSize` streams; throws
  /// `DataParallelError.indivisibleBatch` unless the ranks divide the batch evenly.
  public init(_ communicator: Communicator, batchSize: Int, balancesStreams: Bool = true) throws(DataParallelError) {
    guard batchSize % communicator.size == 0 else {
      throw .indivisibleBatch(batchSize: batchSize, ranks: communicator.size)
    }
    self.communicator = communicator
    self.balancesStreams = balancesStreams
    equalShares = StreamBalance(ranks: communicator.size, total: batchSize)
  }
}

/// Errors of a data-parallel run.
public enum DataParallelError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The process was started by `mpirun` but MPI cannot be used; `reason` says why.
  case unavailable(reason: String)
  /// The global batch of `batchSize` streams does not divide evenly among `ranks` ranks.
  case indivisibleBatch(batchSize: Int, ranks: Int)
  /// An MPI call returned the error status `status`.
  case communication(call: String, status: Int32)

  public var description: String {
    switch self {
    case .unavailable(let reason):
      return "started by mpirun but cannot use MPI: \(reason)"
    case .indivisibleBatch(let batchSize, let ranks):
      return "--batch-size \(batchSize) does not divide among \(ranks) ranks: each rank trains batch-size / ranks "
        + "streams; use a multiple of \(ranks)"
    case .communication(let call, let status):
      return "\(call) failed with MPI error \(status)"
    }
  }
}
