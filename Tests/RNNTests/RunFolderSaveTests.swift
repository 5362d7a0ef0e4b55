import Foundation
import RNN
import XCTest

/// `RunFolder` in the library: what a save writes and keeps, and where samples go.
final class RunFolderSaveTests: FolderTestCase {
  private func run(keep: Int) throws -> (RunFolder, Checkpoint, TrainingState) {
    var generator = RandomGenerator(seed: 1)
    let vocabulary = Vocabulary(building: "abc")
    let model = CharLM(
      CharLMConfig(cell: .gru, layers: 1, hidden: 4, embedding: 3, vocabularySize: vocabulary.count), using: &generator)
    let state = TrainingState(
      config: TrainConfig(), progress: TrainingProgress(seed: 0),
      optimizer: Optimizer(
        .adam, parameterCount: model.parameters.count, hyperparameters: .init(beta2: 0.98, weightDecay: 0.01)),
      state: model.zeroState(batch: TrainConfig().batchSize), data: "x")
    return (RunFolder(folder + "/run", keep: keep), Checkpoint(model: model, vocabulary: vocabulary), state)
  }

  private func names(_ folder: RunFolder) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
  }

  func testASaveWritesLatestWithItsTrainingState() throws {
    let (folder, checkpoint, state) = try run(keep: 1)
    try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
    try folder.save(checkpoint, state: state, step: 5)
    XCTAssertEqual(try names(folder), ["latest.safetensors", "latest.training.safetensors"])
    let loaded = try Checkpoint(contentsOf: folder.latest)
    XCTAssertEqual(loaded.model.config, checkpoint.model.config)
    let restored = try TrainingState(besides: loaded, at: folder.latest)
    XCTAssertEqual(restored.data, "x")
    XCTAssertEqual(restored.optimizer.hyperparameters, .init(beta2: 0.98, weightDecay: 0.01), "kept with the run")
  }

  func testStepFilesBeyondTheLastKeepAreDeleted() throws {
    let (folder, checkpoint, state) = try run(keep: 2)
    try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
    for step in [10, 20, 30] { try folder.save(checkpoint, state: state, step: step) }
    XCTAssertEqual(
      try names(folder),
      [
        "latest.safetensors", "latest.training.safetensors", "step-20.safetensors", "step-20.training.safetensors",
        "step-30.safetensors", "step-30.training.safetensors",
      ])
  }

  func testSamplesAreKeptByStepAndAnUnwritableOneIsNamed() throws {
    let (folder, _, _) = try run(keep: 1)
    try folder.saveSample(Array("hello".utf8), step: 7)
    XCTAssertEqual(try String(contentsOfFile: folder.samples + "/step-7.txt", encoding: .utf8), "hello")
    let blocked = RunFolder(folder.samples + "/step-7.txt")  // a file where the folder should be
    XCTAssertThrowsError(try blocked.saveSample([1], step: 1)) { error in
      XCTAssertTrue("\(error)".hasPrefix("cannot write \(blocked.samples)/step-1.txt: "), "\(error)")
    }
  }
}
