import Foundation
import XCTest

@testable import RNN

/// End-to-end tests of the `rnn` executable: it learns, samples, scores, checkpoints, resumes,
/// and refuses bad input with a one-line message. Models are tiny so the debug build runs the
/// whole file in a few seconds.
final class CommandLineTests: CommandLineTestCase {
  // MARK: - Helpers

  /// Runs `rnn train` on `data` into `checkpointDir` with the small model used throughout (one
  /// layer of 32, embedding 16, batches of 8 x 25, Adam at 1e-2, one thread so runs repeat
  /// exactly); `extra` adds or overrides options. Fails the test unless it exits with 0.
  private func train(
    data: String, checkpointDir: String, steps: Int, extra: [String] = [], file: StaticString = #filePath,
    line: UInt = #line
  ) throws -> CommandResult {
    let arguments =
      [
        "train", "--data", data, "--checkpoint-dir", checkpointDir, "--max-steps", String(steps),
        "--layers", "1", "--hidden", "32", "--embedding", "16", "--seq-length", "25", "--batch-size", "8",
        "--learning-rate", "1e-2", "--val-fraction", "0.1", "--test-fraction", "0", "--threads", "1",
        "--print-every", "50", "--sample-length", "0",
      ] + extra
    return try rnnSucceeding(arguments, file: file, line: line)
  }

  /// The last validation loss a training run printed.
  private func finalValidationLoss(_ result: CommandResult, file: StaticString = #filePath, line: UInt = #line) throws
    -> Double
  {
    try XCTUnwrap(
      result.validationLosses.last?.loss, "no validation line\n\(result.transcript)", file: file, line: line)
  }

  // MARK: - 1. Learning

  /// 300 steps of an LSTM on sentences drawn from 4 x 4 x 4 choices. The thresholds, each computed
  /// from the text itself:
  /// - ln V (a uniform guess) and the unigram entropy (the best loss without context): a model
  ///   that has not learned to use context cannot beat them;
  /// - the bigram conditional entropy measured on the text (about 1.1 nats): the best any model
  ///   that sees one previous character can do, so beating it means the model reads words;
  /// - the source entropy plus 0.1 nats (about 0.27): the source entropy (about 0.17 nats/char,
  ///   3 ln 4 per sentence) is the floor for every model; within 0.1 of it the model predicts
  ///   everything in a sentence but the three random choices. Measured: 0.203.
  func testLSTMLearnsGeneratedSentences() throws {
    let sentences = SentenceText(length: 20_000, seed: 1)
    let data = try write("sentences.txt", sentences.text)
    let stats = CharacterStatistics(sentences.text)
    let result = try train(data: data, checkpointDir: "lstm", steps: 300, extra: ["--eval-every", "100"])
    XCTAssertEqual(result.validationLosses.map(\.step), [100, 200, 300], result.transcript)
    let loss = try finalValidationLoss(result)

    XCTAssertLessThan(loss, log(Double(stats.vocabularySize)), "uniform guess")
    XCTAssertLessThan(loss, stats.unigramEntropy, "unigram entropy")
    XCTAssertLessThan(loss, stats.bigramConditionalEntropy, "bigram conditional entropy")
    XCTAssertLessThan(
      loss, sentences.sourceEntropyRate + 0.1,
      "source entropy \(sentences.sourceEntropyRate) nats/char + 0.1\n\(result.transcript)")
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/lstm/latest.safetensors"))
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/lstm/latest.training.safetensors"))
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/lstm/best.safetensors"))
  }

  /// Short GRU and tanh-RNN runs (100 steps) must beat the unigram entropy (about 2.6 nats),
  /// which no model that ignores context can, and the bigram conditional entropy (about 1.2).
  /// Measured: GRU 0.24, RNN 0.28.
  func testGRUAndRNNLearnGeneratedSentences() throws {
    let sentences = SentenceText(length: 20_000, seed: 2)
    let data = try write("sentences.txt", sentences.text)
    let stats = CharacterStatistics(sentences.text)
    for cell in ["gru", "rnn"] {
      let result = try train(
        data: data, checkpointDir: cell, steps: 100, extra: ["--cell", cell, "--eval-every", "100"])
      let loss = try finalValidationLoss(result)
      XCTAssertLessThan(loss, stats.unigramEntropy, "\(cell): unigram entropy\n\(result.transcript)")
      XCTAssertLessThan(
        loss, stats.bigramConditionalEntropy, "\(cell): bigram conditional entropy\n\(result.transcript)")
    }
  }

  // MARK: - 2. Sampling

  /// On "abcdefghij" repeated, the argmax continuation of "abc" is the alphabet going on.
  func testSampleContinuesPrimeExactly() throws {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 500))
    let result = try train(data: data, checkpointDir: "letters", steps: 60, extra: ["--eval-every", "60"])
    XCTAssertLessThan(try finalValidationLoss(result), 0.1, result.transcript)

