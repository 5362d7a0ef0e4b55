import Foundation
import RNN

/// Seconds since `start`, a `ContinuousClock` instant.
func seconds(since start: ContinuousClock.Instant) -> Double {
  let elapsed = ContinuousClock.now - start
  return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// Trains `parameters` with Adam for `steps` updates, at `learningRate` for the first three
/// quarters and a third of it after; `loss` records the loss of the next batch on a tape. Logs
/// the loss (a running average) every `logEvery` steps and at the end.
func train(
  _ parameters: Parameters, steps: Int, learningRate: Float, logEvery: Int, log: (String) -> Void,
  loss: (Tape) -> Variable
) {
  var adam = Optimizer(.adam, for: parameters)
  let schedule = LearningRateSchedule.milestones(learningRate, at: [steps * 3 / 4], gamma: 1 / 3)
  var average = 0.0
  for step in 1...steps {
    let value = Double(adam.minimize(parameters, learningRate: schedule(step - 1), loss: loss))
    average = step == 1 ? value : 0.98 * average + 0.02 * value
    if step % logEvery == 0 || step == steps { log("step \(step)/\(steps)  loss " + String(format: "%.4f", average)) }
  }
}

/// "97.25%": a fraction as a percentage with two decimals.
func percent(_ fraction: Double) -> String {
  String(format: "%.2f%%", 100 * fraction)
}

/// The share of each class `0 ..< classes` among `labels`; the largest is the accuracy of always
/// answering the most frequent class.
func shares(_ labels: [Int32], classes: Int) -> [Double] {
  var counts = [Int](repeating: 0, count: classes)
  for label in labels { counts[Int(label)] += 1 }
  return counts.map { Double($0) / Double(labels.count) }
}

/// For each class `0 ..< classes`, the fraction of the answers of that class predicted right
/// (nil for a class with no answers).
func accuracyByClass(_ predictions: [Int32], _ answers: [Int32], classes: Int) -> [Double?] {
  (0..<classes).map { label in
    let rows = answers.indices.filter { answers[$0] == label }
    return rows.isEmpty ? nil : accuracy(rows.map { predictions[$0] }, rows.map { answers[$0] })
  }
}
