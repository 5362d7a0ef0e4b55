import CKernels

/// How the process treats memory that a training step frees.
public enum FreedMemory {
  /// Keeps freed memory in the process for the next training step instead of returning it to the
  /// system, for allocations up to 32 MiB (glibc's limit for heap allocations).
  ///
  /// A training step allocates and frees tens of megabytes of per-step buffers (gate caches,
  /// gradients). By default glibc unmaps or trims them after each step, and the next step takes
  /// page faults to get them back, zeroed by the kernel: 2x512 GRU training ran 20% faster with
  /// this (median of 5 alternating runs, 10.1k against 8.4k tokens/s). Resident memory stays at
  /// its peak instead. Process-wide, so a library leaves it to its program: the `rnn` command
  /// calls it at start. Does nothing where the C library is not glibc.
  public static func keepForReuse() { rnn_keep_freed_memory() }
}
