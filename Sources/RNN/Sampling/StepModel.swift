import CKernels

/// A `CharLM` prepared for running one character at a time (batch 1, no dropout), the inner loop
/// of sampling.
///
/// Each product is a matrix-vector product, bound by how fast the weights stream from cache, so
/// the weights are stored transposed, `[K, N]`, for `rnn_gemv_t`, and the first layer's input
/// projection `E W_ih^T + b` is precomputed for every character (`[V, G*H]`): layer 0 costs one
/// product with `W_hh` only. Everything lives in one allocation; a step allocates nothing.
final class StepModel {
  let config: CharLMConfig
  private let storage: UnsafeMutablePointer<Float>
  private let count: Int

  /// Per layer: `W_ih^T [D, G*H]` (unused for layer 0), `W_hh^T [H, G*H]`, input bias `[G*H]`
  /// (`b_ih + b_hh`, or `b_ih` alone for a GRU), GRU's `b_hh [G*H]`; state `h`, `c` `[H]`.
  private struct Layer {
    var wihT = 0, whhT = 0, bias = 0, bhh = 0, h = 0, c = 0
  }
  private var layers: [Layer] = []
  /// `[V, G*H]`: layer 0's input projection for each character, biases included.
  private var table = 0
  private var decoderT = 0, decoderBias = 0
  /// Scratch: gates `[G*H]`, hidden products `[G*H]`, GRU's activated gates `[G*H]` and `hg_n`
  /// `[H]`, new `h`, `c` and `tanh(c)` `[H]`.
  private var gates = 0, hiddenGates = 0, gruGates = 0, keep = 0, newH = 0, newC = 0, tanhC = 0
  /// The logits `[V]` after the last step.
  private var logitsOffset = 0

  init(_ model: CharLM) {
    config = model.config
    let (v, h, e, g) = (config.vocabularySize, config.hidden, config.embedding, config.cell.gates * config.hidden)
    var size = 0
    func reserve(_ n: Int) -> Int {
      defer { size += (n + 15) / 16 * 16 }
      return size
    }
    for l in 0..<config.layers {
      let d = l == 0 ? e : h
      layers.append(
        Layer(wihT: reserve(l == 0 ? 0 : d * g), whhT: reserve(h * g), bias: reserve(g), bhh: reserve(g), h: reserve(h), c: reserve(h)))
    }
    table = reserve(v * g)
    decoderT = reserve(h * v)
    decoderBias = reserve(v)
    gates = reserve(g)
    hiddenGates = reserve(g)
    gruGates = reserve(g)
    keep = reserve(h)
    newH = reserve(h)
    newC = reserve(h)
    tanhC = reserve(h)
    logitsOffset = reserve(v)
    count = size
    storage = .allocate(capacity: size)
    storage.initialize(repeating: 0, count: size)

    let p = model.parameters
    func transpose(_ source: UnsafePointer<Float>, rows: Int, columns: Int, into offset: Int) {
      for r in 0..<rows { for c in 0..<columns { storage[offset + c * rows + r] = source[r * columns + c] } }
    }
    for (l, layer) in model.layers.enumerated() {
      let slot = layers[l]
      if l > 0 { transpose(p.value(layer.weightIH), rows: g, columns: layer.inputSize, into: slot.wihT) }
      transpose(p.value(layer.weightHH), rows: g, columns: h, into: slot.whhT)
      let bih = p.value(layer.biasIH), bhh = p.value(layer.biasHH)
      for j in 0..<g {
        storage[slot.bias + j] = config.cell == .gru ? bih[j] : bih[j] + bhh[j]
        storage[slot.bhh + j] = bhh[j]
      }
    }
    // Layer 0's projection of every character: embedding row times W_ih^T plus bias.
    let embedding = p.value(model.embedding.weight)
    let wih0 = p.value(model.layers[0].weightIH)
    for token in 0..<v {
      let row = storage + table + token * g
      row.update(from: storage + layers[0].bias, count: g)
      BLAS.gemm(false, true, 1, g, e, embedding + token * e, wih0, beta: 1, row)
    }
    transpose(p.value(model.decoder.weight), rows: v, columns: h, into: decoderT)
    (storage + decoderBias).update(from: p.value(model.decoder.bias), count: v)
  }

  deinit { storage.deallocate() }

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
    let (h, g, v) = (config.hidden, config.cell.gates * config.hidden, config.vocabularySize)
    let s = storage
    var input = UnsafePointer(s + table + Int(token) * g)  // layer 0: projection already done
    for (l, slot) in layers.enumerated() {
      let x = l == 0 ? nil : UnsafePointer(s + layers[l - 1].h)
      switch config.cell {
      case .lstm, .rnnTanh, .rnnRelu:
        (s + gates).update(from: l == 0 ? input : UnsafePointer(s + slot.bias), count: g)
        if let x { rnn_gemv_t(h, g, x, s + slot.wihT, s + gates) }
        rnn_gemv_t(h, g, s + slot.h, s + slot.whhT, s + gates)
        if config.cell == .lstm {
          rnn_lstm_forward_step(1, h, s + gates, s + slot.c, s + newC, s + tanhC, s + newH)
          (s + slot.c).update(from: s + newC, count: h)
        } else {
          rnn_simple_forward_step(1, h, s + gates, s + newH, config.cell == .rnnRelu ? 1 : 0)
        }
      case .gru:
        (s + gates).update(from: l == 0 ? input : UnsafePointer(s + slot.bias), count: g)
        if let x { rnn_gemv_t(h, g, x, s + slot.wihT, s + gates) }
        (s + hiddenGates).update(from: s + slot.bhh, count: g)
        rnn_gemv_t(h, g, s + slot.h, s + slot.whhT, s + hiddenGates)
        rnn_gru_forward_step(1, h, s + gates, s + hiddenGates, s + slot.h, s + gruGates, s + keep, s + newH)
      }
      (s + slot.h).update(from: s + newH, count: h)
      input = UnsafePointer(s + slot.h)
    }
    (s + logitsOffset).update(from: s + decoderBias, count: v)
    rnn_gemv_t(h, v, input, s + decoderT, s + logitsOffset)
  }
}
