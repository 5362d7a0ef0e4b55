import Foundation
import XCTest

@testable import RNN

// The numeric gradient checker the gradient tests share (moved out of `TestSupport.swift`).

/// One evaluation of a scalar loss. `pattern` records the branch each kink took (a relu's sign);
/// a central difference whose evaluations took other branches than the unperturbed one is skipped.
struct Evaluation {
  var value: Double
  var pattern: [Bool] = []
}

/// One array whose gradient is checked: a parameter, an input or an initial state.
struct Probe {
  let name: String
  let count: Int
  /// Element `i` of the values the loss reads.
  let get: (Int) -> Float
  let set: (Int, Float) -> Void
  /// The gradient the code under test computed.
  var analytic: [Float]

  init(_ name: String, get: @escaping (Int) -> Float, set: @escaping (Int, Float) -> Void, analytic: Tensor) {
    self.name = name
    self.count = analytic.count
    self.get = get
    self.set = set
    self.analytic = analytic.scalars
  }

  /// A parameter of `parameters`, with the gradient accumulated there.
  init(_ parameters: Parameters, _ entry: ParameterLayout.Entry) {
    let value = parameters.value(entry.ref)
    self.init(
      entry.name, get: { value[$0] }, set: { value[$0] = $1 }, analytic: parameters.gradientTensor(entry.ref))
  }
}

/// A deliberate error made in a copy of the analytic gradients, which the check must flag.
struct Mutation {
  let name: String
  let apply: ([Probe]) -> [Probe]
}

/// Central differences of a float32 computation. `eps` 1e-2 keeps the rounding noise of the
/// forward (about 1e-6 of the loss) well under the tolerance after dividing by `2 eps`, while the
/// truncation error (`eps^2 L''' / 6`) stays near 1e-5.
struct GradientChecker {
  let loss: () -> Evaluation
  var eps: Float = 1e-2
  /// An element fails when `|analytic - numeric| > relative * max(|analytic|, |numeric|) + absolute`.
  var relative = 1e-2
  var absolute = 1e-3
  /// Elements checked per probe at most (a fixed random subset of larger ones).
  var samples = 64

  /// One checked element.
  struct Element {
    let probe: Int
    let index: Int
    let numeric: Double
  }

  /// Numeric gradients of a sample of every probe's elements; elements at a kink are left out.
  func numericGradients(_ probes: [Probe]) -> (elements: [Element], skipped: Int) {
    let base = loss().pattern
    var generator = RandomGenerator(seed: 7)
    var elements: [Element] = []
    var skipped = 0
    for (k, probe) in probes.enumerated() {
      var indices = Array(0..<probe.count)
      if probe.count > samples {
        indices.shuffle(using: &generator)
        indices = indices.prefix(samples).sorted()
      }
      for i in indices {
        let v = probe.get(i)
        let (up, down) = (v + eps, v - eps)
        probe.set(i, up)
        let plus = loss()
        probe.set(i, down)
        let minus = loss()
        probe.set(i, v)
        guard plus.pattern == base, minus.pattern == base else {
          skipped += 1
          continue
        }
        elements.append(Element(probe: k, index: i, numeric: (plus.value - minus.value) / (Double(up) - Double(down))))
      }
    }
    return (elements, skipped)
  }

  /// The elements whose analytic gradient disagrees with the numeric one, described.
  func mismatches(_ probes: [Probe], _ elements: [Element]) -> [String] {
    elements.compactMap { e in
      let a = Double(probes[e.probe].analytic[e.index])
      let bound = relative * max(abs(a), abs(e.numeric)) + absolute
      guard !(abs(a - e.numeric) <= bound) else { return nil }
      return "\(probes[e.probe].name)[\(e.index)]: analytic \(a), numeric \(e.numeric)"
    }
  }

  /// Asserts the analytic gradients agree with numeric ones, then that the check flags each
  /// probe scaled by 1.1, each probe's largest element with its sign flipped, and `mutations`.
  func check(_ probes: [Probe], mutations: [Mutation] = [], file: StaticString = #filePath, line: UInt = #line) {
    let (elements, skipped) = numericGradients(probes)
    XCTAssertLessThanOrEqual(skipped, elements.count / 10, "too many elements at a kink", file: file, line: line)
    let failures = mismatches(probes, elements)
    XCTAssert(failures.isEmpty, "\(failures.count) gradients wrong: \(failures.prefix(5))", file: file, line: line)

    // Self-test: deliberate errors in a copy of the analytic gradients must be flagged.
    var all = mutations
    for (k, probe) in probes.enumerated() {
      all.append(
        Mutation(name: "\(probe.name) scaled by 1.1") { probes in
          var probes = probes
          probes[k].analytic = probes[k].analytic.map { $0 * 1.1 }
          return probes
        })
      let checked = elements.filter { $0.probe == k }.map(\.index)
      if let largest = checked.max(by: { abs(probe.analytic[$0]) < abs(probe.analytic[$1]) }) {
        all.append(
          Mutation(name: "\(probe.name)[\(largest)] negated") { probes in
            var probes = probes
            probes[k].analytic[largest].negate()
            return probes
          })
      }
    }
    for mutation in all {
      XCTAssertFalse(
        mismatches(mutation.apply(probes), elements).isEmpty, "the check misses \(mutation.name)", file: file,
        line: line)
    }
  }
}

/// A test case with a fresh temporary folder for each test (`folder`, removed afterwards) and
/// `write` to put files in it.
class FolderTestCase: XCTestCase {
  /// The test's folder.
  private(set) var folder: String!

  override func setUpWithError() throws {
    try super.setUpWithError()
    folder = NSTemporaryDirectory() + "\(type(of: self))-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: folder)
    try super.tearDownWithError()
  }

  /// Writes `bytes` to `name` in the test folder, creating the folders on the way; returns the
  /// full path.
  @discardableResult
  func write(_ name: String, _ bytes: [UInt8]) throws -> String {
    let path = folder + "/" + name
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// Writes `text` as UTF-8 to `name` in the test folder; returns the full path.
  @discardableResult
  func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }
}
