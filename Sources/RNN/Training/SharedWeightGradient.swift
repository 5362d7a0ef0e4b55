import CKernels
import RNNCore

/// One weight gradient a step, `w [O, I] += dy^T x` over each rank's rows, made by all the ranks
/// on a machine together through memory they share (`CKernels/mpi_share.c`), so that a rank that
/// finishes its own work early takes over part of a slower rank's instead of waiting for it.
///
/// Each rank, when its backward reaches the product, copies its operands `dy [N, O]` and
/// `x [N, I]` into its area of the shared memory and publishes the product as blocks of rows of
/// `w`; then it computes blocks, its own first, then the other ranks' as they publish, until every
/// block is taken. A block goes into its owner's gradients (which `MPICommunicator` keeps in shared
/// memory) and is computed the same way whichever rank takes it: the gradients do not depend on who
/// did the work (with equal shares a run repeats bit for bit). The sum of the gradients that
/// follows waits for every block.
///
/// The trainer shares the bottom recurrent layer's `W_hh` (`Trainer`): its product is the last
/// large one of a step's backward: 30 ms of a rank's 0.35 s step for a 2 x 512 LSTM at batch 16,
/// here cut into 32 blocks of about 1 ms.
public final class SharedWeightGradient: WeightGradientSharing {
  /// What this rank did in one shared product.
  public struct Report: Sendable {
    /// Seconds spent waiting for other ranks to publish their products.
    public var idleSeconds = 0.0
    /// Seconds spent on this rank's own blocks, and their number.
    public var ownSeconds = 0.0, ownBlocks = 0
    /// Seconds spent on other ranks' blocks, and their number.
    public var helpingSeconds = 0.0, helpingBlocks = 0
    /// Of this rank's blocks, those that other ranks computed.
    public var blocksTakenOver = 0

    /// Of `elapsed`, this rank's seconds from the start of a step to the sum of the gradients,
    /// those its own work would have taken alone: without the wait and its help on others'
    /// blocks, with its blocks that others took over at its own pace (or, where it made none of
    /// its own, at its pace on others').
    public func ownWork(of elapsed: Double) -> Double {
      let perBlock =
        ownBlocks > 0 ? ownSeconds / Double(ownBlocks) : helpingBlocks > 0 ? helpingSeconds / Double(helpingBlocks) : 0
      return elapsed - idleSeconds - helpingSeconds + perBlock * Double(blocksTakenOver)
    }
  }

  /// Blocks a rank's product is cut into (fewer where `O` is small): small enough that the ranks
  /// finish within a block of each other, large enough that each is an efficient product.
  static let blocksPerProduct = 32

  /// This rank's area, `capacity` floats: its `dy`, then its `x`.
  private let area: UnsafeMutablePointer<Float>
  private let capacity: Int
  /// This rank among the ranks on its machine.
  private let rank = Int(rnn_mpi_share_rank())
  /// The products so far, this one's number: the same on every rank.
  private var round: Int32 = 0
  /// What this rank did in the last product.
  public private(set) var report = Report()

  /// Sets up the shared memory for products whose operands hold at most `floats` floats
  /// (`N * (O + I)`); nil, on every rank alike, where the gradients are not summed through shared
  /// memory (`MPICommunicator.gradientSum`) or the memory is not there. Every rank calls it once,
  /// at the same point.
  init?(floats: Int) {
    guard let area = rnn_mpi_share_setup(floats) else { return nil }
    self.area = area
    capacity = floats
  }

  public func accumulate(_ terms: [BLAS.GradientTerm], into weight: ParameterRef, of parameters: Parameters) {
    let (o, i) = (weight.shape[0], weight.shape[1])
    let n = terms.reduce(0) { $0 + $1.n }
    round &+= 1
    report = Report()
    let rows = max(1, (o + Self.blocksPerProduct - 1) / Self.blocksPerProduct)
    // Operands that do not fit, or gradients elsewhere: this rank makes its product alone.
    let sharesGradients = parameters.gradients.baseAddress == rnn_mpi_share_gradients(Int32(rank))
    let blocks = sharesGradients && n * (o + i) <= capacity ? (o + rows - 1) / rows : 0
    if blocks > 0 {
      // dy block by block, each `[N, rows]` (its own rows of w as columns), so that a block's
      // product reads it whole: as fast as the product of the whole weight, where strided
      // columns took a quarter longer.
      var (row, x) = (0, area + n * o)
      for term in terms {
        for r in 0..<term.n {
          let source = term.dy + r * term.ldy
          for first in stride(from: 0, to: o, by: rows) {
            let count = min(rows, o - first)
            (area + first * n + (row + r) * count).update(from: source + first, count: count)
          }
        }
        x.update(from: term.x, count: term.n * i)
        (row, x) = (row + term.n, x + term.n * i)
      }
    }
    // The task's words: O, I, N, the weight's offset in the gradients, rows of w a block.
    rnn_mpi_share_publish(round, blocks, [o, i, n, weight.offset, rows])
    if blocks == 0 { parameters.backend.accumulateWeightGradient(o, i, terms, into: parameters.gradient(weight)) }
    var (owner, block, words) = (Int32(0), 0, [Int](repeating: 0, count: Int(RNN_SHARE_WORDS)))
    let backend = parameters.backend
    while rnn_mpi_share_claim(round, &owner, &block, &words, &report.idleSeconds) == 1 {
      let start = ContinuousClock.now
      compute(block: block, of: Int(owner), words, backend)
      let elapsed = seconds(since: start)
      if Int(owner) == rank {
        (report.ownSeconds, report.ownBlocks) = (report.ownSeconds + elapsed, report.ownBlocks + 1)
      } else {
        (report.helpingSeconds, report.helpingBlocks) = (report.helpingSeconds + elapsed, report.helpingBlocks + 1)
      }
    }
    report.blocksTakenOver = blocks - report.ownBlocks
  }

  /// Block `block` of local rank `owner`'s product: rows `[r, r + rows)` of its `w`,
  /// `w[r..., :] += dy[:, r...]^T x`, from the operands in its area into its gradients.
  private func compute(block: Int, of owner: Int, _ words: [Int], _ backend: any ComputeBackend) {
    let (o, i, n, offset, rows) = (words[0], words[1], words[2], words[3], words[4])
    let first = block * rows
    let count = min(rows, o - first)
    let dy = UnsafePointer(rnn_mpi_share_area(Int32(owner))!)
    let w = rnn_mpi_share_gradients(Int32(owner))! + offset
    backend.parallelGemm(
      true, false, count, i, n, alpha: 1, dy + first * n, lda: count, dy + n * o, ldb: i, beta: 1, w + first * i,
      ldc: i)
  }
}
