import Foundation
import XCTest

@testable import RNN

/// The folder of PyTorch reference files made by `Scripts/make-references.py`.
/// Whether this test process (and so the `rnn` it runs, built alike) runs under AddressSanitizer.
let underAddressSanitizer = dlsym(nil, "__asan_init") != nil

let fixturesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Loads `Fixtures/<name>.safetensors`.
func fixture(_ name: String) throws -> SafeTensors {
  try SafeTensors(contentsOf: fixturesFolder.appendingPathComponent("\(name).safetensors").path)
}

extension SafeTensors {
  /// The tensor `name`, failing the test if it is missing.
  func require(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
    try XCTUnwrap(self[name], "fixture has no tensor \(name)", file: file, line: line)
  }
}

/// Asserts `actual` equals `expected` in shape and, elementwise, to `relative` of the element
/// plus `absolute` (for elements near zero).
func assertClose(
  _ actual: Tensor, _ expected: Tensor, relative: Float = 1e-5, absolute: Float = 1e-6, _ what: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
  guard actual.shape == expected.shape else { return }
  var worst: (index: Int, error: Float) = (0, 0)
  for i in 0..<actual.count {
    let (a, e) = (actual.scalars[i], expected.scalars[i])
    let excess = abs(a - e) - (relative * abs(e) + absolute)
    if !(excess <= worst.error) || excess.isNaN { worst = (i, excess.isNaN ? .infinity : excess) }
  }
  if worst.error > 0 {
    let i = worst.index
    XCTFail("\(what): element \(i) is \(actual.scalars[i]), expected \(expected.scalars[i])", file: file, line: line)
  }
}

/// The slice `[index]` of the first dimension.
func slice(_ tensor: Tensor, _ index: Int) -> Tensor {
  let inner = Array(tensor.shape.dropFirst())
  let size = inner.reduce(1, *)
  return Tensor(shape: inner, scalars: Array(tensor.scalars[index * size..<(index + 1) * size]))
}

/// Tensors stacked along a new first dimension.
func stack(_ tensors: [Tensor]) -> Tensor {
  Tensor(shape: [tensors.count] + tensors[0].shape, scalars: tensors.flatMap(\.scalars))
}

/// The token ids stored as floats in a fixture.
func tokens(_ tensor: Tensor) -> [Int32] { tensor.scalars.map { Int32($0) } }

/// A tensor of normal samples.
func randomTensor(_ shape: [Int], _ generator: inout RandomGenerator, deviation: Float = 1) -> Tensor {
  Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.normal(deviation: deviation) })
}

/// The README snippets of a test file (the code between `// README: NAME` and `// end`, at
/// one level of indentation inside a test), without that indentation, by name.
func readmeSnippets(in path: String) throws -> [(name: String, code: String)] {
  let source = try String(contentsOfFile: path, encoding: .utf8)
  return source.components(separatedBy: "    // " + "README: ").dropFirst().map { part in
    let name = String(part.prefix { $0 != "\n" })
    let body = part.drop { $0 != "\n" }.dropFirst().components(separatedBy: "    // " + "end\n")[0]
    let code = body.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { $0.dropFirst(4) }
    return (name, code.joined(separator: "\n"))
  }
}

