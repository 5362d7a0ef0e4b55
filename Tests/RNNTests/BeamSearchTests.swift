import Foundation
import XCTest

@testable import RNN
@testable import RNNCore

/// Beam search against greedy decoding (`Sampler`), against exhaustive search over every sequence,
/// and against log-probabilities recomputed one sequence at a time.
final class BeamSearchTests: XCTestCase {
  /// A random model whose decoder weights are scaled by 2, so that its distributions are peaked
  /// enough for the search to matter and for near-ties to be rare.
  private func model(_ cell: CellKind = .lstm, vocabulary v: Int, seed: UInt64) -> CharLM {
    var generator = RandomGenerator(seed: seed)
    let model = CharLM(
      CharLMConfig(cell: cell, layers: 2, hidden: 24, embedding: 8, vocabularySize: v), using: &generator)
    let weight = model.parameters.value(model.decoder.weight)
    for i in 0..<model.decoder.weight.count { weight[i] *= 2 }
    return model
  }

  /// The log-probability of `tokens` after `prime` (or after `start` if the prime is empty),
  /// computed from one run of the sequence model over the whole text, batch 1.
  private func logProbability(_ model: CharLM, prime: [Int32], start: Int32 = 0, _ tokens: [Int32]) -> Double {
    let context = prime.isEmpty ? [start] : prime
    let inputs = context + tokens.dropLast()
    let tape = Tape(recording: false)
    let (logits, _) = model(
      inputs, time: inputs.count, batch: 1, state: model.zeroState(batch: 1).map { StateVariables($0, on: tape) },
      on: tape)
    let v = model.config.vocabularySize
    let values = tape[logits].scalars
    var total = 0.0
    for (i, token) in tokens.enumerated() {
      let row = (context.count - 1 + i) * v
      let logits = values[row..<row + v].map(Double.init)
      let top = logits.max()!
      total += logits[Int(token)] - top - log(logits.map { exp($0 - top) }.reduce(0, +))
    }
    return total
  }

  /// Greedy decoding with the step model: `Sampler` with argmax.
  private func greedy(_ model: CharLM, prime: [Int32], start: Int32 = 0, length: Int, stop: Int32? = nil) -> [Int32] {
    let sampler = Sampler(model: model)
    sampler.feed(prime.isEmpty ? [start] : prime)
    var generator = RandomGenerator(seed: 0)
    var tokens: [Int32] = []
    for _ in 0..<length {
      tokens.append(sampler.next(SamplingOptions(argmax: true), using: &generator))
      if tokens.last == stop { break }
    }
    return tokens
  }

  /// Every sequence of `length` tokens over `v`, or, with a stop token, every sequence that ends
  /// with its first stop token within `length` tokens or runs to `length` without one.
  private func allSequences(v: Int, length: Int, stop: Int32? = nil) -> [[Int32]] {
    var result: [[Int32]] = []
    func extend(_ prefix: [Int32]) {
      if prefix.count == length || (prefix.last != nil && prefix.last == stop) { return result.append(prefix) }
      for token in 0..<Int32(v) { extend(prefix + [token]) }
    }
    extend([])
    return result
  }

  func testWidthOneIsGreedy() {
    for (i, cell) in CellKind.allCases.enumerated() {
      let model = model(cell, vocabulary: 12, seed: UInt64(10 + i))
      for prime: [Int32] in [[3, 1, 4, 1, 5], []] {
        let expected = greedy(model, prime: prime, start: 2, length: 30)
        let best = BeamSearch(width: 1, maxLength: 30)(model, prime: prime, start: 2)
        XCTAssertEqual(best.count, 1)
        XCTAssertEqual(best.first?.tokens, expected, "\(cell) prime \(prime)")
        XCTAssertEqual(best.first?.isStopped, false)
      }
    }
  }

  /// Searching from a state is searching after the text that led to it: the state after
  /// `[3, 1, 4]` with the prime `[1, 5]` gives the hypotheses of the prime `[3, 1, 4, 1, 5]`.
  func testSearchFromAGivenStateContinuesTheTextBehindIt() {
    let model = model(.gru, vocabulary: 9, seed: 4)
    let tape = Tape(recording: false)
    let (_, final) = model(
      [3, 1, 4], time: 3, batch: 1, state: model.zeroState(batch: 1).map { StateVariables($0, on: tape) }, on: tape)
    let search = BeamSearch(width: 4, maxLength: 10, stop: 7)
    let fromState = search(prime: [1, 5], state: final.map { $0.values(on: tape) }) {
      BeamSearch.run(model, $0, time: $1, batch: $2, state: $3)
    }
    let fromText = search(model, prime: [3, 1, 4, 1, 5])
    XCTAssertEqual(fromState.map(\.tokens), fromText.map(\.tokens))
    for (a, b) in zip(fromState, fromText) { XCTAssertEqual(a.logProbability, b.logProbability, accuracy: 1e-5) }
  }

