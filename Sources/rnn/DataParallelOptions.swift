import ArgumentParser
import RNN

/// `--even-shares`, shared by `train` and `bench`: how the ranks of an `mpirun` job divide each
/// batch's streams.
struct DataParallelOptions: ParsableArguments {
  @Flag(
    help: """
      Under mpirun: keep each batch's streams equally shared among the ranks, so that a run repeats \
      bit for bit. By default a rank that finishes its streams later than the others gets fewer of \
      them (the model is the same up to the order of summation).
      """)
  var evenShares = false

  /// `communicator`'s part in training batches of `batchSize` streams, or nil when training alone.
  func dataParallel(_ communicator: Communicator?, batchSize: Int) throws -> DataParallel? {
    try communicator.map { try DataParallel($0, batchSize: batchSize, balancesStreams: !evenShares) }
  }
}
