import Foundation
import RNN
import XCTest

/// The device seam: the layers, the losses and the optimizers reach the numbers only through
/// the `ComputeBackend` their parameters were made with, and the CPU's gives the numbers it gave
/// before.
final class ComputeBackendTests: XCTestCase {
  /// A training step of a `CharLM` (embedding table, two LSTM layers, dropout, decoder, loss,
  /// clipping, Adam) runs every product, cell step, loss and update on the model's backend, with
  /// the same numbers as the default one.
  func testACharLMTrainingStepRunsOnItsModelsBackend() throws {
    var generator = RandomGenerator(seed: 31)
    let config = CharLMConfig(cell: .lstm, layers: 2, hidden: 24, embedding: 8, vocabularySize: 20, dropout: 0.25)
    let tokens = (0..<2_000).map { _ in Int32(generator.next() % 20) }
    var trainConfig = TrainConfig()
    (trainConfig.batchSize, trainConfig.seqLength) = (6, 10)
    let counting = CountingBackend()
    var reports: [[Trainer.StepReport]] = []
    var models: [CharLM] = []
    for backend in [CPUBackend(), counting] as [any ComputeBackend] {
      var initialization = RandomGenerator(seed: 32)
      let model = CharLM(config, backend: backend, using: &initialization)
      let trainer = Trainer(
        model: model, batches: try BatchIterator(tokens: tokens, batchSize: 6, seqLength: 10), config: trainConfig)
      reports.append(try (0..<2).map { _ in try trainer.step() })
      models.append(model)
    }
    XCTAssertEqual(reports[1].map(\.loss), reports[0].map(\.loss))
    XCTAssertEqual(reports[1].map(\.gradientNorm), reports[0].map(\.gradientNorm))
    XCTAssertEqual(Array(models[1].parameters.values), Array(models[0].parameters.values))

    let calls = counting.calls
    let (steps, time, layers, slices) = (2, 10, 2, min(Parallel.width, 6))
    // One call per time step and slice of the batch, forward and backward.
    XCTAssertEqual(calls["lstmForwardStep"], steps * layers * time * slices)
    XCTAssertEqual(calls["lstmBackwardStep"], steps * layers * time * slices)
    XCTAssertEqual(calls["gemm"], 2 * steps * layers * time * slices)
    // One call per product over a whole sequence, per loss, per update.
    XCTAssertEqual(calls["softmaxCrossEntropy"], steps)
    XCTAssertEqual(calls["adamStep"], steps)
    XCTAssertEqual(calls["uninterrupted"], steps)
    XCTAssertEqual(calls["dropoutMask"], steps * layers)
    for name in [
      "parallelGemm", "accumulateWeightGradient", "fillRows", "addColumnSums", "gatherRows", "scatterAddRows",
      "sumOfSquares", "holdConstant", "releaseConstant", "multiply",
    ] {
      XCTAssertGreaterThan(calls[name] ?? 0, 0, name)
    }
    // Finite gradients are proven so by their norm: no element-wise pass over them.
    XCTAssertNil(calls["allFinite"], "a finiteness pass over finite gradients")
  }

