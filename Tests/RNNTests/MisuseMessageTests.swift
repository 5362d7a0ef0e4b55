import Foundation
import RNN
import XCTest

/// Misuse of the API stops the program with a message that names the problem, in release builds
/// too (`require`): checked in a child process, forked before the misuse.
final class MisuseMessageTests: XCTestCase {
  /// Runs `body` in a forked child and returns what it wrote to standard error and whether it
  /// was stopped: by a signal (a trap), or, under AddressSanitizer, whose handler reports the trap
  /// and exits, with a nonzero status. Standard error goes to a file, not a pipe: the Swift runtime's
  /// backtracer, which a trap starts, inherits it and can outlive the child.
  private func trap(_ body: () -> Void) -> (stderr: String, trapped: Bool) {
    let path = NSTemporaryDirectory() + "misuse-\(UUID().uuidString).txt"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return ("cannot create \(path)", false) }
    let child = fork()
    if child == 0 {
      dup2(fd, 1)  // stdout too: the backtracer must not hold the test runner's pipe
      dup2(fd, 2)
      body()
      _exit(0)
    }
    close(fd)
    var status: Int32 = 0
    waitpid(child, &status, 0)
    let signalled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
    let failed = (status & 0x7f) == 0 && (status >> 8) & 0xff != 0
    return ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "", signalled || failed)
  }

  func testALSTMStateGivenToAGRUIsNamed() {
    var layout = ParameterLayout()
    let gru = RecurrentLayer(.gru, inputSize: 3, hiddenSize: 4, layout: &layout)
    let parameters = Parameters(layout)
    let lstmState = RecurrentState.zeros(.lstm, batch: 2, hidden: 4)
    let (stderr, trapped) = trap {
      _ = gru.forward(Tensor(shape: [5, 2, 3]), state: lstmState, parameters: parameters)
    }
    XCTAssertTrue(trapped)
    XCTAssertTrue(stderr.contains("a gru layer keeps no cell state c, but its state has one"), stderr)
  }

  func testAnInputOfTheWrongWidthIsNamed() {
    var layout = ParameterLayout()
    let linear = Linear(inputSize: 64, outputSize: 10, layout: &layout, name: "classifier")
    let parameters = Parameters(layout)
    let (stderr, trapped) = trap { _ = linear.forward(Tensor(shape: [2, 32]), parameters: parameters) }
    XCTAssertTrue(trapped)
    XCTAssertTrue(stderr.contains("input [2, 32] does not end in 64"), stderr)
  }
}

extension MisuseMessageTests {
  func testALayerLeftOutOfItsModelIsNamed() {
    let (stderr, trapped) = trap {
      _ = Model { make in
        _ = make.linear(inputSize: 2, outputSize: 2)
        return (kept: make.linear(inputSize: 2, outputSize: 1), ())
      }
    }
    XCTAssertTrue(trapped)
    XCTAssertTrue(stderr.contains("1 of the 2 layers made are not in the model's layers"), stderr)
  }

  func testALayerOfAnotherModelIsNamed() {
    let a = Model { make in (symbols: make.embedding(vocabularySize: 3, size: 2), ()) }
    let b = Model { make in (reader: make.recurrent(.gru, inputSize: 2, hiddenSize: 2), ()) }
    let (stderr, trapped) = trap { _ = b.reader(PaddedBatch([[1, 2]]), embedding: a.symbols, on: Tape()) }
    XCTAssertTrue(trapped)
    XCTAssertTrue(stderr.contains("a layer used with a layer of another model"), stderr)
  }

  func testALayerCalledWhileItsModelIsBeingMadeIsNamed() {
    let (stderr, trapped) = trap {
      _ = Model { make in
        let layer = make.linear(inputSize: 2, outputSize: 2)
        _ = layer.forward(Tensor(shape: [1, 2]))
        return (layer: layer, ())
      }
    }
    XCTAssertTrue(trapped)
    XCTAssertTrue(stderr.contains("a layer called before its model is complete"), stderr)
  }
}
