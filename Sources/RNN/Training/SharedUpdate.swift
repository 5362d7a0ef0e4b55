import CKernels
import RNNCore

/// The update of a data-parallel step, made once per machine: the ranks on a machine keep one copy
/// of the parameters in memory they share (`CKernels/mpi_node.c`), and each rank sums, measures,
/// clips and updates only its own part of them.
///
/// Without it, every rank sums the whole gradient buffer, takes its norm and runs the optimizer over
/// every parameter: the same work N times on a machine of N ranks, and work whose share of a step
/// grows as each rank's share of the batch shrinks (for a 2 x 512 LSTM at 16 streams, the optimizer,
/// the norm and the sum's writes are about 3% of a rank's step). With it, local rank `l` of `n`:
/// - sums part `l` of every rank's gradients into its own buffer (and across machines, part `l`
///   among the ranks of local rank `l`), where the whole sum wrote every rank's;
/// - clamps that part (`--grad-clip-value`), and adds its sum of squares and whether it is finite
///   to the sums that follow each step (`normTerms`), from which every rank gets the same norm;
/// - clips and updates part `l` of the parameters and of its optimizer's buffers, which are so
///   current only there (`Trainer.gatherOptimizer()` makes them whole for a checkpoint);
/// - waits for the other ranks of its machine (`finish()`) before anyone reads the parameters.
///
/// The update is the same, element by element, as one made over the whole buffer; only the norm's
/// sum of squares is added in another order.
public final class SharedUpdate {
  /// This rank's part of the flat parameters and gradients.
  public let part: Range<Int>
  /// This rank among the ranks on its machine, their number, and its machine's index among the
  /// machines, as the ranks of its local rank order them (`rnn_mpi_node_place`).
  private let localRank: Int, localRanks: Int, machine: Int

  /// Moves `parameters`' values into the machine's shared copy (local rank 0's copied there), or
  /// returns nil, on every rank alike, where there is no room for it. Every rank calls it once, at
  /// the same point, after `MPICommunicator.sumGradients(of:)` moved the gradients of the same
  /// parameters into shared memory, with the same values on every rank.
  init?(_ parameters: Parameters) throws(DataParallelError) {
    var status: Int32 = 0
    let shared = rnn_mpi_node_values_setup(parameters.values.baseAddress!, &status)
    guard status == 0 else { throw .communication(call: "the shared parameters' setup", status: status) }
    guard let shared else { return nil }
    parameters.keepValues(in: UnsafeMutableBufferPointer(start: shared, count: parameters.count))
    var (lo, hi) = (0, 0)
    rnn_mpi_node_part(&lo, &hi)
    part = lo..<hi
    var (rank, ranks, machine) = (Int32(0), Int32(0), Int32(0))
    rnn_mpi_node_place(&rank, &ranks, &machine)
    (localRank, localRanks, self.machine) = (Int(rank), Int(ranks), Int(machine))
  }

  /// Sums this rank's part of the ranks' gradients into its own (the rest of its buffer keeps its
  /// own gradients). Every rank calls it at the same point.
  func sumGradients() throws(DataParallelError) {
    let status = rnn_mpi_node_reduce()
    guard status == 0 else { throw .communication(call: "the shared-memory sum", status: status) }
  }

  /// The terms this rank adds to the step's sum across ranks (`Communicator.sum(_:)`, beside the
  /// loss), for the norm of the summed gradients: its part's sum of squares, in the slot of its local
  /// rank, only from machine 0 of those of its local rank (every machine has the same sums), and a
  /// 1 where its part is not finite. With `clipValue > 0`, a finite part is clamped to it first, as
  /// `clip_grad_value_` before the norm.
  func normTerms(of parameters: Parameters, clipValue: Float) -> [Double] {
    var terms = [Double](repeating: 0, count: localRanks + 1)
    if let squares = parameters.clampedGradientSumOfSquares(clipValue: clipValue, in: part) {
      if machine == 0 { terms[localRank] = squares }
    } else {
      terms[localRanks] = 1
    }
    return terms
  }

  /// The norm of the summed gradients from the summed `normTerms`, or nil where a part is not
  /// finite: the same on every rank (each term has one non-zero addend, so its sum is exact).
  func norm(from totals: ArraySlice<Double>) -> Float? {
    guard totals.last == 0 else { return nil }
    return Float(totals.dropLast().reduce(0, +).squareRoot())
  }

  /// Returns once every rank on this machine has updated its part: after it, any rank may read
  /// all the parameters.
  func finish() throws(DataParallelError) {
    let status = rnn_mpi_node_barrier()
    guard status == 0 else { throw .communication(call: "the shared update's barrier", status: status) }
  }

  /// `buffer` (`[P]`, an optimizer's) with only what this rank contributes to the whole one: its
  /// part, from machine 0 only, and zeros elsewhere; summed across all ranks, the parts
  /// make the whole buffer.
  func ownPart(of buffer: [Float]) -> [Float] {
    var own = [Float](repeating: 0, count: buffer.count)
    if machine == 0 { own[part] = buffer[part] }
    return own
  }
}
