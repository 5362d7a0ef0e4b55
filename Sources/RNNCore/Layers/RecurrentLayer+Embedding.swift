// A first layer fed by an embedding: its input projection of a character depends only on the
// character, so it is computed once per vocabulary entry, `[V, G*H]`, instead of once per token,
// `[T*B, G*H]`; the same holds for its gradients. Exact same function, a fraction of the FLOPs
// whenever the vocabulary is smaller than a batch (a character vocabulary: 65-200 vs thousands).
extension RecurrentLayer {
  /// Each character's input projection: `embedding.weight W_ih^T` plus biases, `[V, G*H]`, in
  /// the scratch workspace's `table` buffer.
  func projectionTable(_ embedding: Embedding, _ parameters: Parameters) -> WorkspaceBuffer {
    require(embedding.size == inputSize, "embedding size \(embedding.size) is not the layer's input size \(inputSize)")
    let (v, rows) = (embedding.vocabularySize, cell.gates * hiddenSize)
    let table = scratch.buffer("table", count: v * rows)
    fillProjectionBiases(v, table.pointer, parameters)
    parameters.backend.parallelGemm(
      false, true, v, rows, inputSize, parameters.value(embedding.weight), parameters.value(weightIH), beta: 1,
      table.pointer)
    return table
  }

  /// The input projections of `tokens [T,B]`: rows of `table [V, G*H]`, `[T,B,G*H]` in the
  /// workspace's `projections` buffer.
  func gatherProjections(
    _ table: WorkspaceBuffer, vocabularySize v: Int, tokens: [Int32], parameters: Parameters
  ) -> WorkspaceBuffer {
    let rows = cell.gates * hiddenSize
    let out = workspace.buffer("projections", count: tokens.count * rows)
    for token in tokens { require(token >= 0 && Int(token) < v, "token \(token) outside vocabulary of \(v)") }
    tokens.withUnsafeBufferPointer { parameters.backend.gatherRows($0, rows, from: table.pointer, into: out.pointer) }
    return out
  }

  /// The input side of backward through the table: sums `dxg [T,B,G*H]` by character into
  /// `dtable [V, G*H]` (the scratch workspace's `table gradients`), then `db_ih += sum(dtable)`,
  /// `dW_ih += dtable^T embedding.weight`, `d embedding.weight += dtable W_ih`.
  func tableGradients(_ dxg: UnsafePointer<Float>, tokens: [Int32], embedding: Embedding, parameters: Parameters) {
    let (v, rows, e) = (embedding.vocabularySize, cell.gates * hiddenSize, embedding.size)
    let backend = parameters.backend
    let dtable = scratch.buffer("table gradients", count: v * rows)
    defer { extendLifetime(dtable) }  // used only through its pointer
    dtable.pointer.update(repeating: 0, count: v * rows)
    tokens.withUnsafeBufferPointer { backend.scatterAddRows($0, rows, from: dxg, into: dtable.pointer) }
    backend.addColumnSums(v, rows, dtable.pointer, into: parameters.gradient(biasIH))
    backend.parallelGemm(
      true, false, rows, e, v, dtable.pointer, parameters.value(embedding.weight), beta: 1,
      parameters.gradient(weightIH))
    backend.parallelGemm(
      false, false, v, e, rows, dtable.pointer, parameters.value(weightIH), beta: 1,
      parameters.gradient(embedding.weight))
  }
}
