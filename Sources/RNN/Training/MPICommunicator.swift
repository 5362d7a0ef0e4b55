import CKernels

/// The ranks of an `mpirun` job, through Open MPI loaded at run time (see `CKernels/mpi.c`):
/// nothing about MPI is needed to build or to run as one process.
public final class MPICommunicator: Communicator {
  public let rank: Int
  public let size: Int
  /// How `sumGradients(of:)` sums: nil until its first call decides, or `.allreduce` from the start
  /// when sharing is off.
  public private(set) var gradientSum: GradientSum?
  /// The parameters whose gradients live in memory the ranks on each machine share.
  private weak var sharedGradients: Parameters?

  /// The ways to sum gradients.
  public enum GradientSum: String, Sendable {
    /// MPI_Allreduce: one rank on a machine, machines with different numbers of ranks, a second
    /// model's gradients, or when asked for.
    case allreduce = "MPI_Allreduce"
    /// Through the memory that the ranks, all on one machine, share.
    case sharedMemory = "shared memory"
    /// Through shared memory on each machine, then MPI_Allreduce across the machines.
    case sharedMemoryThenAllreduce = "shared memory on each machine, then MPI_Allreduce across machines"
  }

  /// Whether this process was started by `mpirun` (Open MPI's or another PMIx launcher's
  /// environment variables), so should join the job rather than train alone.
  public static func isLaunched(environment: [String: String]) -> Bool {
    environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil || environment["PMI_RANK"] != nil
  }

  /// The rank and size `mpirun` gave this process in its environment, before MPI is loaded (to
  /// check arguments before joining), or nil if it did not say.
  public static func launchedPlace(environment: [String: String]) -> (rank: Int, size: Int)? {
    guard let size = environment["OMPI_COMM_WORLD_SIZE"].flatMap({ Int($0) }),
      let rank = environment["OMPI_COMM_WORLD_RANK"].flatMap({ Int($0) })
    else { return nil }
    return (rank, size)
  }

  /// Loads Open MPI (`library`: a file name or path of its libmpi, or nil for the system's
  /// `libmpi.so.40`) and joins the job (MPI_Init). Call once per process; `finalize()` or
  /// `abort(code:)` ends it. Throws `DataParallelError.unavailable` when MPI cannot be used.
  /// Without `sharingGradients`, `sumGradients(of:)` always uses MPI_Allreduce.
  public init(library: String? = nil, sharingGradients: Bool = true) throws(DataParallelError) {
    var rank: Int32 = 0
    var size: Int32 = 0
    var error = [CChar](repeating: 0, count: 512)
    guard rnn_mpi_init(library, &rank, &size, &error, error.count) == 0 else {
      throw .unavailable(
        reason: String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    self.rank = Int(rank)
    self.size = Int(size)
    if !sharingGradients { gradientSum = .allreduce }
  }

  public func sum(_ buffer: UnsafeMutableBufferPointer<Float>) throws(DataParallelError) {
    guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
    let status = rnn_mpi_sum_floats(base, buffer.count)
    guard status == 0 else { throw .communication(call: "MPI_Allreduce", status: status) }
  }

  public func sum(_ buffer: UnsafeMutableBufferPointer<Double>) throws(DataParallelError) {
    guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
    let status = rnn_mpi_sum_doubles(base, buffer.count)
    guard status == 0 else { throw .communication(call: "MPI_Allreduce", status: status) }
  }

  /// Sums the gradients of `parameters` through memory the ranks on each machine share
  /// (`CKernels/mpi_node.c`), when the job allows: the first call moves them there, every rank
  /// calling it at the same point (`gradientSum` then says which way it went). Only the first
  /// `Parameters` gets this; others' sums use MPI_Allreduce.
  /// The gradients must not be used after `finalize()`.
  public func sumGradients(of parameters: Parameters) throws(DataParallelError) {
    if gradientSum == nil {
      var machines: Int32 = 0
      if let storage = rnn_mpi_node_sum_setup(parameters.count, &machines) {
        parameters.keepGradients(in: UnsafeMutableBufferPointer(start: storage, count: parameters.count))
        sharedGradients = parameters
        gradientSum = machines == 1 ? .sharedMemory : .sharedMemoryThenAllreduce
      } else {
        gradientSum = .allreduce
      }
    }
    guard sharedGradients === parameters else { return try sum(parameters.gradients) }
    let status = rnn_mpi_node_sum()
    guard status == 0 else { throw .communication(call: "the shared-memory sum", status: status) }
  }

  /// Shares the product of `weight`'s gradient among the ranks on each machine where the gradients
  /// of `parameters` are summed through shared memory and the operands fit there.
  public func shareWeightGradient(of weight: ParameterRef, in parameters: Parameters, rows: Int)
    -> SharedWeightGradient?
  {
    guard sharedGradients === parameters, weight.shape.count == 2,
      let sharing = SharedWeightGradient(floats: rows * (weight.shape[0] + weight.shape[1]))
    else { return nil }
    parameters.shareWeightGradient(of: weight, with: sharing)
    return sharing
  }

  /// Has the ranks on each machine share one copy of `parameters` and each update its part
  /// (`SharedUpdate`), where their gradients are summed through shared memory and the copy fits
  /// there. Every rank calls it at the same point, with the same values. The parameters must not
  /// be used after `finalize()`.
  public func shareUpdate(of parameters: Parameters) throws(DataParallelError) -> SharedUpdate? {
    guard sharedGradients === parameters else { return nil }
    return try SharedUpdate(parameters)
  }

  /// Leaves the job normally; every rank calls it once, at the end.
  public func finalize() { rnn_mpi_finalize() }

  /// Ends every rank of the job at once with exit status `code`.
  public func abort(code: Int32) -> Never {
    rnn_mpi_abort(code)
    fatalError("MPI_Abort returned")
  }
}
