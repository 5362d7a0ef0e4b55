import CKernels

// GRU, as torch.nn.GRU: xg = x W_ih^T + b_ih and hg = h W_hh^T + b_hh, each split r, z, n;
// r = sigmoid(xg_r + hg_r); z = sigmoid(xg_z + hg_z); n = tanh(xg_n + r * hg_n);
// h' = (1 - z) n + z h. The reset gate multiplies the hidden product after it is taken.
extension RecurrentLayer {
  /// Forward from the input projections `xg = x W_ih^T + b_ih` `[T,B,3H]`: per step one GEMM
  /// with `W_hh` and one fused kernel, each slice of the batch on its own thread. Caches the
  /// gates `r,z,n` `[T,B,3H]` and `hg_n` `[T,B,H]`. With `lengths`, a padded row's `h_t` is its `h_{t-1}`.
  func gruForward(_ xg: Tensor, _ state: RecurrentState, _ lengths: [Int]?, _ parameters: Parameters) -> RecurrentCache {
    let (t, b, h) = (xg.shape[0], xg.shape[1], hiddenSize)
    let g = 3 * h
    var hg = Tensor(uninitializedShape: [b, g])
    var gates = Tensor(uninitializedShape: [t, b, g])
    var hn = Tensor(uninitializedShape: [t, b, h])
    var y = Tensor(uninitializedShape: [t, b, h])
    let bhh = parameters.value(biasHH)
    withForwardHiddenWeight(parameters) { whh, transposed in
      hg.withMutablePointer { hg in
        gates.withMutablePointer { gates in
          hn.withMutablePointer { hn in
            y.withMutablePointer { y in
              xg.withPointer { xg in
                state.h.withPointer { h0 in
                  Parallel.split(b) { slice in
                    let (r, n) = (slice.lowerBound, slice.count)
                    let hgSlice = hg + r * g
                    for step in 0..<t {
                      let now = (step * b + r) * h
                      let hPrev = step == 0 ? h0 + r * h : UnsafePointer(y + now - b * h)
                      rnn_fill_rows(n, g, hgSlice, bhh, nil)
                      BLAS.gemm(false, transposed, n, g, h, hPrev, whh, beta: 1, hgSlice)
                      rnn_gru_forward_step(
                        n, h, xg + (step * b + r) * g, hgSlice, hPrev, gates + (step * b + r) * g, hn + now, y + now)
                      if let lengths {
                        Padding.copyPadded(lengths, slice, step: step, width: h, from: hPrev, to: y + now)
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return RecurrentCache(initial: state, y: y, gates: gates, cells: hn, tanhCells: .zeros([0]))
  }

  /// Backward through time: per step one fused kernel and one GEMM (`dh_{t-1} += dhg_t W_hh`),
  /// each slice of the batch on its own thread; then `W_hh`'s gradients as whole-sequence GEMMs.
  /// Returns the gradient of the input projections, `[T,B,3H]`. A padded row gets zero gate
  /// gradients and passes its `dh` through unchanged.
  func gruBackward(
    _ dy: Tensor, _ dState: RecurrentState, _ cache: RecurrentCache, _ parameters: Parameters
  ) -> (dxg: Tensor, dState: RecurrentState) {
    let (t, b, h) = (cache.y.shape[0], cache.y.shape[1], hiddenSize)
    let g = 3 * h
    var dhNext = dState.h
    var dhPrev = Tensor(uninitializedShape: [b, h])
    var dxg = Tensor(uninitializedShape: [t, b, g])
    var dhg = Tensor(uninitializedShape: [t, b, g])
    let whh = parameters.value(weightHH)
    let lengths = cache.lengths
    dxg.withMutablePointer { dxg in
      dhg.withMutablePointer { dhg in
        dhNext.withMutablePointer { dhNext in
          dhPrev.withMutablePointer { dhPrev in
            dy.withPointer { dy in
              cache.gates.withPointer { gates in
                cache.cells.withPointer { hn in
                  cache.y.withPointer { y in
                    cache.initial.h.withPointer { h0 in
                      Parallel.split(b) { slice in
                        let (r, n) = (slice.lowerBound, slice.count)
                        var (next, prev) = (dhNext + r * h, dhPrev + r * h)
                        for step in stride(from: t - 1, through: 0, by: -1) {
                          let now = (step * b + r) * h
                          let hPrev = step == 0 ? h0 + r * h : y + now - b * h
                          let dhgT = dhg + (step * b + r) * g
                          rnn_gru_backward_step(
                            n, h, gates + (step * b + r) * g, hn + now, hPrev, dy + now, next,
                            dxg + (step * b + r) * g, dhgT, prev)
                          if let lengths {
                            Padding.zeroPadded(lengths, slice, step: step, width: g, dxg + (step * b + r) * g)
                            Padding.zeroPadded(lengths, slice, step: step, width: g, dhgT)
                            Padding.copyPadded(lengths, slice, step: step, width: h, from: next, to: prev)
                          }
                          BLAS.gemm(false, false, n, h, g, dhgT, whh, beta: 1, prev)
                          swap(&next, &prev)
                        }
                        // The gradient of h_0 ends in `next`; make sure it is in dhNext.
                        if next != dhNext + r * h { (dhNext + r * h).update(from: next, count: n * h) }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    dhg.withPointer { accumulateHiddenGradients(dhg: $0, cache: cache, parameters: parameters) }
    return (dxg, RecurrentState(h: dhNext))
  }
}
