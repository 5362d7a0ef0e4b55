import Glibc
import Synchronization

/// The signal that asked training to stop, 0 if none. Written only by the signal handler.
private let stopSignal = Atomic<Int32>(0)

/// SIGINT, SIGTERM and SIGHUP (a closed terminal) as requests to stop: the handler only records
/// the signal; `rnn train` hands `received != nil` to the library's `TrainingRun` as its stop
/// request, which it asks after each step, and on a stop saved exits with `128 + signal`. The handler restores the default actions, so a second signal ends
/// the process at once. (Matrix products hold signals back while they run: see `blas.c`.)
enum StopRequest {
  /// Installs the handlers, without `SA_RESTART`: a write blocked on a terminal or pipe that no
  /// one reads any more (`mpirun` stops reading its ranks' output when it passes on a Ctrl-C)
  /// returns when the signal comes instead of holding the stop up until the process is killed.
  static func install() {
    stopSignal.store(0, ordering: .relaxed)  // initialises the global here, not in the handler
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { received in
      stopSignal.store(received, ordering: .relaxed)
      _ = Glibc.signal(SIGINT, SIG_DFL)
      _ = Glibc.signal(SIGTERM, SIG_DFL)
      _ = Glibc.signal(SIGHUP, SIG_DFL)
    }
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0
    for number in [SIGINT, SIGTERM, SIGHUP] { sigaction(number, &action, nil) }
  }

  /// The signal received since `install()`, if any.
  static var received: Int32? {
    let received = stopSignal.load(ordering: .relaxed)
    return received == 0 ? nil : received
  }

  /// "SIGINT", "SIGTERM", "SIGHUP" or "signal N".
  static func name(_ number: Int32) -> String {
    switch number {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    case SIGHUP: "SIGHUP"
    default: "signal \(number)"
    }
  }
}
