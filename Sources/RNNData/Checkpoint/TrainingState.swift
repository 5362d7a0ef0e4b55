import Foundation

/// Everything besides the model that resuming a run needs: the training config, progress
/// (step, epoch, batch, dropout generator, best validation loss), the optimizer's buffers and
/// the state carried between batches.
///
/// It lives in its own file beside the checkpoint, `<name>.training.safetensors`, so that the
/// checkpoint itself stays a plain PyTorch state dict. Tensors: `optimizer.<buffer>` `[P]` (the
/// flat parameter store, PyTorch's buffer names), `state.h_l<k>` / `state.c_l<k>` `[B,H]`.
/// Metadata: `"format"`, `"step"` (must equal the checkpoint's), `"train_config"`,
/// `"progress"`, `"optimizer"`, `"data"` (size and hash of the training text) and `"run"`
/// (`RunRecord`: the run's id, which the checkpoint must carry too, its model and data sources;
/// absent in states saved before runs had records).
public struct TrainingState {
  public static let format = "swift-rnn-training/1"

  public var config: TrainConfig
  public var progress: TrainingProgress
  public var optimizer: Optimizer
  public var state: [RecurrentState]
  /// Identifies the training text, so a resumed run can check it reads the same data.
  public var data: String
  /// The run it belongs to (nil in states saved before runs had records).
  public var run: RunRecord?

  public init(
    config: TrainConfig, progress: TrainingProgress, optimizer: Optimizer, state: [RecurrentState], data: String,
    run: RunRecord? = nil
  ) {
    self.config = config
    self.progress = progress
    self.optimizer = optimizer
    self.state = state
    self.data = data
    self.run = run
  }

  /// The training-state file that goes with checkpoint `path` (`x.safetensors` -> `x.training.safetensors`).
  public static func path(besides checkpoint: String) -> String {
    let base = checkpoint.hasSuffix(".safetensors") ? String(checkpoint.dropLast(".safetensors".count)) : checkpoint
    return base + ".training.safetensors"
  }

  /// A short fingerprint of a token sequence (count and FNV-1a hash).
  public static func fingerprint(_ tokens: TokenIDs) -> String {
    var hash = FNV1a()
    tokens.forEachChunk { chunk in
      for token in chunk { hash.combine(UInt64(UInt32(bitPattern: token))) }
    }
    return "\(tokens.count):\(String(hash.value, radix: 16))"
  }

  /// The file contents.
  public func encoded() -> SafeTensors {
    var tensors: [(name: String, tensor: Tensor)] = optimizer.kind.bufferNames.map {
      ("optimizer.\($0)", Tensor(shape: [optimizer.buffers[$0]!.count], scalars: optimizer.buffers[$0]!))
    }
    for (l, layer) in state.enumerated() {
      tensors.append(("state.h_l\(l)", layer.h))
      if let c = layer.c { tensors.append(("state.c_l\(l)", c)) }
    }
    let encoder = JSONEncoder.sorted
    var metadata = [
      "format": Self.format, "step": String(progress.step), "data": data,
      "train_config": String(decoding: try! encoder.encode(config), as: UTF8.self),
      "progress": String(decoding: try! encoder.encode(progress), as: UTF8.self),
      "optimizer": String(decoding: try! encoder.encode(Self.describe(optimizer)), as: UTF8.self),
    ]
    if let run { metadata["run"] = String(decoding: try! encoder.encode(run), as: UTF8.self) }
    return SafeTensors(tensors: tensors, metadata: metadata)
  }

  /// The `"optimizer"` entry: kind, updates and hyperparameters, as strings.
  private static func describe(_ optimizer: Optimizer) -> [String: String] {
    let h = optimizer.hyperparameters
    return [
      "kind": optimizer.kind.rawValue, "steps": String(optimizer.steps), "beta1": "\(h.beta1)", "beta2": "\(h.beta2)",
      "epsilon": "\(h.epsilon)", "weight_decay": "\(h.weightDecay)", "alpha": "\(h.alpha)", "momentum": "\(h.momentum)",
    ]
  }

  /// The hyperparameters of an `"optimizer"` entry; those it lacks (states saved before they were
  /// kept) take the defaults; nil if one is not a finite number.
  private static func hyperparameters(_ entry: [String: String]) -> Optimizer.Hyperparameters? {
    var h = Optimizer.Hyperparameters()
    let fields: [(String, WritableKeyPath<Optimizer.Hyperparameters, Double>)] = [
      ("beta1", \.beta1), ("beta2", \.beta2), ("epsilon", \.epsilon), ("weight_decay", \.weightDecay),
      ("alpha", \.alpha), ("momentum", \.momentum),
    ]
    for (key, path) in fields {
      guard let text = entry[key] else { continue }
      guard let value = Double(text), value.isFinite else { return nil }
      h[keyPath: path] = value
    }
    return h
  }

  /// Writes the file atomically.
  public func write(to path: String) throws { try encoded().write(to: path) }

