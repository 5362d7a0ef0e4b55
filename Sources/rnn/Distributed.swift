import ArgumentParser
import Foundation
import RNN

/// How `rnn train` and `rnn bench` take part in an `mpirun` job (see README, "Training on several
/// machines"): each rank runs the same command; rank 0 alone prints and writes files.
enum Distributed {
  /// Microseconds a rank other than 0 waits, on an error rank 0 meets too, for rank 0 to print it
  /// and end the job before it speaks itself.
  static let rankZeroGrace: UInt32 = 2_000_000

  /// Joins the job when this process was started by `mpirun`; nil when it runs alone. Open MPI's
  /// libmpi is the system's `libmpi.so.40` unless `RNN_MPI_LIBRARY` names another;
  /// `RNN_GRADIENT_SUM=allreduce` sums the gradients by MPI_Allreduce alone, not through the
  /// memory the ranks on a machine share (`shared`, the default). A known
  /// `batchSize` that does not divide among the ranks is refused first, before MPI starts, by
  /// rank 0 alone (the other ranks say nothing and exit with the same status two seconds later,
  /// once rank 0's message is out and mpirun is ending the job). Ranks other than
  /// 0 print nothing on standard output from here on.
  static func join(batchSize: Int?, environment: [String: String] = ProcessInfo.processInfo.environment) throws
    -> MPICommunicator?
  {
    guard MPICommunicator.isLaunched(environment: environment) else { return nil }
    if let batchSize, let place = MPICommunicator.launchedPlace(environment: environment), batchSize % place.size != 0 {
      let error = DataParallelError.indivisibleBatch(batchSize: batchSize, ranks: place.size)
      guard place.rank == 0 else {
        // mpirun ends the whole job as soon as any rank fails: leave rank 0 the time to say why.
        usleep(rankZeroGrace)
        throw ExitCode.failure
      }
      throw Failure(error.description)
    }
    let sharing = environment["RNN_GRADIENT_SUM"] ?? "shared"
    guard sharing == "shared" || sharing == "allreduce" else {
      throw Failure("RNN_GRADIENT_SUM must be shared or allreduce, not \(sharing)")
    }
    let communicator: MPICommunicator
    do {
      communicator = try MPICommunicator(
        library: environment["RNN_MPI_LIBRARY"], sharingGradients: sharing == "shared")
    } catch {
      throw Failure(error.description)
    }
    if communicator.rank != 0 {
      fflush(nil)
      let null = open("/dev/null", O_WRONLY)
      if null >= 0 {
        dup2(null, STDOUT_FILENO)
        close(null)
      }
    }
    return communicator
  }

  /// Runs `body` as one rank of `communicator`'s job (or alone when nil). Ending normally, or
  /// with an `ExitCode` that every rank reaches together (a stop on a signal), leaves MPI in
  /// order; any other error ends the whole job at once, as the other ranks may be waiting for this
  /// one in a sum. Rank 0 prints its error; another rank first gives rank 0 two seconds to end the
  /// job over the same error (most errors, such as unreadable data, strike every rank alike), and
  /// prints its own, with its rank named, only if it is still running then.
  static func run<Result>(_ communicator: MPICommunicator?, _ body: () throws -> Result) throws -> Result {
    guard let communicator else { return try body() }
    do {
      let result = try body()
      communicator.finalize()
      return result
    } catch let code as ExitCode {
      communicator.finalize()
      throw code
    } catch {
      if communicator.rank != 0 {
        // mpirun's SIGTERM either ends this process or, once training has begun, is recorded.
        for _ in 0..<rankZeroGrace / 50_000 where StopRequest.received == nil { usleep(50_000) }
        if StopRequest.received != nil { communicator.abort(code: 1) }
      }
      let rank = communicator.rank == 0 ? "" : "rank \(communicator.rank): "
      FileHandle.standardError.write(Data("Error: \(rank)\(String(describing: error))\n".utf8))
      communicator.abort(code: 1)
    }
  }

  /// A note for rank 0 to print when `mpirun` keeps its default of killing the ranks 1 s after
  /// passing them Ctrl-C or SIGTERM: too soon to finish a step and save. Nil when it was told more.
  static func stopGraceNote(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    guard MPICommunicator.isLaunched(environment: environment),
      environment["OMPI_MCA_odls_base_sigkill_timeout"] == nil
    else { return nil }
    return "Note: mpirun kills the ranks 1 s after Ctrl-C or SIGTERM, which may cut the last save short; "
      + "start it with --mca odls_base_sigkill_timeout 3 to save on a stop."
  }
}
