import Foundation
import XCTest

@testable import RNN
@testable import RNNCore

/// Beam search keeps a bounded amount of work per step and streams its settled prefix: it agrees
/// with a plain reference search that ranks all `N * V` candidates and copies every hypothesis;
/// the streamed tokens plus the returned rest are the best hypothesis; `rnn sample --beam` prints
/// as it goes and refuses widths beyond its limits.
final class BeamSearchStreamingTests: XCTestCase {
  private func model(vocabulary v: Int, seed: UInt64) -> CharLM {
    var generator = RandomGenerator(seed: seed)
    let model = CharLM(CharLMConfig(cell: .gru, layers: 1, hidden: 16, embedding: 8, vocabularySize: v), using: &generator)
    let weight = model.parameters.value(model.decoder.weight)
    for i in 0..<model.decoder.weight.count { weight[i] *= 3 }  // peaked distributions
    return model
  }

  /// Beam search as it was first written: every (parent, token) candidate ranked, tokens copied.
  private func reference(_ model: CharLM, prime: [Int32], width: Int, maxLength: Int, stop: Int32?) -> [BeamHypothesis] {
    let v = model.config.vocabularySize
    var (logProbabilities, state) = BeamSearch.lastStep(
      BeamSearch.run(model, prime, time: prime.count, batch: 1, state: model.zeroState(batch: 1)), batch: 1)
    var live: [(tokens: [Int32], logProbability: Double)] = [([], 0)]
    var finished: [BeamHypothesis] = []
    for length in 1...maxLength {
      var candidates: [(parent: Int, token: Int32, logProbability: Double)] = []
      for (parent, beam) in live.enumerated() {
        for token in 0..<v { candidates.append((parent, Int32(token), beam.logProbability + logProbabilities[parent * v + token])) }
      }
      let order = candidates.indices.sorted {
        candidates[$0].logProbability > candidates[$1].logProbability
          || (candidates[$0].logProbability == candidates[$1].logProbability && $0 < $1)
      }
      var next: [(tokens: [Int32], logProbability: Double)] = []
      var parents: [Int] = []
      for (rank, index) in order.enumerated() {
        if next.count == width { break }
        let (parent, token, logProbability) = candidates[index]
        let tokens = live[parent].tokens + [token]
        if token == stop {
          if rank < width { finished.append(BeamHypothesis(tokens: tokens, logProbability: logProbability, score: logProbability, isStopped: true)) }
        } else {
          if length == maxLength {
            finished.append(BeamHypothesis(tokens: tokens, logProbability: logProbability, score: logProbability, isStopped: false))
          }
          next.append((tokens, logProbability))
          parents.append(parent)
        }
      }
      if length == maxLength || parents.isEmpty { break }
      if finished.count >= width, next[0].logProbability <= finished.map(\.score).sorted(by: >)[width - 1] { break }
      live = next
      let inputs = next.map { $0.tokens.last! }
      (logProbabilities, state) = BeamSearch.lastStep(
        BeamSearch.run(model, inputs, time: 1, batch: inputs.count, state: BeamSearch.gather(state, rows: parents)),
        batch: inputs.count)
    }
    return finished.enumerated().sorted {
      $0.element.score > $1.element.score || ($0.element.score == $1.element.score && $0.offset < $1.offset)
    }.prefix(width).map(\.element)
  }

  func testAgreesWithTheReferenceSearch() {
    for seed: UInt64 in 1...4 {
      let model = model(vocabulary: 23, seed: seed)
      for width in [1, 2, 5] {
        for stop: Int32? in [nil, 0, 5] {
          let expected = reference(model, prime: [3, 4], width: width, maxLength: 14, stop: stop)
          let found = BeamSearch(width: width, maxLength: 14, stop: stop)(model, prime: [3, 4])
          XCTAssertEqual(found.map(\.tokens), expected.map(\.tokens), "seed \(seed) width \(width) stop \(String(describing: stop))")
          for (a, b) in zip(found, expected) { XCTAssertEqual(a.logProbability, b.logProbability, accuracy: 1e-9) }
        }
      }
    }
  }

  func testLargestMatchesASort() {
    var generator = RandomGenerator(seed: 3)
    for _ in 0..<50 {
      let values = (0..<40).map { _ in Double(generator.next() % 7) }  // many ties
      let offset = Int(generator.next() % 5)
      let slice = ([Double](repeating: 9, count: offset) + values)[offset...]
      let sorted = values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
      for k in [1, 3, 39, 40, 41] { XCTAssertEqual(BeamSearch.largest(k, of: slice), Array(sorted.prefix(k))) }
    }
  }

