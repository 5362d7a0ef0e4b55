import CKernels

/// A `CharLM` prepared for running one character at a time (batch 1, no dropout), the inner loop
/// of sampling. It lays out an `rnn_step_model` and `rnn_step` (C) runs it.
///
/// Each product is a matrix-vector product, bound by how fast the weights stream from cache, so:
/// - the weights are stored transposed, `[K, G*H]`, and packed into column panels (`[K, 128]`
///   each, contiguous) for `rnn_gemv_panels`: every panel streams as one sequential run, which
///   the hardware prefetchers follow (rows of `[K, G*H]` 8 KB apart defeat them);
/// - they live in huge-page memory (`rnn_allocate_streamed`);
/// - the first layer's input projection `E W_ih^T + b` is precomputed for every character
///   (`[V, G*H]`): layer 0 costs one product with `W_hh` only;
/// - with two threads, the hidden units are split in two halves, each computed (products and
///   cell) by one thread from its own half of the weights, which then stays in that core's
///   cache. Gate columns are reordered so that each half's gates are contiguous: half `p` holds
///   columns `[G*u_p, G*u_(p+1))`, gate blocks of width `u_(p+1) - u_p`. The decoder's outputs
///   are split likewise. A character is one two-thread region with a stage per layer and one for
///   the decoder; the state is double-buffered, so no thread overwrites what the other still reads.
/// Everything lives in one allocation; a step allocates nothing.
final class StepModel {
  let config: CharLMConfig
  /// How the weights of the products are stored (see `Precision`).
  let precision: Precision
  private let storage: UnsafeMutablePointer<Float>
  private let layers: UnsafeMutablePointer<rnn_step_layer>
  private let model: UnsafeMutablePointer<rnn_step_model>

  init(_ charLM: CharLM, threads: Int, precision: Precision = .fp32) {
    config = charLM.config
    self.precision = precision
    let (v, h, e, g) = (config.vocabularySize, config.hidden, config.embedding, config.cell.gates)
    let split = threads >= 2 && h >= 64
    let units = split ? [0, (h / 2 + 15) / 16 * 16, h] : [0, h]
    let classes = split ? [0, min(v, (v / 2 + 15) / 16 * 16), v] : [0, v]
    func padded(_ n: Int) -> Int { (n + 15) / 16 * 16 }

    // Offsets first (panels pad the last part's columns to a multiple of 16), then one allocation.
    var size = 0
    func reserve(_ n: Int) -> Int {
      defer { size += padded(n) }
      return size
    }
    /// A matrix `[K, N]` in `precision`: its panels, and for int8 its scales and sums (`[N]`).
    struct Packed { var panels = 0, scale = 0, sum = 0 }
    let kind = precision.kind
    func reserve(inputs k: Int, columns n: Int) -> Packed {
      let bytes = rnn_packed_rows(kind, k) * padded(n) * rnn_precision_bytes(kind)
      let quantised = precision == .int8
      return Packed(
        panels: reserve((bytes + 3) / 4), scale: quantised ? reserve(n) : 0, sum: quantised ? reserve(n) : 0)
    }
    struct Offsets { var wih = Packed(), whh = Packed(), bias = 0, bhh = 0, h = [0, 0], c = [0, 0] }
    let offsets = (0..<config.layers).map { l in
      Offsets(
        wih: l == 0 ? Packed() : reserve(inputs: h, columns: g * h), whh: reserve(inputs: h, columns: g * h),
        bias: reserve(g * h), bhh: reserve(g * h), h: [reserve(h), reserve(h)], c: [reserve(h), reserve(h)])
    }
    let table = reserve(v * g * h)
    let decoder = reserve(inputs: h, columns: v)
    let scratch = [0, 1].map { _ in reserve((rnn_packed_scratch_bytes(kind, h) + 3) / 4) }
    let decoderBias = reserve(v)
    let gates = reserve(g * h)
    let hiddenGates = reserve(g * h)
    let gruGates = reserve(g * h)
    let tanhC = reserve(h)
    let hn = reserve(h)
    let logits = reserve(v)
    guard let memory = rnn_allocate_streamed(size) else {
      fatalError("out of memory: \(size * 4) bytes for the sampler")
    }
    storage = memory
    storage.initialize(repeating: 0, count: size)
    let s = storage

    // Where gate row r (gate q = r / H, unit j = r % H) of a PyTorch weight goes.
    let column = (0..<g * h).map { r -> Int in
      let (q, j) = (r / h, r % h)
      let p = units.lastIndex { $0 <= j && $0 < h }!
      let width = units[p + 1] - units[p]
      return g * units[p] + q * width + (j - units[p])
    }
    /// The C view of the matrix `[K, N]` at `slot`.
    func matrix(_ slot: Packed, inputs: Int) -> rnn_packed {
      rnn_packed(
        precision: kind, K: inputs, panels: UnsafeMutableRawPointer(s + slot.panels), scale: s + slot.scale,
        sum: UnsafeMutableRawPointer(s + slot.sum).assumingMemoryBound(to: Int32.self))
    }
    /// Packs `transposed [K, N]`'s columns part by part (`bounds`) into the matrix at `slot`.
    func pack(_ transposed: [Float], inputs: Int, columns n: Int, bounds: [Int], at slot: Packed) {
      var packed = matrix(slot, inputs: inputs)
      transposed.withUnsafeBufferPointer { transposed in
        for part in 0..<bounds.count - 1 {
          let (first, count) = (bounds[part], bounds[part + 1] - bounds[part])
          rnn_pack_part(&packed, first, count, transposed.baseAddress! + first, n)
        }
      }
    }
    /// Stores `weight [G*H, K]` transposed, columns reordered, in panels.
    func store(_ weight: UnsafePointer<Float>, inputs: Int, at offset: Packed) {
      var transposed = [Float](repeating: 0, count: inputs * g * h)
      for r in 0..<g * h { for k in 0..<inputs { transposed[k * g * h + column[r]] = weight[r * inputs + k] } }
      pack(transposed, inputs: inputs, columns: g * h, bounds: units.map { g * $0 }, at: offset)
    }
    let p = charLM.parameters
    for (l, layer) in charLM.layers.enumerated() {
      let slot = offsets[l]
      if l > 0 { store(p.value(layer.weightIH), inputs: layer.inputSize, at: slot.wih) }
      store(p.value(layer.weightHH), inputs: h, at: slot.whh)
      let bih = p.value(layer.biasIH)
      let bhh = p.value(layer.biasHH)
      for r in 0..<g * h {
        s[slot.bias + column[r]] = config.cell == .gru ? bih[r] : bih[r] + bhh[r]
        s[slot.bhh + column[r]] = bhh[r]
      }
    }
    // Layer 0's projection of every character: embedding row times W_ih^T plus bias, in fp32
    // (not through BLAS, whose products may be running in bf16 for training).
    let embedding = p.value(charLM.embedding.weight)
    let wih0 = p.value(charLM.layers[0].weightIH)
    for token in 0..<v {
      let x = embedding + token * e
      for r in 0..<g * h {
        let w = wih0 + r * e
        var sum: Float = 0
        for k in 0..<e { sum += x[k] * w[k] }
        s[table + token * g * h + column[r]] = sum + s[offsets[0].bias + column[r]]
      }
    }
    var decoderT = [Float](repeating: 0, count: h * v)
    for r in 0..<v { for k in 0..<h { decoderT[k * v + r] = p.value(charLM.decoder.weight)[r * h + k] } }
    pack(decoderT, inputs: h, columns: v, bounds: classes, at: decoder)
    (s + decoderBias).update(from: p.value(charLM.decoder.bias), count: v)

    layers = .allocate(capacity: config.layers)
    for (l, slot) in offsets.enumerated() {
      (layers + l).initialize(
        to: rnn_step_layer(
          wih: matrix(slot.wih, inputs: h), whh: matrix(slot.whh, inputs: h), bias: s + slot.bias, bhh: s + slot.bhh,
          h: (s + slot.h[0], s + slot.h[1]),
          c: (s + slot.c[0], s + slot.c[1])))
    }
    func bytes(_ offset: Int) -> UnsafeMutablePointer<UInt8> {
      UnsafeMutableRawPointer(s + offset).assumingMemoryBound(to: UInt8.self)
    }
    let cell: rnn_cell_kind =
      switch config.cell {
      case .lstm: RNN_CELL_LSTM
      case .gru: RNN_CELL_GRU
      case .rnnTanh: RNN_CELL_TANH
      case .rnnRelu: RNN_CELL_RELU
      }
    model = .allocate(capacity: 1)
    model.initialize(
      to: rnn_step_model(
        cell: cell, layers: config.layers, hidden: h, gates_per_unit: g, parts: Int32(units.count - 1),
        units: (units[0], units[1], units.last!), classes: (classes[0], classes[1], classes.last!), layer: layers,
        table: s + table, decoder: matrix(decoder, inputs: h), decoder_bias: s + decoderBias, gates: s + gates,
        hidden_gates: s + hiddenGates, gru_gates: s + gruGates, tanh_c: s + tanhC, hn: s + hn, logits: s + logits,
        scratch: (bytes(scratch[0]), bytes(scratch[1])), parity: 0))
  }

