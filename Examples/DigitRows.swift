import RNN

/// **Many-to-one, sequential processing of data that is not a sequence: reading a digit row by
/// row.** An image of `R` rows of `C` pixels is a sequence of `R` steps of `C` features; an LSTM
/// reads it one row per step, and a linear layer classifies its final state (`h` after the last
/// row) as one of the ten digits. Trained with a per-sequence softmax cross-entropy; scored on
/// a held-out fifth of the images. Works unchanged on MNIST's 28x28 images (`--data` IDX files).
public enum DigitRows {
  /// `LSTM(C -> H)` over the rows, `Linear(H -> classes)` on the final state.
  struct Layers {
    let reader: Bound<RecurrentStack>
    let classifier: Bound<Linear>

    static func model(columns: Int, hidden: Int, classes: Int, using generator: inout RandomGenerator) -> Model<Layers> {
      Model(using: &generator) { make in
        Layers(
          reader: make.recurrent(.lstm, inputSize: columns, hiddenSize: hidden),
          classifier: make.linear(inputSize: hidden, outputSize: classes))
      }
    }

    /// Records the classifier's logits `[B, classes]` for `rows [R,B,C]`.
    func logits(_ rows: Tensor, on tape: Tape) -> Variable {
      let (_, final) = reader(tape.input(rows), on: tape)
      return classifier(final[0].h, on: tape)
    }

    /// The most probable class of each image at `indices`.
    func classify(_ images: LabeledImages, _ indices: [Int]) -> [Int32] {
      let tape = Tape(recording: false)
      return tape[logits(images.rows(of: indices), on: tape)].argmaxRows()
    }
  }

  /// Trains on a seeded 80% of the images (batches of 32, Adam) and reports the accuracy on the
  /// other 20%.
  public static func run(_ settings: ExampleSettings, log: (String) -> Void) throws -> ExampleResult {
    let started = ContinuousClock.now
    var generator = RandomGenerator(seed: settings.seed)
    let (training, heldOut) = try DigitImages.split(settings, using: &generator, log: log)
    let model = Layers.model(
      columns: training.columns, hidden: settings.quick ? 32 : 128, classes: max(training.classes, heldOut.classes),
      using: &generator)
    var batches = Minibatches(count: training.count, size: 32)
    train(model.parameters, steps: settings.steps ?? (settings.quick ? 300 : 2000), learningRate: 3e-3, logEvery: 250, log: log) { tape in
      let batch = batches.next(using: &generator)
      return tape.softmaxCrossEntropy(model.layers.logits(training.rows(of: batch), on: tape), targets: batch.map { training.labels[$0] })
    }

    let all = Array(0..<heldOut.count)
    return ExampleResult(
      metric: "accuracy on \(heldOut.count) held-out images",
      accuracy: accuracy(model.layers.classify(heldOut, all), heldOut.labels), baseline: nil, seconds: seconds(since: started))
  }
}
