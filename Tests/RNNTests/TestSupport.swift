import Foundation
import XCTest

@testable import RNN

/// Whether this test process (and so the `rnn` it runs, built alike) runs under AddressSanitizer.
let underAddressSanitizer = dlsym(nil, "__asan_init") != nil

/// The folder of PyTorch reference files made by `Scripts/make-references.py`.
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
