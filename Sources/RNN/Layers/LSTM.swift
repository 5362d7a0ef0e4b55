import CKernels

// LSTM, as torch.nn.LSTM: gates = x W_ih^T + b_ih + h W_hh^T + b_hh, split i, f, g, o;
// c' = sigmoid(f) c + sigmoid(i) tanh(g); h' = sigmoid(o) tanh(c').
extension RecurrentLayer {
  /// Forward over `x [T,B,D]`: one GEMM for all input projections, then per step one GEMM with
  /// `W_hh` and one fused kernel. Caches activated gates `[T,B,4H]`, `c_t` and `tanh(c_t)`.
  func lstmForward(_ x: Tensor, _ state: RecurrentState, _ parameters: Parameters) -> RecurrentCache {
    let (t, b, d, h) = (x.shape[0], x.shape[1], inputSize, hiddenSize)
    let g = 4 * h
    let c0 = state.c ?? .zeros([b, h])
    var gates = Tensor(shape: [t, b, g]) { gates in
      rnn_fill_rows(t * b, g, gates, parameters.value(biasIH), parameters.value(biasHH))
      x.withPointer { x in BLAS.gemm(false, true, t * b, g, d, x, parameters.value(weightIH), beta: 1, gates) }
    }
    var cells = Tensor.zeros([t, b, h])
    var tanhCells = Tensor.zeros([t, b, h])
    var y = Tensor.zeros([t, b, h])
    gates.withMutablePointer { gates in
      cells.withMutablePointer { cells in
        tanhCells.withMutablePointer { tanhCells in
          y.withMutablePointer { y in
            state.h.withPointer { h0 in
              c0.withPointer { c0 in
                for step in 0..<t {
                  let hPrev = step == 0 ? h0 : UnsafePointer(y + (step - 1) * b * h)
                  let cPrev = step == 0 ? c0 : UnsafePointer(cells + (step - 1) * b * h)
                  let gatesT = gates + step * b * g
                  BLAS.gemm(false, true, b, g, h, hPrev, parameters.value(weightHH), beta: 1, gatesT)
                  rnn_lstm_forward_step(
                    b, h, gatesT, cPrev, cells + step * b * h, tanhCells + step * b * h, y + step * b * h)
                }
              }
            }
          }
        }
      }
    }
    return RecurrentCache(
      x: x, initial: RecurrentState(h: state.h, c: c0), y: y, gates: gates, cells: cells, tanhCells: tanhCells)
  }

  /// Backward through time: per step one fused kernel and one GEMM (`dh_{t-1} = dgates_t W_hh`),
  /// then the weight gradients as whole-sequence GEMMs.
  func lstmBackward(
    _ dy: Tensor, _ dState: RecurrentState, _ cache: RecurrentCache, _ parameters: Parameters
  ) -> (dx: Tensor, dState: RecurrentState) {
    let (t, b, h) = (cache.x.shape[0], cache.x.shape[1], hiddenSize)
    let g = 4 * h
    var dhNext = dState.h
    var dc = dState.c ?? .zeros([b, h])
    var dgates = Tensor.zeros([t, b, g])
    dgates.withMutablePointer { dgates in
      dhNext.withMutablePointer { dhNext in
        dc.withMutablePointer { dc in
          dy.withPointer { dy in
            cache.gates.withPointer { gates in
              cache.cells.withPointer { cells in
                cache.tanhCells.withPointer { tanhCells in
                  cache.initial.c!.withPointer { c0 in
                    for step in stride(from: t - 1, through: 0, by: -1) {
                      let cPrev = step == 0 ? c0 : cells + (step - 1) * b * h
                      let dgatesT = dgates + step * b * g
                      rnn_lstm_backward_step(
                        b, h, gates + step * b * g, cPrev, tanhCells + step * b * h, dy + step * b * h,
                        dhNext, dc, dgatesT)
                      BLAS.gemm(false, false, b, h, g, dgatesT, parameters.value(weightHH), beta: 0, dhNext)
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    let dx = dgates.withPointer { dgates in
      accumulateWeightGradients(dxg: dgates, dhg: dgates, cache: cache, parameters: parameters)
    }
    return (dx, RecurrentState(h: dhNext, c: dc))
  }
}