  /// The threads worth running a step on, of `available`: two only when the weights of the
  /// products (in `precision`) are over 512 KiB. Below that a step takes a few microseconds and
  /// the two-thread region's synchronisation costs more than the second core saves (2 x 128
  /// LSTM, int8, 205 KiB: 223k chars/s on one thread, 110k on two); above it the second core
  /// wins (the same model in fp32, 820 KiB: 117-130k on two threads, 83-99k on one, alternating
  /// runs under `chrt -f 10` on a busy machine).
  static func threads(for config: CharLMConfig, precision: Precision, available: Int) -> Int {
    let (h, g, v) = (config.hidden, config.cell.gates, config.vocabularySize)
    let weights = g * h * h * config.layers + g * h * h * (config.layers - 1) + h * v
    return weights * rnn_precision_bytes(precision.kind) > 1 << 19 ? available : 1
  }

  deinit {
    model.deallocate()
    layers.deallocate()
    rnn_free_streamed(storage)
  }

  /// The logits `[V]` for the character after the last one stepped.
  var logits: UnsafeBufferPointer<Float> {
    UnsafeBufferPointer(start: model.pointee.logits, count: config.vocabularySize)
  }

  /// Each layer's state.
  var state: [RecurrentState] {
    let (h, current) = (config.hidden, Int(model.pointee.parity))
    return (0..<config.layers).map { l in
      let (hidden, cell) = current == 0 ? (layers[l].h.0, layers[l].c.0) : (layers[l].h.1, layers[l].c.1)
      return RecurrentState(
        h: Tensor(shape: [1, h], scalars: Array(UnsafeBufferPointer(start: hidden, count: h))),
        c: config.cell.hasCellState
          ? Tensor(shape: [1, h], scalars: Array(UnsafeBufferPointer(start: cell, count: h))) : nil)
    }
  }

  /// Runs one character through every layer and the decoder.
  func step(_ token: Int32) {
    require(token >= 0 && Int(token) < config.vocabularySize, "token \(token) outside the vocabulary")
    rnn_step(model, token)
  }
}
