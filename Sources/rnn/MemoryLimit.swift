import Foundation
import RNN

/// The memory this process may use: the least of the machine's physical memory, its control
/// group's limit (a container's) and `ulimit -v`.
struct MemoryLimit {
  let bytes: Double
  /// What sets the limit, for messages.
  let source: String

  /// The limit now in force.
  static func current() -> MemoryLimit {
    var limits = [
      MemoryLimit(
        bytes: Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE))),
        source: "this machine's memory")
    ]
    // cgroup v2, then v1 (whose "no limit" is a huge number, which the minimum ignores).
    for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
      if let text = try? String(contentsOfFile: path, encoding: .utf8),
        let value = Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
      {
        limits.append(MemoryLimit(bytes: value, source: "the memory limit of this control group (\(path))"))
      }
    }
    var address = rlimit()
    if getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &address) == 0, address.rlim_cur != rlim_t.max {
      limits.append(MemoryLimit(bytes: Double(address.rlim_cur), source: "the address-space limit (ulimit -v)"))
    }
    return limits.min { $0.bytes < $1.bytes }!
  }
}

/// Refuses, in one line with its size, a model that cannot be trained on batches of `batchSize`
/// x `seqLength` in the memory this process may use, before anything of it is allocated. Before
/// the text is read, `model.vocabularySize` may be a lower bound (`vocabularyKnown` false).
func requireFits(
  _ model: CharLMConfig, optimizer: OptimizerKind, batchSize: Int, seqLength: Int, vocabularyKnown: Bool = true
) throws {
  let footprint = try TrainingFootprint(model: model, optimizer: optimizer, batchSize: batchSize, seqLength: seqLength)
  let limit = MemoryLimit.current()
  guard footprint.totalBytes > limit.bytes else { return }
  let parts = [
    ("parameters", footprint.parameterBytes), ("gradients", footprint.gradientBytes),
    ("\(optimizer.rawValue) buffers", footprint.optimizerBytes), ("activations", footprint.activationBytes),
  ]
  throw Failure(
    "the model does not fit in memory: training \(model.layers) x \(model.cell.rawValue) \(model.hidden), embedding \(model.embedding)"
      + (vocabularyKnown
        ? ", vocabulary \(model.vocabularySize) (\(footprint.parameterCount) parameters)"
        : " (before the text is read)")
      + " on batches of \(batchSize) x \(seqLength) "
      + "needs at least \(formatBytes(footprint.totalBytes)) to train (\(parts.map { "\($0.0) \(formatBytes($0.1))" }.joined(separator: ", "))), "
      + "more than the \(formatBytes(limit.bytes)) of \(limit.source)")
}

/// "812.0 MiB", "53.9 GiB"; beyond EiB, "1.2e+23 bytes".
func formatBytes(_ bytes: Double) -> String {
  var value = bytes
  for unit in ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] {
    if value < 1024 { return unit == "bytes" ? "\(Int(value)) bytes" : "\(fixed(value, 1)) \(unit)" }
    value /= 1024
  }
  return String(format: "%.1e bytes", bytes)
}
