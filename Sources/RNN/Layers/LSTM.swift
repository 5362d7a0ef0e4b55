import CKernels

// LSTM, as torch.nn.LSTM: gates = x W_ih^T + b_ih + h W_hh^T + b_hh, split i, f, g, o;
// c' = sigmoid(f) c + sigmoid(i) tanh(g); h' = sigmoid(o) tanh(c').
extension RecurrentLayer {
  /// Forward from the input projections `xg = x W_ih^T + b_ih + b_hh` `[T,B,4H]`: per step one
  /// GEMM with `W_hh` and one fused kernel, each slice of the batch on its own thread. Caches the
  /// activated gates `[T,B,4H]` (in `xg`'s storage), `c_t` and `tanh(c_t)`. With `lengths`, a
  /// padded row's `h_t`, `c_t` are its `h_{t-1}`, `c_{t-1}`.
  func lstmForward(
    _ xg: consuming Tensor, _ state: RecurrentState, _ lengths: [Int]?, _ parameters: Parameters
  ) -> RecurrentCache {
    let (t, b, h) = (xg.shape[0], xg.shape[1], hiddenSize)
    let g = 4 * h
    let c0 = state.c ?? .zeros([b, h])
    var gates = consume xg  // its storage becomes the gate cache, without a copy
    var cells = Tensor(uninitializedShape: [t, b, h])
    var tanhCells = Tensor(uninitializedShape: [t, b, h])
    var y = Tensor(uninitializedShape: [t, b, h])
    withForwardHiddenWeight(parameters) { whh, transposed in
      gates.withMutablePointer { gates in
        cells.withMutablePointer { cells in
          tanhCells.withMutablePointer { tanhCells in
            y.withMutablePointer { y in
              state.h.withPointer { h0 in
                c0.withPointer { c0 in
                  Parallel.split(b) { slice in
                    let (r, n) = (slice.lowerBound, slice.count)
                    for step in 0..<t {
                      let now = (step * b + r) * h
                      let before = now - b * h
                      let hPrev = step == 0 ? h0 + r * h : UnsafePointer(y + before)
                      let cPrev = step == 0 ? c0 + r * h : UnsafePointer(cells + before)
                      let gatesT = gates + (step * b + r) * g
                      BLAS.gemm(false, transposed, n, g, h, hPrev, whh, beta: 1, gatesT)
                      rnn_lstm_forward_step(n, h, gatesT, cPrev, cells + now, tanhCells + now, y + now)
                      if let lengths {
                        Padding.copyPadded(lengths, slice, step: step, width: h, from: hPrev, to: y + now)
                        Padding.copyPadded(lengths, slice, step: step, width: h, from: cPrev, to: cells + now)
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
    return RecurrentCache(
      initial: RecurrentState(h: state.h, c: c0), y: y, gates: gates, cells: cells, tanhCells: tanhCells)
  }

  /// Backward through time: per step one fused kernel and one GEMM (`dh_{t-1} = dgates_t W_hh`),
  /// each slice of the batch on its own thread; then `W_hh`'s gradients as whole-sequence GEMMs.
  /// Returns the gradient of the input projections, `[T,B,4H]`. A padded row gets zero gate
  /// gradients and keeps its `dh`, `dc` (saved around the kernel and the GEMM).
  func lstmBackward(
    _ dy: Tensor, _ dState: RecurrentState, _ cache: RecurrentCache, _ parameters: Parameters
  ) -> (dxg: Tensor, dState: RecurrentState) {
    let (t, b, h) = (cache.y.shape[0], cache.y.shape[1], hiddenSize)
    let g = 4 * h
    var dhNext = dState.h
    var dc = dState.c ?? .zeros([b, h])
    var dgates = Tensor(uninitializedShape: [t, b, g])
    let lengths = cache.lengths
    var saved = Tensor(uninitializedShape: [lengths == nil ? 0 : 2, b, h])
    let whh = parameters.value(weightHH)
    saved.withMutablePointer { saved in
      dgates.withMutablePointer { dgates in
        dhNext.withMutablePointer { dhNext in
          dc.withMutablePointer { dc in
            dy.withPointer { dy in
              cache.gates.withPointer { gates in
                cache.cells.withPointer { cells in
                  cache.tanhCells.withPointer { tanhCells in
                    cache.initial.c!.withPointer { c0 in
                      Parallel.split(b) { slice in
                        let (r, n) = (slice.lowerBound, slice.count)
                        for step in stride(from: t - 1, through: 0, by: -1) {
                          let now = (step * b + r) * h
                          let cPrev = step == 0 ? c0 + r * h : cells + now - b * h
                          let dgatesT = dgates + (step * b + r) * g
                          let (savedH, savedC) = (saved + r * h, saved + (b + r) * h)
                          if let lengths {
                            Padding.copyPadded(lengths, slice, step: step, width: h, from: dhNext + r * h, to: savedH)
                            Padding.copyPadded(lengths, slice, step: step, width: h, from: dc + r * h, to: savedC)
                          }
                          rnn_lstm_backward_step(
                            n, h, gates + (step * b + r) * g, cPrev, tanhCells + now, dy + now, dhNext + r * h,
                            dc + r * h, dgatesT)
                          if let lengths { Padding.zeroPadded(lengths, slice, step: step, width: g, dgatesT) }
                          BLAS.gemm(false, false, n, h, g, dgatesT, whh, beta: 0, dhNext + r * h)
                          if let lengths {
                            Padding.copyPadded(lengths, slice, step: step, width: h, from: savedH, to: dhNext + r * h)
                            Padding.copyPadded(lengths, slice, step: step, width: h, from: savedC, to: dc + r * h)
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
      }
    }
    dgates.withPointer { accumulateHiddenGradients(dhg: $0, cache: cache, parameters: parameters) }
    return (dgates, RecurrentState(h: dhNext, c: dc))
  }
}
