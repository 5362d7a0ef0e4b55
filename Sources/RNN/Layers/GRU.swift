import CKernels

// GRU, as torch.nn.GRU: xg = x W_ih^T + b_ih and hg = h W_hh^T + b_hh, each split r, z, n;
// r = sigmoid(xg_r + hg_r); z = sigmoid(xg_z + hg_z); n = tanh(xg_n + r * hg_n);
// h' = (1 - z) n + z h. The reset gate multiplies the hidden product after it is taken.
extension RecurrentLayer {
  /// Forward over `x [T,B,D]`: one GEMM for all input projections, then per step one GEMM with
  /// `W_hh` and one fused kernel. Caches gates `r,z,n` `[T,B,3H]` and `hg_n` `[T,B,H]`.
  func gruForward(_ x: Tensor, _ state: RecurrentState, _ parameters: Parameters) -> RecurrentCache {
    let (t, b, d, h) = (x.shape[0], x.shape[1], inputSize, hiddenSize)
    let g = 3 * h
    let xg = Tensor(shape: [t, b, g]) { xg in
      rnn_fill_rows(t * b, g, xg, parameters.value(biasIH), nil)
      x.withPointer { x in BLAS.gemm(false, true, t * b, g, d, x, parameters.value(weightIH), beta: 1, xg) }
    }
    var hg = Tensor.zeros([b, g])
    var gates = Tensor.zeros([t, b, g])
    var hn = Tensor.zeros([t, b, h])
    var y = Tensor.zeros([t, b, h])
    hg.withMutablePointer { hg in
      gates.withMutablePointer { gates in
        hn.withMutablePointer { hn in
          y.withMutablePointer { y in
            xg.withPointer { xg in
              state.h.withPointer { h0 in
                for step in 0..<t {
                  let hPrev = step == 0 ? h0 : UnsafePointer(y + (step - 1) * b * h)
                  rnn_fill_rows(b, g, hg, parameters.value(biasHH), nil)
                  BLAS.gemm(false, true, b, g, h, hPrev, parameters.value(weightHH), beta: 1, hg)
                  rnn_gru_forward_step(
                    b, h, xg + step * b * g, hg, hPrev, gates + step * b * g, hn + step * b * h,
                    y + step * b * h)
                }
              }
            }
          }
        }
      }
    }
    return RecurrentCache(x: x, initial: state, y: y, gates: gates, cells: hn, tanhCells: .zeros([0]))
  }

  /// Backward through time: per step one fused kernel and one GEMM (`dh_{t-1} += dhg_t W_hh`),
  /// then the weight gradients as whole-sequence GEMMs.
  func gruBackward(
    _ dy: Tensor, _ dState: RecurrentState, _ cache: RecurrentCache, _ parameters: Parameters
  ) -> (dx: Tensor, dState: RecurrentState) {
    let (t, b, h) = (cache.x.shape[0], cache.x.shape[1], hiddenSize)
    let g = 3 * h
    var dhNext = dState.h
    var dhPrev = Tensor.zeros([b, h])
    var dxg = Tensor.zeros([t, b, g])
    var dhg = Tensor.zeros([t, b, g])
    dxg.withMutablePointer { dxg in
      dhg.withMutablePointer { dhg in
        dhNext.withMutablePointer { dhNext in
          dhPrev.withMutablePointer { dhPrev in
            dy.withPointer { dy in
              cache.gates.withPointer { gates in
                cache.cells.withPointer { hn in
                  cache.y.withPointer { y in
                    cache.initial.h.withPointer { h0 in
                      var (next, prev) = (dhNext, dhPrev)
                      for step in stride(from: t - 1, through: 0, by: -1) {
                        let hPrev = step == 0 ? h0 : y + (step - 1) * b * h
                        let dhgT = dhg + step * b * g
                        rnn_gru_backward_step(
                          b, h, gates + step * b * g, hn + step * b * h, hPrev, dy + step * b * h, next,
                          dxg + step * b * g, dhgT, prev)
                        BLAS.gemm(false, false, b, h, g, dhgT, parameters.value(weightHH), beta: 1, prev)
                        swap(&next, &prev)
                      }
                      // The gradient of h_0 ends in `next`; make sure it is in dhNext.
                      if next != dhNext { dhNext.update(from: next, count: b * h) }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    let dx = dxg.withPointer { dxg in
      dhg.withPointer { dhg in
        accumulateWeightGradients(dxg: dxg, dhg: dhg, cache: cache, parameters: parameters)
      }
    }
    return (dx, RecurrentState(h: dhNext))
  }
}
