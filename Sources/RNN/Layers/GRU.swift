import CKernels

// GRU, as torch.nn.GRU: xg = x W_ih^T + b_ih and hg = h W_hh^T + b_hh, each split r, z, n;
// r = sigmoid(xg_r + hg_r); z = sigmoid(xg_z + hg_z); n = tanh(xg_n + r * hg_n);
// h' = (1 - z) n + z h. The reset gate multiplies the hidden product after it is taken.
extension RecurrentLayer {
  /// Forward from the input projections `xg = x W_ih^T + b_ih` `[T,B,3H]`: per step one GEMM
  /// with `W_hh` and one fused kernel, the threads sharing each step by hidden units
  /// (`unitParts`) or each running a slice of the batch. Caches the gates `r,z,n` `[T,B,3H]` and
  /// `hg_n` `[T,B,H]`. With `lengths`, a padded row's `h_t` is its `h_{t-1}`.
  func gruForward(_ xg: Tensor, _ state: RecurrentState, _ lengths: [Int]?, _ parameters: Parameters) -> RecurrentCache {
    let (t, b, h) = (xg.shape[0], xg.shape[1], hiddenSize)
    let g = 3 * h
    var hg = Tensor(uninitializedShape: [b, g])
    var gates = Tensor(uninitializedShape: [t, b, g])
    var hn = Tensor(uninitializedShape: [t, b, h])
    var y = Tensor(uninitializedShape: [t, b, h])
    let bhh = parameters.value(biasHH)
    let parts = unitParts
    withForwardHiddenWeights(parameters, parts: parts ?? [0..<h]) { weights, transposed in
      hg.withMutablePointer { hg in
        gates.withMutablePointer { gates in
          hn.withMutablePointer { hn in
            y.withMutablePointer { y in
              xg.withPointer { xg in
                state.h.withPointer { h0 in
                  /// `h_{t-1}` of row `r` at `step`.
                  func previous(_ step: Int, row r: Int) -> UnsafePointer<Float> {
                    step == 0 ? h0 + r * h : UnsafePointer(y + ((step - 1) * b + r) * h)
                  }
                  /// `rows` x `units` at `step`: the product into `hg` (`[rows, 3 * units]`), then the cell.
                  func run(
                    _ step: Int, rows: Range<Int>, units: Range<Int>, weight: UnsafePointer<Float>,
                    hg: UnsafeMutablePointer<Float>
                  ) {
                    let (r, now) = (rows.lowerBound, (step * b + rows.lowerBound) * h)
                    let hPrev = previous(step, row: r)
                    BLAS.gemm(false, transposed, rows.count, 3 * units.count, h, hPrev, weight, beta: 0, hg)
                    rnn_gru_forward_step(
                      rows.count, h, units.lowerBound, units.count, xg + (step * b + r) * g, hg, bhh, hPrev,
                      gates + (step * b + r) * g, hn + now, y + now)
                    if let lengths {
                      Padding.copyPadded(lengths, rows, step: step, width: h, columns: units, from: hPrev, to: y + now)
                    }
                  }
                  if let parts {
                    Parallel.pairStages(t) { step, part in
                      let units = parts[part]
                      run(step, rows: 0..<b, units: units, weight: weights[part], hg: hg + b * 3 * units.lowerBound)
                    }
                  } else {
                    Parallel.split(b) { rows in
                      for step in 0..<t {
                        run(step, rows: rows, units: 0..<h, weight: weights[0], hg: hg + rows.lowerBound * g)
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