  /// Reads the training state saved beside checkpoint `checkpoint` and validates it against it:
  /// same step, same run (the ids in both files), same model (its fingerprint), buffers and
  /// carried state of the model's sizes.
  public init(besides checkpoint: Checkpoint, at checkpointPath: String) throws {
    let path = Self.path(besides: checkpointPath)
    func fail(_ reason: String) -> CheckpointError { .trainingState(path: path, reason: reason) }
    func requireFinite(_ tensor: Tensor, _ name: String) throws {
      let count = tensor.nonFiniteCount
      guard count == 0 else { throw CheckpointError.nonFinite(path: path, name: name, count: count, total: tensor.count) }
    }
    let file: SafeTensors
    do { file = try SafeTensors(contentsOf: path) } catch let error as SafeTensorsError {
      if case .unreadable(_, let reason) = error { throw fail("training state unreadable (\(reason))") }
      throw CheckpointError.format(path: path, error)
    }
    guard file.metadata["format"] == Self.format else { throw fail("not a swift-rnn training state") }
    guard file.metadata["step"] == String(checkpoint.step) else {
      throw fail("it is from step \(file.metadata["step"] ?? "?"), the checkpoint from step \(checkpoint.step)")
    }
    let decoder = JSONDecoder()
    func decode<T: Decodable>(_ type: T.Type, _ key: String) throws -> T {
      guard let text = file.metadata[key], let value = try? decoder.decode(type, from: Data(text.utf8)) else {
        throw fail("missing or invalid \"\(key)\"")
      }
      return value
    }
    let record = try file.metadata["run"].map { _ in try decode(RunRecord.self, "run") }
    guard record?.id == checkpoint.run else {
      func name(_ id: String?) -> String { id.map { "run \($0)" } ?? "no run" }
      throw fail(
        "it belongs to \(name(record?.id)), the checkpoint to \(name(checkpoint.run)); a training state only resumes "
          + "the checkpoint saved with it")
    }
    let fingerprint = RunRecord.fingerprint(of: checkpoint.model.config, vocabulary: checkpoint.vocabulary)
    if let record, record.model != fingerprint {
      throw fail("it belongs to another model (other shape or vocabulary) than the checkpoint")
    }
    run = record
    config = try decode(TrainConfig.self, "train_config")
    progress = try decode(TrainingProgress.self, "progress")
    guard progress.generator.count == 4, progress.step == checkpoint.step, progress.epoch >= 0, progress.batch >= 0 else {
      throw fail("invalid progress")
    }
    let optimizerInfo = try decode([String: String].self, "optimizer")
    guard let kind = optimizerInfo["kind"].flatMap(OptimizerKind.init(rawValue:)), kind == config.optimizer,
      let steps = optimizerInfo["steps"].flatMap({ Int($0) }), let hyperparameters = Self.hyperparameters(optimizerInfo)
    else { throw fail("invalid optimizer entry") }
    var buffers: [String: [Float]] = [:]
    for name in kind.bufferNames {
      guard let tensor = file["optimizer.\(name)"] else { throw fail("optimizer buffer \(name) is missing") }
      try requireFinite(tensor, "optimizer.\(name)")
      buffers[name] = tensor.scalars
    }
    let model = checkpoint.model
    do {
      optimizer = try Optimizer(
        kind, steps: steps, buffers: buffers, parameterCount: model.parameters.count, hyperparameters: hyperparameters)
    } catch { throw fail("\(error)") }
    let shape = [config.batchSize, model.config.hidden]
    state = try (0..<model.config.layers).map { l in
      guard let h = file["state.h_l\(l)"], h.shape == shape else { throw fail("carried state h_l\(l) is missing or not \(shape)") }
      try requireFinite(h, "state.h_l\(l)")
      var c: Tensor? = nil
      if model.config.cell.hasCellState {
        guard let value = file["state.c_l\(l)"], value.shape == shape else { throw fail("carried state c_l\(l) is missing or not \(shape)") }
        try requireFinite(value, "state.c_l\(l)")
        c = value
      }
      return RecurrentState(h: h, c: c)
    }
    data = file.metadata["data"] ?? ""
  }
}

// MARK: - Recovery

extension TrainingState {
  /// Finishes a save of the checkpoint at `checkpointPath` and its training state that was killed
  /// between its two renames (`SafeTensors.write(_:)`): the training state beside it is already
  /// the new one, and the new model lies complete in the save's temporary file. Renames that file
  /// into place and returns the step it completed; returns nil (and changes nothing) in any other
  /// case.
  public static func completeInterruptedSave(of checkpointPath: String) -> Int? {
    let slash = checkpointPath.lastIndex(of: "/")
    let directory = slash.map { String(checkpointPath[...$0]) } ?? ""
    let name = slash.map { String(checkpointPath[checkpointPath.index(after: $0)...]) } ?? checkpointPath
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
    let candidates = names.filter { $0.hasPrefix("." + name + ".tmp-") }
    guard !candidates.isEmpty,
      let state = try? SafeTensors(contentsOf: path(besides: checkpointPath)),
      let stateStep = state.metadata["step"].flatMap({ Int($0) }),
      (try? Checkpoint(contentsOf: checkpointPath))?.step != stateStep
    else { return nil }
    for candidate in candidates {
      let temporary = directory + candidate
      guard (try? Checkpoint(contentsOf: temporary))?.step == stateStep else { continue }
      return rename(temporary, checkpointPath) == 0 ? stateStep : nil
    }
    return nil
  }
}
