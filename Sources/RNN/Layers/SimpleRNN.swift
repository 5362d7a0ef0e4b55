import CKernels

// Vanilla RNN, as torch.nn.RNN: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu.
extension RecurrentLayer {
  /// Forward over `x [T,B,D]`: one GEMM for all input projections, then per step one GEMM with
  /// `W_hh` and the activation. Backward needs only the outputs.
  func simpleForward(_ x: Tensor, _ state: RecurrentState, _ parameters: Parameters) -> RecurrentCache {
    let (t, b, d, h) = (x.shape[0], x.shape[1], inputSize, hiddenSize)
    let relu: Int32 = cell == .rnnRelu ? 1 : 0
    var pre = Tensor(shape: [t, b, h]) { pre in
      rnn_fill_rows(t * b, h, pre, parameters.value(biasIH), parameters.value(biasHH))
      x.withPointer { x in BLAS.gemm(false, true, t * b, h, d, x, parameters.value(weightIH), beta: 1, pre) }
    }
    var y = Tensor.zeros([t, b, h])
    pre.withMutablePointer { pre in
      y.withMutablePointer { y in
        state.h.withPointer { h0 in
          for step in 0..<t {
            let hPrev = step == 0 ? h0 : UnsafePointer(y + (step - 1) * b * h)
            let preT = pre + step * b * h
            BLAS.gemm(false, true, b, h, h, hPrev, parameters.value(weightHH), beta: 1, preT)
            rnn_simple_forward_step(b, h, preT, y + step * b * h, relu)
          }
        }
      }
    }
    return RecurrentCache(x: x, initial: state, y: y, gates: .zeros([0]), cells: .zeros([0]), tanhCells: .zeros([0]))
  }

  /// Backward through time: per step the activation's derivative and one GEMM
  /// (`dh_{t-1} = dpre_t W_hh`), then the weight gradients as whole-sequence GEMMs.
  func simpleBackward(
    _ dy: Tensor, _ dState: RecurrentState, _ cache: RecurrentCache, _ parameters: Parameters
  ) -> (dx: Tensor, dState: RecurrentState) {
    let (t, b, h) = (cache.x.shape[0], cache.x.shape[1], hiddenSize)
    let relu: Int32 = cell == .rnnRelu ? 1 : 0
    var dhNext = dState.h
    var dpre = Tensor.zeros([t, b, h])
    dpre.withMutablePointer { dpre in
      dhNext.withMutablePointer { dhNext in
        dy.withPointer { dy in
          cache.y.withPointer { y in
            for step in stride(from: t - 1, through: 0, by: -1) {
              let dpreT = dpre + step * b * h
              rnn_simple_backward_step(b, h, y + step * b * h, dy + step * b * h, dhNext, dpreT, relu)
              BLAS.gemm(false, false, b, h, h, dpreT, parameters.value(weightHH), beta: 0, dhNext)
            }
          }
        }
      }
    }
    let dx = dpre.withPointer { dpre in
      accumulateWeightGradients(dxg: dpre, dhg: dpre, cache: cache, parameters: parameters)
    }
    return (dx, RecurrentState(h: dhNext))
  }
}
