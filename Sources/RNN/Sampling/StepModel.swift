import CKernels

/// A `CharLM` prepared for running one character at a time (batch 1, no dropout), the inner loop
/// of sampling.
///
/// Each product is a matrix-vector product, bound by how fast the weights stream from cache, so:
/// - the weights are stored transposed, `[K, G*H]`, and packed into column panels (`[K, 128]`
///   each, contiguous) for `rnn_gemv_panels`: every panel streams from cache as one sequential
///   run, which the hardware prefetchers follow (rows of `[K, G*H]` 8 KB apart defeat them);
/// - the first layer's input projection `E W_ih^T + b` is precomputed for every character
///   (`[V, G*H]`): layer 0 costs one product with `W_hh` only;
/// - with two threads, the hidden units are split in two halves, each computed (products and
///   cell) by one thread from its own half of the weights, which then stays in that core's
///   cache. Gate columns are reordered so that each half's gates are contiguous: half `p` holds
///   columns `[G*u_p, G*u_(p+1))`, gate blocks of width `u_(p+1) - u_p`. One barrier per layer.
/// Everything lives in one allocation; a step allocates nothing.
final class StepModel {
  let config: CharLMConfig
  private let storage: UnsafeMutablePointer<Float>
  /// Unit boundaries of the halves: `[0, H]` or `[0, u, H]`.
  private let units: [Int]

  /// Per layer offsets into `storage`: `W_ih^T [D, G*H]` (unused for layer 0), `W_hh^T [H, G*H]`,
  /// input bias `[G*H]` (`b_ih + b_hh`, or `b_ih` alone for a GRU), GRU's `b_hh [G*H]`, and the
  /// state `h`, `c` `[H]`.
  private struct Layer {
    var wihT = 0, whhT = 0, bias = 0, bhh = 0, h = 0, c = 0
  }
  private var layers: [Layer] = []
  /// `[V, G*H]`: layer 0's input projection for each character, biases included.
  private var table = 0
  private var decoderT = 0, decoderBias = 0
  /// Scratch: gates `[G*H]`, hidden products `[G*H]`, GRU's activated gates `[G*H]` and `hg_n`
  /// `[H]`, new `h`, `c` and `tanh(c)` `[H]`, logits `[V]`.
  private var gates = 0, hiddenGates = 0, gruGates = 0, keep = 0, newH = 0, newC = 0, tanhC = 0, logitsOffset = 0

  init(_ model: CharLM, threads: Int) {
    config = model.config
    let (v, h, e, g) = (config.vocabularySize, config.hidden, config.embedding, config.cell.gates)
    let split = threads >= 2 && h >= 64
    units = split ? [0, (h / 2 + 15) / 16 * 16, h] : [0, h]
    var size = 0
    func reserve(_ n: Int) -> Int {
      defer { size += (n + 15) / 16 * 16 }
      return size
    }
    for l in 0..<config.layers {
      let d = l == 0 ? e : h
      layers.append(
        Layer(
          wihT: reserve(l == 0 ? 0 : d * g * h), whhT: reserve(h * g * h), bias: reserve(g * h), bhh: reserve(g * h),
          h: reserve(h), c: reserve(h)))
    }
    table = reserve(v * g * h)
    decoderT = reserve(h * v)
    decoderBias = reserve(v)
    gates = reserve(g * h)
    hiddenGates = reserve(g * h)
    gruGates = reserve(g * h)
    keep = reserve(h)
    newH = reserve(h)
    newC = reserve(h)
    tanhC = reserve(h)
    logitsOffset = reserve(v)
    guard let memory = rnn_allocate_streamed(size) else { fatalError("out of memory: \(size * 4) bytes for the sampler") }
    storage = memory
    storage.initialize(repeating: 0, count: size)

    // Where gate row r (gate q = r / H, unit j = r % H) of a PyTorch weight goes.
    let column = (0..<g * h).map { r -> Int in
      let (q, j) = (r / h, r % h)
      let p = units.lastIndex { $0 <= j && $0 < h }!
      let width = units[p + 1] - units[p]
      return g * units[p] + q * width + (j - units[p])
    }
    let s = storage
    let p = model.parameters
    /// Stores `weight [G*H, K]` as `[K, G*H]` with columns reordered, each part's columns packed
    /// into panels starting at `K * (its first column)`.
    func store(_ weight: UnsafePointer<Float>, inputs: Int, at offset: Int) {
      var transposed = [Float](repeating: 0, count: inputs * g * h)
      for r in 0..<g * h { for k in 0..<inputs { transposed[k * g * h + column[r]] = weight[r * inputs + k] } }
      transposed.withUnsafeBufferPointer { transposed in
        for part in 0..<units.count - 1 {
          let (first, count) = (g * units[part], g * (units[part + 1] - units[part]))
          rnn_pack_panels(inputs, count, transposed.baseAddress! + first, g * h, s + offset + inputs * first)
        }
      }
    }
    for (l, layer) in model.layers.enumerated() {
      let slot = layers[l]
      if l > 0 { store(p.value(layer.weightIH), inputs: layer.inputSize, at: slot.wihT) }
      store(p.value(layer.weightHH), inputs: h, at: slot.whhT)
      let bih = p.value(layer.biasIH), bhh = p.value(layer.biasHH)
      for r in 0..<g * h {
        s[slot.bias + column[r]] = config.cell == .gru ? bih[r] : bih[r] + bhh[r]
        s[slot.bhh + column[r]] = bhh[r]
      }
    }
    // Layer 0's projection of every character: embedding row times W_ih^T plus bias.
    let embedding = p.value(model.embedding.weight)
    let wih0 = p.value(model.layers[0].weightIH)
    var row = [Float](repeating: 0, count: g * h)
    for token in 0..<v {
      row.withUnsafeMutableBufferPointer { row in
        BLAS.gemm(false, true, 1, g * h, e, embedding + token * e, wih0, beta: 0, row.baseAddress!)
      }
      for r in 0..<g * h { s[table + token * g * h + column[r]] = row[r] + s[layers[0].bias + column[r]] }
    }
    var decoder = [Float](repeating: 0, count: h * v)
    for r in 0..<v { for k in 0..<h { decoder[k * v + r] = p.value(model.decoder.weight)[r * h + k] } }
    rnn_pack_panels(h, v, decoder, v, s + decoderT)
    (s + decoderBias).update(from: p.value(model.decoder.bias), count: v)
  }