  /// A model of one's own (a GRU stack, a bidirectional Elman layer, a decoder) trained by
  /// `Optimizer.minimize` runs on the backend its `Model` was made with, with the CPU's numbers.
  func testAModelOfOnesOwnRunsOnItsBackend() throws {
    var data = RandomGenerator(seed: 41)
    let x = randomTensor([7, 3, 5], &data)
    let labels: [Int32] = [0, 2, 1]
    let counting = CountingBackend()
    var losses: [[Float]] = []
    var values: [[Float]] = []
    for backend in [CPUBackend(), counting] as [any ComputeBackend] {
      var generator = RandomGenerator(seed: 42)
      let model = Model(using: &generator, backend: backend) { make in
        (
          reader: make.recurrent(.gru, inputSize: 5, hiddenSize: 6, layers: 2),
          both: make.bidirectional(.rnnRelu, inputSize: 6, hiddenSize: 4),
          classify: make.linear(inputSize: 8, outputSize: 3)
        )
      }
      var sgd = Optimizer(.sgd, for: model.parameters)
      losses.append(
        (0..<3).map { _ in
          sgd.minimize(model.parameters, learningRate: 0.1) { tape in
            let (y, _) = model.reader(tape.input(x), on: tape)
            let (z, _) = model.both(y, on: tape)
            return tape.softmaxCrossEntropy(model.classify(tape.meanOverTime(z), on: tape), targets: labels)
          }
        })
      values.append(Array(model.parameters.values))
    }
    XCTAssertEqual(losses[1], losses[0])
    XCTAssertEqual(values[1], values[0])
    let calls = counting.calls
    for name in [
      "gruForwardStep", "gruBackwardStep", "elmanForwardStep", "elmanBackwardStep", "softmaxCrossEntropy", "sgdStep",
      "sumOfSquares", "add",
    ] {
      XCTAssertGreaterThan(calls[name] ?? 0, 0, name)
    }
    XCTAssertEqual(calls["sgdStep"], 3)
  }

  /// A minGRU layer made on a backend runs its scan there, forward and backward.
  func testAMinGRULayerRunsOnItsBackend() {
    var layout = ParameterLayout()
    let layer = RecurrentLayer(MinGRUCell(), inputSize: 3, hiddenSize: 4, layout: &layout)
    let counting = CountingBackend()
    var generator = RandomGenerator(seed: 51)
    let x = randomTensor([5, 2, 3], &generator)
    var results: [[Float]] = []
    for backend in [CPUBackend(), counting] as [any ComputeBackend] {
      var initialization = RandomGenerator(seed: 52)
      let parameters = Parameters(layout, backend: backend, using: &initialization)
      let (y, final, cache) = layer.forward(x, state: layer.zeroState(batch: 2), parameters: parameters)
      let (dx, _) = layer.backward(y, dState: final, cache: cache, parameters: parameters)
      results.append(y.scalars + dx.scalars + Array(parameters.gradients))
    }
    XCTAssertEqual(results[1], results[0])
    XCTAssertEqual(counting.calls["minGRUForwardStep"], 5 * min(Parallel.width, 2))
    XCTAssertEqual(counting.calls["minGRUBackwardStep"], 5 * min(Parallel.width, 2))
  }

  /// The folders of the layers, losses, optimizers, models and the tape call no kernel, no
  /// `BLAS` and no reduction of `Parallel` themselves: only through a `ComputeBackend` (`Tensor`
  /// holds the CPU's). `Parallel`'s threading (`split`, `pairStages`, `width`) stays theirs.
  func testTheLayersReachTheKernelsOnlyThroughTheBackend() throws {
    let library = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Sources/RNNCore")
    let forbidden = try NSRegularExpression(
      pattern:
        #"^\s*import\s+CKernels\b|\bBLAS\.|\bParallel\.(?!split\b|pairStages\b|pair\b|width\b|timeStepsSharedByUnits\b)\w+|\brnn_\w+\s*\("#,
      options: .anchorsMatchLines)
    var found: [String] = []
    var scanned = 0
    for folder in ["Layers", "Losses", "Optimizers", "Models", "Autograd"] {
      let directory = library.appendingPathComponent(folder)
      for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".swift") {
        let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
          let code = line.replacingOccurrences(of: #"//.*"#, with: "", options: .regularExpression)
          if forbidden.firstMatch(in: code, range: NSRange(code.startIndex..., in: code)) != nil {
            found.append("\(folder)/\(file):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
          }
        }
        scanned += 1
      }
    }
    XCTAssertGreaterThan(scanned, 20, "the folders' files were found")
    XCTAssertEqual(found, [], "calls past the backend")
  }
}