  /// The settled tokens arrive while the search runs, and with the rest they are the best.
  func testStreamedTokensAreTheBestHypothesis() {
    for seed: UInt64 in 1...4 {
      let model = model(vocabulary: 11, seed: seed)
      for (width, stop) in [(1, nil), (3, nil), (3, Int32(2)), (6, Int32(7))] as [(Int, Int32?)] {
        let search = BeamSearch(width: width, maxLength: 200, stop: stop)
        let expected = search(model, prime: [1])[0]
        var streamed: [Int32] = []
        var steps = 0
        var firstSettledAt: Int? = nil
        let rest = search(prime: [1], state: model.zeroState(batch: 1), settled: {
          streamed += $0
          firstSettledAt = firstSettledAt ?? steps
        }) {
          steps += 1
          return BeamSearch.run(model, $0, time: $1, batch: $2, state: $3)
        }
        XCTAssertEqual(rest.count, 1)
        XCTAssertEqual(streamed + rest[0].tokens, expected.tokens, "seed \(seed) width \(width)")
        XCTAssertEqual(rest[0].logProbability, expected.logProbability)
        if expected.tokens.count > 100 {
          XCTAssertLessThan(firstSettledAt ?? .max, 50, "seed \(seed) width \(width): nothing settled early")
        }
      }
    }
  }

  /// A model whose outputs overflow (finite weights: gates saturated open, decoder weights 3e38)
  /// ends the search with one NaN hypothesis, which the command line reports.
  func testNonFiniteOutputsEndTheSearch() throws {
    var generator = RandomGenerator(seed: 1)
    let model = CharLM(CharLMConfig(cell: .lstm, layers: 1, hidden: 8, embedding: 4, vocabularySize: 5), using: &generator)
    var file = Checkpoint(model: model, vocabulary: try Vocabulary(scalars: Array("abcde".unicodeScalars))).encoded()
    for (name, value) in [("rnn.bias_ih_l0", Float(1e30)), ("decoder.weight", 3e38)] {
      let index = try XCTUnwrap(file.tensors.firstIndex { $0.name == name })
      file.tensors[index].tensor.scalars = [Float](repeating: value, count: file.tensors[index].tensor.count)
    }
    let overflowing = try Checkpoint(file, path: "overflow").model
    for settled in [nil, { (_: [Int32]) in }] as [(([Int32]) -> Void)?] {
      let result = BeamSearch(width: 3, maxLength: 10)(overflowing, prime: [1, 2], settled: settled)
      XCTAssertEqual(result.count, 1)
      XCTAssertEqual(result.first?.tokens, [])
      XCTAssertTrue(result.first?.logProbability.isNaN ?? false)
    }
  }

  /// Hypotheses that never share a prefix: past the horizon the search keeps the best live one,
  /// so it settles tokens anyway, and streamed plus returned tokens are one whole hypothesis.
  func testHorizonSettlesHypothesesThatNeverMeet() {
    let model = model(vocabulary: 11, seed: 2)
    for stop: Int32? in [nil, 4] {
      var search = BeamSearch(width: 4, maxLength: 300, stop: stop)
      search.horizon = 10
      var streamed: [Int32] = []
      var chunks = 0
      let rest = search(model, prime: [1], settled: {
        streamed += $0
        chunks += 1
      })
      XCTAssertEqual(rest.count, 1)
      let tokens = streamed + rest[0].tokens
      XCTAssertGreaterThan(chunks, 1)
      XCTAssertEqual(tokens.count, rest[0].isStopped ? tokens.firstIndex(of: stop!)! + 1 : 300)
      if stop == nil { XCTAssertFalse(rest[0].isStopped) }
    }
  }
}

/// `rnn sample --beam` streams and keeps its width bounded.
final class BeamSearchStreamingCommandLineTests: CommandLineTestCase {
  func testEndlessBeamSearchPrintsAsItGoes() throws {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 500))
    try trainLetterModel(data)
    let command = try startRNN([
      "sample", "--checkpoint", "letters/latest.safetensors", "--beam", "2", "--prime", "abc", "--length",
      "9223372036854775807", "--threads", "1",
    ])
    let deadline = Date().addingTimeInterval(60)
    while command.stdoutSoFar.count < 200 && command.process.isRunning && Date() < deadline { usleep(50_000) }
    let printed = command.stdoutSoFar
    command.process.terminate()
    _ = try finishCommand(command)
    XCTAssertGreaterThanOrEqual(printed.count, 200, "an endless beam search printed nothing: \(printed)")
    XCTAssertTrue(printed.hasPrefix("abcdefghijabcdefghij"), printed)
  }

  func testBeamWidthLimits() throws {
    try assertCleanFailure(["sample", "--checkpoint", "missing.safetensors", "--beam", "1000000"], mentioning: ["--beam", "at most 1000"])
    // A 20000-symbol vocabulary: at most 2^24 / 20000 = 838 beams.
    let scalars = (0..<20_000).map { Unicode.Scalar(0x4E00 + UInt32($0))! }
    var generator = RandomGenerator(seed: 1)
    let model = CharLM(CharLMConfig(cell: .rnnTanh, layers: 1, hidden: 4, embedding: 4, vocabularySize: 20_000), using: &generator)
    try Checkpoint(model: model, vocabulary: try Vocabulary(scalars: scalars)).write(to: folder + "/wide.safetensors")
    try assertCleanFailure(
      ["sample", "--checkpoint", "wide.safetensors", "--beam", "839", "--length", "3"],
      mentioning: ["--beam 839", "20000-symbol", "at most 838"])
    try rnnSucceeding(["sample", "--checkpoint", "wide.safetensors", "--beam", "5", "--length", "3"])
  }
}