    let sample = try rnn([
      "sample", "--checkpoint", "letters/latest.safetensors", "--prime", "abc", "--argmax", "--length", "20",
      "--threads", "1",
    ])
    XCTAssertEqual(sample.status, 0, sample.transcript)
    // The prime, 20 characters, and a newline.
    XCTAssertEqual(sample.stdout, "abc" + "defghijabcdefghijabc" + "\n", sample.transcript)
    XCTAssertEqual(sample.stderr, "")
  }

  /// `rnn sample --interactive`: each typed line is continued from a fresh state; `:length` and
  /// `:temperature` change the settings; unknown characters and bad commands get a message and the
  /// prompt again; `:quit` and end of input end the session.
  func testInteractiveSampling() throws {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 500))
    _ = try train(data: data, checkpointDir: "letters", steps: 60)
    let session = try rnn(
      ["sample", "--checkpoint", "letters/latest.safetensors", "--interactive", "--argmax", "--length", "5"],
      input: "abc\n:length 3\nhij\nxyz\n:temperature -1\n:temperature 0.5\nj\n:quit\nabc\n")
    XCTAssertEqual(session.status, 0, session.transcript)
    let out = session.stdout
    XCTAssertTrue(out.contains("> abcdefgh\n"), out)  // 5 characters after the prime
    XCTAssertTrue(out.contains("> hijabc\n"), out)  // 3 after :length 3
    XCTAssertTrue(out.contains("not in the vocabulary"), out)  // "xyz", then the prompt again
    XCTAssertTrue(out.contains(":temperature needs a positive number"), out)
    XCTAssertTrue(out.contains("temperature 0.5\n> jab"), out)
    XCTAssertEqual(out.components(separatedBy: "> ").count - 1, 8, "eight prompts, none after :quit\n\(out)")

    let ended = try rnn(
      ["sample", "--checkpoint", "letters/latest.safetensors", "--interactive", "--argmax", "--length", "2"],
      input: "ab")
    XCTAssertEqual(ended.status, 0, ended.transcript)
    XCTAssertTrue(ended.stdout.hasSuffix("> abcd\n> \n"), ended.stdout.debugDescription)
    try assertCleanFailure(
      ["sample", "--checkpoint", "letters/latest.safetensors", "--interactive", "--beam", "2"],
      mentioning: ["--interactive"])
  }

  // MARK: - 3. Evaluation

  /// `rnn eval` on the validation part scores what the library scores, and about what training
  /// printed. Training reads validation text as `B` streams (here 4 of 1250 characters), each
  /// starting from a zero state without context; eval reads one stream. The few characters after
  /// each stream start cost a few nats more each, so the two differ by a few percent at most
  /// (measured: eval 0.1902, training 0.1924).
  func testEvalAgreesWithLibraryAndTraining() throws {
    let sentences = SentenceText(length: 20_000, seed: 3)
    let data = try write("sentences.txt", sentences.text)
    let training = try train(
      data: data, checkpointDir: "run", steps: 300,
      extra: ["--val-fraction", "0.25", "--batch-size", "4", "--eval-every", "100"])
    let best = try XCTUnwrap(training.validationLosses.last(where: \.best), training.transcript)
    let validationText = validationPart(of: sentences.text, fraction: 0.25)
    let validation = try write("validation.txt", validationText)

    let eval = try rnn([
      "eval", "--checkpoint", "run/best.safetensors", "--data", validation, "--json", "--threads", "1",
    ])
    XCTAssertEqual(eval.status, 0, eval.transcript)
    let json = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any], eval.transcript)
    let nats = try XCTUnwrap(json["loss_nats_per_char"] as? Double, eval.stdout)
    let bits = try XCTUnwrap(json["bits_per_char"] as? Double, eval.stdout)
    let characters = try XCTUnwrap(json["characters"] as? Int, eval.stdout)
    XCTAssertEqual(characters, validationText.unicodeScalars.count - 1, "every character but the first is scored")
    XCTAssertEqual(bits, nats / log(2), accuracy: 1e-12)

    // The library, in other chunks than eval's: the state carries over, so the loss is the same.
    let checkpoint = try Checkpoint(contentsOf: folder + "/run/best.safetensors")
    let tokens = try checkpoint.vocabulary.encode(validationText)
    let library = checkpoint.model.loss(of: tokens[...], batch: 1, chunk: 256)
    XCTAssertEqual(library.count, characters)
    XCTAssertEqual(nats, library.nats / Double(library.count), accuracy: 1e-6, "eval vs library")

    // What training printed is the library's loss over 4 streams in chunks of --seq-length
    // (printed with 4 decimals).
    let streams = checkpoint.model.loss(of: tokens[...], batch: 4, chunk: 25)
    XCTAssertEqual(best.loss, streams.nats / Double(streams.count), accuracy: 1e-4, "training vs library, 4 streams")
    XCTAssertEqual(nats, best.loss, accuracy: 0.05 * best.loss, "eval vs training\n\(training.transcript)")
  }

  /// The three matrix libraries `rnn` can load (oneDNN, OpenBLAS, the built-in kernel) give the
  /// same loss, and each says which kernel it runs; OpenBLAS must not run its SSE3 fallback on a
  /// CPU with AVX2 or AVX-512 (Debian's 0.3.21 picks it unless told the core type).
  func testEveryMatrixLibraryGivesTheSameLoss() throws {
    let data = try write("sentences.txt", SentenceText(length: 5_000, seed: 5).text)
    _ = try train(data: data, checkpointDir: "run", steps: 20, extra: ["--hidden", "48"])
    var losses: [String: Double] = [:]
    for library in ["builtin", "onednn", "openblas"] {
      let eval = try rnn([
        "eval", "--checkpoint", "run/latest.safetensors", "--data", data, "--json", "--blas", library,
      ])
      XCTAssertEqual(eval.status, 0, eval.transcript)
      let json = try XCTUnwrap(
        try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any], eval.transcript)
      losses[library] = try XCTUnwrap(json["loss_nats_per_char"] as? Double, eval.stdout)

      let bench = try rnn([
        "bench", "--blas", library, "--hidden", "16", "--layers", "1", "--seq-length", "5", "--batch-size", "2",
        "--seconds", "0.01", "--json",
      ])
      XCTAssertEqual(bench.status, 0, bench.transcript)
      let blas = try XCTUnwrap(
        (try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any])?["blas"] as? String,
        bench.transcript)
      switch library {
      case "builtin": XCTAssertTrue(blas.hasPrefix("built-in"), blas)
      case "onednn": XCTAssertTrue(blas.hasPrefix("oneDNN") || blas.hasPrefix("built-in"), blas)
      default:
        XCTAssertTrue(blas.hasPrefix("OpenBLAS") || blas.hasPrefix("built-in"), blas)
        XCTAssertFalse(blas.contains("Prescott"), "OpenBLAS runs its SSE3 fallback: \(blas)")
      }
    }
    let reference = try XCTUnwrap(losses["builtin"])
    for (library, loss) in losses {
      XCTAssertEqual(loss, reference, accuracy: 1e-5 * reference, "\(library) vs built-in")
    }
  }

  // MARK: - 4. Checkpoint files

  /// Reading and writing a checkpoint, as safetensors or as a `Checkpoint`, reproduces its bytes.
  func testCheckpointRoundTripsBitExactly() throws {
    let data = try write("letters.txt", String(repeating: "the quick brown fox. ", count: 100))
    _ = try train(data: data, checkpointDir: "run", steps: 5, extra: ["--eval-every", "5"])
    let original = folder + "/run/latest.safetensors"
    let bytes = try Data(contentsOf: URL(fileURLWithPath: original))

    let copy = folder + "/copy.safetensors"
    try SafeTensors(contentsOf: original).write(to: copy)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: copy)), bytes, "SafeTensors read and write")

    let loaded = try Checkpoint(contentsOf: original)
    XCTAssertEqual(loaded.step, 5)
    let rewritten = folder + "/rewritten.safetensors"
    try Checkpoint(model: loaded.model, vocabulary: loaded.vocabulary, step: loaded.step, run: loaded.run)
      .write(to: rewritten)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: rewritten)), bytes, "Checkpoint read and write")
  }

  // MARK: - 5. Resuming

  func testResumeContinuesExactly() throws { try checkResume(dropout: nil) }
  func testResumeContinuesExactlyWithDropout() throws { try checkResume(dropout: "0.1") }

  /// 2K steps in one run and K steps then a resumed run up to 2K end with the same files, but for
  /// the id each run makes for itself. Both validate at K and 2K (`--eval-every K`), so even the
  /// best loss in the training state agrees.
  private func checkResume(dropout: String?, file: StaticString = #filePath, line: UInt = #line) throws {
    let k = 20
    let data = try write("sentences.txt", SentenceText(length: 5_000, seed: 4).text)
    let extra =
      [
        "--layers", "2", "--hidden", "16", "--embedding", "8", "--seq-length", "10", "--batch-size", "4",
        "--eval-every", "\(k)",
      ]
      + (dropout.map { ["--dropout", $0] } ?? [])
    _ = try train(data: data, checkpointDir: "straight", steps: 2 * k, extra: extra, file: file, line: line)
    _ = try train(data: data, checkpointDir: "resumed", steps: k, extra: extra, file: file, line: line)
    let resumed = try train(
      data: data, checkpointDir: "resumed", steps: 2 * k, extra: extra + ["--resume", "resumed/latest.safetensors"],
      file: file, line: line)
    XCTAssertTrue(resumed.stdout.contains("Resuming resumed/latest.safetensors at step \(k)"), resumed.transcript)

    let what = "dropout \(dropout ?? "0")"
    for name in ["latest.safetensors", "latest.training.safetensors"] {
      let straight = try withoutRunID("straight", name)
      let continued = try withoutRunID("resumed", name)
      XCTAssertTrue(
        straight == continued,
        "LIBRARY BUG: with \(what), \(name) after \(2 * k) steps in one run differs from \(k) steps + --resume to \(2 * k)",
        file: file, line: line)
    }
  }

  /// The bytes of `name` in `run` (a folder in the test folder) with the id of the run that saved
  /// it taken out of its metadata (a checkpoint's `run`, the id inside a training state's record).
  private func withoutRunID(_ run: String, _ name: String) throws -> [UInt8] {
    let id = try XCTUnwrap(try Checkpoint(contentsOf: folder + "/\(run)/latest.safetensors").run)
    var file = try SafeTensors(contentsOf: folder + "/\(run)/" + name)
    for (key, value) in file.metadata { file.metadata[key] = value.replacingOccurrences(of: id, with: "") }
    return file.encoded()
  }

  // MARK: - 6. Bad input

  /// The tiny training options used for failing runs.
  private let tiny = [
    "--layers", "1", "--hidden", "8", "--embedding", "4", "--seq-length", "5", "--batch-size", "2", "--max-steps", "2",
    "--threads", "1", "--sample-length", "0",
  ]

  func testBadTrainingData() throws {
    try assertCleanFailure(
      ["train", "--data", "missing.txt", "--checkpoint-dir", "ck"] + tiny, mentioning: ["missing.txt", "no such file"])
    try write("empty.txt", "")
    try assertCleanFailure(
      ["train", "--data", "empty.txt", "--checkpoint-dir", "ck"] + tiny, mentioning: ["empty.txt", "empty"])
    try write("invalid.txt", Array("abc".utf8) + [0xFF, 0xFE] + Array("def".utf8))
    try assertCleanFailure(
      ["train", "--data", "invalid.txt", "--checkpoint-dir", "ck"] + tiny,
      mentioning: ["invalid.txt", "UTF-8", "byte offset 3"])
    // 100 characters; one batch of 8 x 25 needs 8 * 25 + 1.
    try write("short.txt", String(repeating: "abcde", count: 20))
    try assertCleanFailure(
      [
        "train", "--data", "short.txt", "--checkpoint-dir", "ck", "--batch-size", "8", "--seq-length", "25",
        "--threads", "1",
      ],
      mentioning: ["too short", "201"])
  }

  func testBadTrainingOptions() throws {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 100))
    try assertCleanFailure(
      ["train", "--data", data, "--checkpoint-dir", "ck", "--hidden", "0"], mentioning: ["--hidden", "positive"])
    // "-1" reads as an option name, so ArgumentParser reports the value missing; "=-1" passes it.
    try assertCleanFailure(
      ["train", "--data", data, "--checkpoint-dir", "ck", "--learning-rate", "-1"], mentioning: ["--learning-rate"])
    try assertCleanFailure(
      ["train", "--data", data, "--checkpoint-dir", "ck", "--learning-rate=-1"],
      mentioning: ["--learning-rate", "positive"])
    // A checkpoint folder under a regular file cannot be created.
    try write("file", "not a folder")
    try assertCleanFailure(
      ["train", "--data", data, "--checkpoint-dir", "file/sub"] + tiny,
      mentioning: ["cannot create checkpoint folder", "file/sub"])
  }

  func testBadCheckpointsAndSampling() throws {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 100))
    _ = try train(
      data: data, checkpointDir: "ck", steps: 2, extra: ["--hidden", "8", "--embedding", "4", "--batch-size", "2"])
    let checkpoint = "ck/latest.safetensors"

    try assertCleanFailure(
      ["sample", "--checkpoint", checkpoint, "--temperature", "0"], mentioning: ["--temperature", "positive"])
    try assertCleanFailure(
      ["sample", "--checkpoint", "missing.safetensors"], mentioning: ["missing.safetensors", "no such file"])
    let bytes = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + checkpoint))
    try write("truncated.safetensors", Array(bytes.prefix(100)))
    try assertCleanFailure(
      ["sample", "--checkpoint", "truncated.safetensors"],
      mentioning: ["truncated.safetensors", "not a safetensors checkpoint"])
    try assertCleanFailure(["sample", "--checkpoint", "letters.txt"], mentioning: ["letters.txt", "not a safetensors checkpoint"])
    try assertCleanFailure(
      ["eval", "--checkpoint", "truncated.safetensors", "--data", data],
      mentioning: ["truncated.safetensors", "not a safetensors checkpoint"])
    try assertCleanFailure(
      ["sample", "--checkpoint", checkpoint, "--prime", "abz"], mentioning: ["--prime", "vocabulary", "\"z\""])
    try write("other.txt", "abc zebra")
    try assertCleanFailure(
      ["eval", "--checkpoint", checkpoint, "--data", "other.txt"], mentioning: ["other.txt", "not in the vocabulary"])
  }
}