/// `sum(a * b)` in Double.
func weightedSum(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(a.shape == b.shape)
  return zip(a.scalars, b.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

// MARK: - Stacked layers against PyTorch

extension SafeTensors {
  /// The state stored as `h` and, for a cell that has one, `c` (`h0`/`c0`, `dh_n`/`dc_n`).
  func requireState(_ h: String, _ c: String, _ cell: any RecurrentCell) throws -> RecurrentState {
    RecurrentState(h: try require(h), c: cell.hasCellState ? try require(c) : nil)
  }
}

/// The two stacked layers `make(l, d, h, &layout)` builds for a reference with `x [T,B,D]` and
/// `h0 [*,B,H]`, with the reference's parameters (PyTorch's names).
func loadStack<Layer>(
  _ reference: SafeTensors, _ make: (_ l: Int, _ d: Int, _ h: Int, _ layout: inout ParameterLayout) -> Layer
) throws -> (layers: [Layer], layout: ParameterLayout, parameters: Parameters) {
  let (d, h) = (try reference.require("x").shape[2], try reference.require("h0").shape[2])
  var layout = ParameterLayout()
  let layers = (0..<2).map { make($0, d, h, &layout) }
  let parameters = Parameters(layout)
  for entry in layout.entries { parameters.assign(try reference.require(entry.name), to: entry.ref) }
  return (layers, layout, parameters)
}

/// Asserts the outputs `y`, `h_n` and (for a cell with a `c`) `c_n` equal the reference's.
func assertOutputs(
  _ reference: SafeTensors, _ cell: any RecurrentCell, y: Tensor, hN: Tensor, cN: @autoclosure () -> Tensor
) throws {
  assertClose(y, try reference.require("y"), "y")
  assertClose(hN, try reference.require("h_n"), "h_n")
  if cell.hasCellState { assertClose(cN(), try reference.require("c_n"), "c_n") }
}

/// Asserts the gradients of `x`, `h0`, (for a cell with a `c`) `c0` and every parameter in
/// `layout` equal the reference's `grad.<name>`.
func assertGradients(
  _ reference: SafeTensors, _ cell: any RecurrentCell, dx: Tensor, dh0: Tensor, dc0: @autoclosure () -> Tensor,
  layout: ParameterLayout, parameters: Parameters
) throws {
  assertClose(dx, try reference.require("grad.x"), "grad.x")
  assertClose(dh0, try reference.require("grad.h0"), "grad.h0")
  if cell.hasCellState { assertClose(dc0(), try reference.require("grad.c0"), "grad.c0") }
  for entry in layout.entries {
    assertClose(parameters.gradientTensor(entry.ref), try reference.require("grad.\(entry.name)"), "grad.\(entry.name)")
  }
}

/// Two stacked `RecurrentLayer`s of `cell` against the PyTorch reference `Fixtures/<cell>.safetensors`
/// (`packed_<cell>`, over its `lengths`, when `packed`), called directly (`forward`/`backward`):
/// outputs, final states and the gradients of every parameter, input and initial state.
func checkStackAgainstPyTorch(_ cell: CellKind, packed: Bool) throws {
  try checkStackAgainstPyTorch(cell.cell, packed: packed)
}

/// The same for any cell, its fixture named by `cell.name`.
func checkStackAgainstPyTorch(_ cell: any RecurrentCell, packed: Bool) throws {
  let reference = try fixture((packed ? "packed_" : "") + cell.name)
  let lengths = packed ? try reference.require("lengths").scalars.map { Int($0) } : nil
  let (layers, layout, parameters) = try loadStack(reference) { l, d, h, layout in
    RecurrentLayer(cell, inputSize: l == 0 ? d : h, hiddenSize: h, layout: &layout, suffix: "_l\(l)")
  }

  let initial = try reference.requireState("h0", "c0", cell)
  var input = try reference.require("x")
  var caches: [RecurrentCache] = []
  var finals: [RecurrentState] = []
  for (l, layer) in layers.enumerated() {
    let state = RecurrentState(h: slice(initial.h, l), c: initial.c.map { slice($0, l) })
    let (y, final, cache) = layer.forward(input, state: state, lengths: lengths, parameters: parameters)
    input = y
    caches.append(cache)
    finals.append(final)
  }
  try assertOutputs(reference, cell, y: input, hN: stack(finals.map(\.h)), cN: stack(finals.map { $0.c! }))

  let dFinal = try reference.requireState("dh_n", "dc_n", cell)
  var dy = try reference.require("dy")
  var dStates: [RecurrentState] = []
  for l in (0..<2).reversed() {
    let dState = RecurrentState(h: slice(dFinal.h, l), c: dFinal.c.map { slice($0, l) })
    let grads = layers[l].backward(dy, dState: dState, cache: caches[l], parameters: parameters)
    dy = grads.dx
    dStates.insert(grads.dState, at: 0)
  }
  try assertGradients(
    reference, cell, dx: dy, dh0: stack(dStates.map(\.h)), dc0: stack(dStates.map { $0.c! }), layout: layout,
    parameters: parameters)
}

// MARK: - Numeric gradients of recurrent layers

/// A recurrent layer as the numeric gradient checks drive it (`RecurrentLayer`, `Bidirectional`).
protocol GradientCheckedLayer {
  associatedtype Cache
  func initialize(_ parameters: Parameters, using generator: inout RandomGenerator)
  func forward(_ x: Tensor, state: RecurrentState, lengths: [Int]?, parameters: Parameters)
    -> (y: Tensor, state: RecurrentState, cache: Cache)
  func backward(_ dy: Tensor?, dState: RecurrentState?, cache: Cache, parameters: Parameters)
    -> (dx: Tensor, dState: RecurrentState)
}

extension RecurrentLayer: GradientCheckedLayer {}
extension Bidirectional: GradientCheckedLayer {}

/// One layer `make(&layout)` of `cell` with random parameters, input `x [T,B,D]`, initial state
/// `h0`, `c0` (`[B,H]`, or `[directions,B,H]` with more than one direction; deviation 0.5) and the
/// projections of `L = sum(y * R) + sum(h_n * Rh) [+ sum(c_n * Rc)]`, all drawn in that order from
/// one generator seeded `seed` plus the cell's index. A class, so probes perturb what `L` reads.
final class RecurrentGradientProblem<Layer: GradientCheckedLayer> {
  let layer: Layer
  let layout: ParameterLayout
  let parameters: Parameters
  /// Each row's valid steps, or nil for all `T`.
  let lengths: [Int]?
  var x: Tensor
  var h0: Tensor
  var c0: Tensor?
  /// `R [T,B,directions*H]`; `Rh` and `Rc` are shaped as the state.
  let r: Tensor
  let rh: Tensor
  let rc: Tensor?

  convenience init(
    _ cell: CellKind, seed: UInt64, t: Int, b: Int, d: Int, h: Int, directions: Int = 1, lengths: [Int]? = nil,
    layer make: (inout ParameterLayout) -> Layer
  ) {
    self.init(
      cell.cell, seed: seed + UInt64(CellKind.allCases.firstIndex(of: cell)!), t: t, b: b, d: d, h: h,
      directions: directions, lengths: lengths, layer: make)
  }

  /// The same for any cell, from a generator seeded `seed` itself.
  init(
    _ cell: any RecurrentCell, seed: UInt64, t: Int, b: Int, d: Int, h: Int, directions: Int = 1,
    lengths: [Int]? = nil, layer make: (inout ParameterLayout) -> Layer
  ) {
    var layout = ParameterLayout()
    layer = make(&layout)
    self.layout = layout
    parameters = Parameters(layout)
    self.lengths = lengths
    var generator = RandomGenerator(seed: seed)
    layer.initialize(parameters, using: &generator)
    let state = directions == 1 ? [b, h] : [directions, b, h]
    x = randomTensor([t, b, d], &generator)
    h0 = randomTensor(state, &generator, deviation: 0.5)
    c0 = cell.hasCellState ? randomTensor(state, &generator, deviation: 0.5) : nil
    r = randomTensor([t, b, directions * h], &generator)
    rh = randomTensor(state, &generator)
    rc = cell.hasCellState ? randomTensor(state, &generator) : nil
  }

  /// The layer over `x` from `(h0, c0)`.
  func forward() -> (y: Tensor, state: RecurrentState, cache: Layer.Cache) {
    layer.forward(x, state: RecurrentState(h: h0, c: c0), lengths: lengths, parameters: parameters)
  }

  /// Back-propagates `L` from `forward`'s cache: accumulates the parameter gradients and returns
  /// the gradients of `x` and the initial state.
  func backward(_ cache: Layer.Cache) -> (dx: Tensor, dState: RecurrentState) {
    layer.backward(r, dState: RecurrentState(h: rh, c: rc), cache: cache, parameters: parameters)
  }

  /// `L` of the outputs `y` and final state `final`.
  func loss(_ y: Tensor, _ final: RecurrentState) -> Double {
    weightedSum(y, r) + weightedSum(final.h, rh) + (final.c.map { weightedSum($0, rc!) } ?? 0)
  }

  /// Every parameter with its accumulated gradient, then `x`, `h0` and `c0` with `grads`.
  func probes(_ grads: (dx: Tensor, dState: RecurrentState)) -> [Probe] {
    var probes = layout.entries.map { Probe(parameters, $0) }
    probes.append(Probe("x", get: { self.x.scalars[$0] }, set: { self.x.scalars[$0] = $1 }, analytic: grads.dx))
    probes.append(
      Probe("h0", get: { self.h0.scalars[$0] }, set: { self.h0.scalars[$0] = $1 }, analytic: grads.dState.h))
    if let dc0 = grads.dState.c {
      probes.append(Probe("c0", get: { self.c0!.scalars[$0] }, set: { self.c0!.scalars[$0] = $1 }, analytic: dc0))
    }
    return probes
  }

  /// The elements of `probes`, every one of them, whose analytic gradient disagrees with the
  /// numeric gradient of `L` of a fresh `forward`, described.
  func mismatches(_ probes: [Probe]) -> [String] {
    func evaluate() -> Evaluation {
      let (y, final, _) = forward()
      return Evaluation(value: loss(y, final))
    }
    let checker = GradientChecker(loss: evaluate, samples: .max)
    return checker.mismatches(probes, checker.numericGradients(probes).elements)
  }
}

// MARK: - The numeric gradient checker

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