  deinit { rnn_free_streamed(storage) }

  /// The logits `[V]` for the character after the last one stepped.
  var logits: UnsafeBufferPointer<Float> {
    UnsafeBufferPointer(start: storage + logitsOffset, count: config.vocabularySize)
  }

  /// Each layer's state.
  var state: [RecurrentState] {
    let h = config.hidden
    return layers.map { slot in
      let hidden = Tensor(shape: [1, h], scalars: Array(UnsafeBufferPointer(start: storage + slot.h, count: h)))
      let cell = Tensor(shape: [1, h], scalars: Array(UnsafeBufferPointer(start: storage + slot.c, count: h)))
      return RecurrentState(h: hidden, c: config.cell.hasCellState ? cell : nil)
    }
  }

  /// Runs one character through every layer and the decoder.
  func step(_ token: Int32) {
    precondition(token >= 0 && Int(token) < config.vocabularySize, "token \(token) outside the vocabulary")
    let (h, v) = (config.hidden, config.vocabularySize)
    for l in layers.indices {
      if units.count > 2 {
        Parallel.pair { layer(l, part: $0, token: token) }
      } else {
        layer(l, part: 0, token: token)
      }
      // Commit the new state only now: until every part is done, all of them read the old `h`.
      (storage + layers[l].h).update(from: storage + newH, count: h)
      if config.cell.hasCellState { (storage + layers[l].c).update(from: storage + newC, count: h) }
    }
    let s = storage
    (s + logitsOffset).update(from: s + decoderBias, count: v)
    rnn_gemv_panels(h, v, s + layers[layers.count - 1].h, s + decoderT, s + logitsOffset)
  }

  /// One part of one layer: the products and the cell for units `units[part] ..< units[part + 1]`.
  private func layer(_ l: Int, part: Int, token: Int32) {
    let (h, gh, g) = (config.hidden, config.cell.gates * config.hidden, config.cell.gates)
    let (u, width) = (units[part], units[part + 1] - units[part])
    let (columns, n) = (g * u, g * width)  // this part's gate columns
    let s = storage
    let slot = layers[l]
    let gatesPart = s + gates + columns
    let source = l == 0 ? s + table + Int(token) * gh : s + slot.bias
    gatesPart.update(from: source + columns, count: n)
    if l > 0 { rnn_gemv_panels(h, n, s + layers[l - 1].h, s + slot.wihT + h * columns, gatesPart) }
    switch config.cell {
    case .lstm:
      rnn_gemv_panels(h, n, s + slot.h, s + slot.whhT + h * columns, gatesPart)
      rnn_lstm_forward_step(1, width, gatesPart, s + slot.c + u, s + newC + u, s + tanhC + u, s + newH + u)
    case .rnnTanh, .rnnRelu:
      rnn_gemv_panels(h, n, s + slot.h, s + slot.whhT + h * columns, gatesPart)
      rnn_simple_forward_step(1, width, gatesPart, s + newH + u, config.cell == .rnnRelu ? 1 : 0)
    case .gru:
      let hiddenPart = s + hiddenGates + columns
      hiddenPart.update(from: s + slot.bhh + columns, count: n)
      rnn_gemv_panels(h, n, s + slot.h, s + slot.whhT + h * columns, hiddenPart)
      rnn_gru_forward_step(1, width, gatesPart, hiddenPart, s + slot.h + u, s + gruGates + columns, s + keep + u, s + newH + u)
    }
  }
}