  /// With width `V^(n-1)`, every prefix of `n - 1` tokens stays alive, so the last step ranks all
  /// `V^n` sequences: the result is the exact top `V^(n-1)` of an exhaustive search.
  func testWideBeamIsExhaustiveSearch() {
    let (v, n) = (4, 4)
    for seed: UInt64 in [1, 2, 3] {
      let model = model(vocabulary: v, seed: seed)
      let prime: [Int32] = [0, 3, 2]
      let exhaustive = allSequences(v: v, length: n).map { logProbability(model, prime: prime, $0) }.sorted(by: >)
      XCTAssertEqual(exhaustive.count, 256)
      let width = 64
      let beam = BeamSearch(width: width, maxLength: n)(model, prime: prime)
      XCTAssertEqual(beam.count, width)
      for (found, expected) in zip(beam.map(\.logProbability), exhaustive) {
        XCTAssertEqual(found, expected, accuracy: 1e-4, "seed \(seed)")
      }
      // Greedy is one of the sequences, so it cannot beat the exhaustive best; a narrow beam
      // is not guaranteed to beat greedy, but does here, and is never better than exhaustive.
      let greedyLogProbability = logProbability(model, prime: prime, greedy(model, prime: prime, length: n))
      let narrow = BeamSearch(width: 3, maxLength: n)(model, prime: prime)[0].logProbability
      XCTAssertGreaterThanOrEqual(beam[0].logProbability, greedyLogProbability - 1e-6, "seed \(seed)")
      XCTAssertGreaterThanOrEqual(narrow, greedyLogProbability - 1e-6, "seed \(seed)")
      XCTAssertLessThanOrEqual(narrow, beam[0].logProbability + 1e-6, "seed \(seed)")
    }
  }

  /// A narrow beam on a longer output: at least as probable as greedy on these models.
  func testBeamAtLeastAsProbableAsGreedy() {
    for seed: UInt64 in 20..<26 {
      let model = model(vocabulary: 10, seed: seed)
      let prime: [Int32] = [1, 2, 3]
      let greedyLogProbability = logProbability(model, prime: prime, greedy(model, prime: prime, length: 25))
      for width in [2, 4, 8] {
        let best = BeamSearch(width: width, maxLength: 25)(model, prime: prime)[0]
        XCTAssertGreaterThanOrEqual(best.logProbability, greedyLogProbability - 1e-6, "seed \(seed) width \(width)")
      }
    }
  }

  func testStopTokenEndsHypothesis() {
    let model = model(vocabulary: 6, seed: 5)
    let prime: [Int32] = [4, 0]
    // Width 1 stops where greedy first emits the stop token (stop token included).
    let path = greedy(model, prime: prime, length: 12)
    let stop = path[3]
    let first = path.firstIndex(of: stop)!
    let one = BeamSearch(width: 1, maxLength: 12, stop: stop)(model, prime: prime)
    XCTAssertEqual(one.map(\.tokens), [Array(path[...first])])
    XCTAssertEqual(one.first?.isStopped, true)

    // Every hypothesis either ends with its only stop token or runs to the maximum length.
    var kinds = Set<Bool>()
    for stop in 0..<Int32(6) {
      let hypotheses = BeamSearch(width: 5, maxLength: 12, stop: stop)(model, prime: prime)
      XCTAssertEqual(hypotheses.count, 5)
      for hypothesis in hypotheses {
        kinds.insert(hypothesis.isStopped)
        if hypothesis.isStopped {
          XCTAssertEqual(hypothesis.tokens.last, stop)
          XCTAssertEqual(hypothesis.tokens.filter { $0 == stop }.count, 1, "\(hypothesis.tokens)")
        } else {
          XCTAssertEqual(hypothesis.tokens.count, 12)
          XCTAssertFalse(hypothesis.tokens.contains(stop))
        }
      }
    }
    XCTAssertEqual(kinds, [true, false], "both stopped and full-length hypotheses")

    // Dropping the stop token changes the tokens only: the same hypotheses, scores and order.
    for stop in 0..<Int32(6) {
      let kept = BeamSearch(width: 5, maxLength: 12, stop: stop)(model, prime: prime)
      let dropped = BeamSearch(width: 5, maxLength: 12, stop: stop, includesStop: false)(model, prime: prime)
      XCTAssertEqual(dropped.map(\.score), kept.map(\.score))
      XCTAssertEqual(dropped.map(\.tokens), kept.map { $0.isStopped ? Array($0.tokens.dropLast()) : $0.tokens })
    }
  }

