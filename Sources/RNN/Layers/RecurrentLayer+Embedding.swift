import CKernels

// A first layer fed by an embedding: its input projection of a character depends only on the
// character, so it is computed once per vocabulary entry, `[V, G*H]`, instead of once per token,
// `[T*B, G*H]`; the same holds for its gradients. Exact same function, a fraction of the FLOPs
// whenever the vocabulary is smaller than a batch (a character vocabulary: 65-200 vs thousands).
extension RecurrentLayer {
  /// Each character's input projection: `embedding.weight W_ih^T` plus biases, `[V, G*H]`.
  func projectionTable(_ embedding: Embedding, _ parameters: Parameters) -> Tensor {
    require(embedding.size == inputSize, "embedding size \(embedding.size) is not the layer's input size \(inputSize)")
    let (v, rows) = (embedding.vocabularySize, cell.gates * hiddenSize)
    return Tensor(shape: [v, rows]) { table in
      fillProjectionBiases(v, table, parameters)
      BLAS.parallelGemm(
        false, true, v, rows, inputSize, parameters.value(embedding.weight), parameters.value(weightIH), beta: 1, table)
    }
  }

  /// The input projections of `tokens [T,B]`: rows of `table [V, G*H]`, `[T,B,G*H]`.
  func gatherProjections(_ table: Tensor, tokens: [Int32], time: Int, batch: Int) -> Tensor {
    let rows = cell.gates * hiddenSize
    let v = table.shape[0]
    return Tensor(shape: [time, batch, rows]) { out in
      table.withPointer { table in
        tokens.withUnsafeBufferPointer { tokens in
          let (out, table, tokens) = (UncheckedBox(out), UncheckedBox(table), UncheckedBox(tokens))
          Parallel.split(tokens.value.count) { range in
            for n in range {
              let token = Int(tokens.value[n])
              require(token >= 0 && token < v, "token \(token) outside vocabulary of \(v)")
              (out.value + n * rows).update(from: table.value + token * rows, count: rows)
            }
          }
        }
      }
    }
  }

  /// The input side of backward through the table: sums `dxg [T,B,G*H]` by character into
  /// `dtable [V, G*H]`, then `db_ih += sum(dtable)`, `dW_ih += dtable^T embedding.weight`,
  /// `d embedding.weight += dtable W_ih`.
  func tableGradients(_ dxg: Tensor, tokens: [Int32], embedding: Embedding, parameters: Parameters) {
    let (v, rows, e) = (embedding.vocabularySize, cell.gates * hiddenSize, embedding.size)
    var dtable = Tensor.zeros([v, rows])
    dtable.withMutablePointer { dtable in
      dxg.withPointer { dxg in
        tokens.withUnsafeBufferPointer { tokens in
          let (dtable, dxg, tokens) = (UncheckedBox(dtable), UncheckedBox(dxg), UncheckedBox(tokens))
          Parallel.split(rows) { columns in
            for (n, token) in tokens.value.enumerated() {
              rnn_add(
                columns.count, dtable.value + Int(token) * rows + columns.lowerBound,
                dxg.value + n * rows + columns.lowerBound)
            }
          }
        }
      }
      Parallel.addColumnSums(v, rows, dtable, into: parameters.gradient(biasIH))
      BLAS.parallelGemm(
        true, false, rows, e, v, dtable, parameters.value(embedding.weight), beta: 1, parameters.gradient(weightIH))
      BLAS.parallelGemm(
        false, false, v, e, rows, dtable, parameters.value(weightIH), beta: 1, parameters.gradient(embedding.weight))
    }
  }
}