  /// With a stop token, a beam wide enough keeps everything until the last step, which ranks
  /// all candidates: the best hypothesis is the best of all stopped or full-length sequences.
  func testStopTokenBeamMatchesExhaustiveSearch() {
    let (v, n) = (4, 4)
    for seed: UInt64 in [6, 7, 8] {
      let model = model(vocabulary: v, seed: seed)
      let stop: Int32 = 1
      let sequences = allSequences(v: v, length: n, stop: stop)
      XCTAssertEqual(sequences.count, 81 + 27 + 9 + 3 + 1)
      let scored = sequences.map { ($0, logProbability(model, prime: [], start: 2, $0)) }
      let best = scored.max { $0.1 < $1.1 }!
      let beam = BeamSearch(width: 64, maxLength: n, stop: stop)(model, prime: [], start: 2)
      XCTAssertEqual(beam[0].logProbability, best.1, accuracy: 1e-4, "seed \(seed)")
    }
  }

  func testLogProbabilitiesAndScoresMatchRecomputation() {
    let model = model(.gru, vocabulary: 10, seed: 9)
    let prime: [Int32] = [7, 7, 1]
    for stop in [nil] + (0..<Int32(10)).map(Optional.some) {
      for normalization in [LengthNormalization.none, .gnmt(alpha: 0.7)] {
        let search = BeamSearch(width: 6, maxLength: 15, stop: stop, lengthNormalization: normalization)
        let hypotheses = search(model, prime: prime)
        XCTAssertFalse(hypotheses.isEmpty)
        for hypothesis in hypotheses {
          let recomputed = logProbability(model, prime: prime, hypothesis.tokens)
          XCTAssertEqual(hypothesis.logProbability, recomputed, accuracy: 1e-4, "\(hypothesis.tokens)")
          let penalty =
            if case .gnmt(let alpha) = normalization { pow((5 + Double(hypothesis.tokens.count)) / 6, alpha) } else { 1.0 }
          XCTAssertEqual(hypothesis.score, hypothesis.logProbability / penalty, accuracy: 1e-12)
        }
        XCTAssertEqual(hypotheses.map(\.score), hypotheses.map(\.score).sorted(by: >), "best first")
      }
    }
  }

  func testZeroLengthIsEmpty() {
    let best = BeamSearch(width: 3, maxLength: 0)(model(vocabulary: 5, seed: 1), prime: [1])
    XCTAssertEqual(best.map(\.tokens), [[]])
  }
}

extension CommandLineTestCase {
  /// Trains a 1 x LSTM 32 on `data` (repeated letters) for 60 steps into `letters/`, the model
  /// the `rnn sample --beam` tests search; `extra` adds options.
  func trainLetterModel(_ data: String, _ extra: [String] = []) throws {
    try rnnSucceeding(
      [
        "train", "--data", data, "--checkpoint-dir", "letters", "--max-steps", "60", "--layers", "1", "--hidden",
        "32", "--embedding", "16", "--seq-length", "25", "--batch-size", "8", "--learning-rate", "1e-2",
        "--val-fraction", "0.1", "--test-fraction", "0", "--threads", "1", "--sample-length", "0", "--eval-every",
        "60",
      ] + extra)
  }
}

/// `rnn sample --beam`.
final class BeamSearchCommandLineTests: CommandLineTestCase {
  func testSampleWithBeamContinuesPrime() throws {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 500))
    try trainLetterModel(data, ["--print-every", "50"])
    let checkpoint = "letters/latest.safetensors"
    let beam = try rnnSucceeding([
      "sample", "--checkpoint", checkpoint, "--beam", "3", "--prime", "abc", "--length", "10", "--threads", "1",
    ])
    XCTAssertEqual(beam.stdout, "abcdefghijabc\n", beam.transcript)
    XCTAssertEqual(beam.stderr, "")

    let stopped = try rnnSucceeding([
      "sample", "--checkpoint", checkpoint, "--beam", "3", "--prime", "abc", "--length", "10", "--stop", "f",
    ])
    XCTAssertEqual(stopped.stdout, "abcdef\n", stopped.transcript)

    try assertCleanFailure(["sample", "--checkpoint", checkpoint, "--beam", "2", "--stop", "z"], mentioning: ["--stop"])
  }

  func testBeamValidation() throws {
    let checkpoint = "missing.safetensors"  // validation comes first
    for beam in ["0", "-2"] {
      try assertCleanFailure(["sample", "--checkpoint", checkpoint, "--beam", beam], mentioning: ["--beam", "positive"])
    }
    for other in [["--temperature", "0.5"], ["--top-k", "3"], ["--argmax"]] {
      try assertCleanFailure(
        ["sample", "--checkpoint", checkpoint, "--beam", "2"] + other, mentioning: ["--beam", other[0]])
    }
    try assertCleanFailure(["sample", "--checkpoint", checkpoint, "--stop", "ab"], mentioning: ["--stop", "one"])
  }
}
