import CKernels

// Vanilla RNN, as torch.nn.RNN: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu.
extension RecurrentLayer {
  /// Forward from the input projections `xg = x W_ih^T + b_ih + b_hh` `[T,B,H]`: per step one
  /// GEMM with `W_hh` and the activation, each slice of the batch on its own thread. Backward
  /// needs only the outputs. With `lengths`, a padded row's `h_t` is its `h_{t-1}`.
  func simpleForward(
    _ xg: consuming Tensor, _ state: RecurrentState, _ lengths: [Int]?, _ parameters: Parameters
  ) -> RecurrentCache {
    let (t, b, h) = (xg.shape[0], xg.shape[1], hiddenSize)
    let relu: Int32 = cell == .rnnRelu ? 1 : 0
    var pre = consume xg
    var y = Tensor(uninitializedShape: [t, b, h])
    withForwardHiddenWeight(parameters) { whh, transposed in
      pre.withMutablePointer { pre in
        y.withMutablePointer { y in
          state.h.withPointer { h0 in
            Parallel.split(b) { slice in
              let (r, n) = (slice.lowerBound, slice.count)
              for step in 0..<t {
                let now = (step * b + r) * h
                let hPrev = step == 0 ? h0 + r * h : UnsafePointer(y + now - b * h)
                BLAS.gemm(false, transposed, n, h, h, hPrev, whh, beta: 1, pre + now)
                rnn_simple_forward_step(n, h, pre + now, y + now, relu)
                if let lengths { Padding.copyPadded(lengths, slice, step: step, width: h, from: hPrev, to: y + now) }
              }
            }
          }
        }
      }
    }
    return RecurrentCache(initial: state, y: y, gates: .zeros([0]), cells: .zeros([0]), tanhCells: .zeros([0]))
  }

  /// Backward through time: per step the activation's derivative and one GEMM
  /// (`dh_{t-1} = dpre_t W_hh`), each slice of the batch on its own thread; then `W_hh`'s
  /// gradients as whole-sequence GEMMs. Returns the gradient of the input projections, `[T,B,H]`.
  /// A padded row gets a zero gradient and keeps its `dh` (saved around the kernel and the GEMM).
  func simpleBackward(
    _ dy: Tensor, _ dState: RecurrentState, _ cache: RecurrentCache, _ parameters: Parameters
  ) -> (dxg: Tensor, dState: RecurrentState) {
    let (t, b, h) = (cache.y.shape[0], cache.y.shape[1], hiddenSize)
    let relu: Int32 = cell == .rnnRelu ? 1 : 0
    var dhNext = dState.h
    var dpre = Tensor(uninitializedShape: [t, b, h])
    let lengths = cache.lengths
    var saved = Tensor(uninitializedShape: [lengths == nil ? 0 : b, h])
    let whh = parameters.value(weightHH)
    saved.withMutablePointer { saved in
      dpre.withMutablePointer { dpre in
        dhNext.withMutablePointer { dhNext in
          dy.withPointer { dy in
            cache.y.withPointer { y in
              Parallel.split(b) { slice in
                let (r, n) = (slice.lowerBound, slice.count)
                for step in stride(from: t - 1, through: 0, by: -1) {
                  let now = (step * b + r) * h
                  if let lengths {
                    Padding.copyPadded(lengths, slice, step: step, width: h, from: dhNext + r * h, to: saved + r * h)
                  }
                  rnn_simple_backward_step(n, h, y + now, dy + now, dhNext + r * h, dpre + now, relu)
                  if let lengths { Padding.zeroPadded(lengths, slice, step: step, width: h, dpre + now) }
                  BLAS.gemm(false, false, n, h, h, dpre + now, whh, beta: 0, dhNext + r * h)
                  if let lengths {
                    Padding.copyPadded(lengths, slice, step: step, width: h, from: saved + r * h, to: dhNext + r * h)
                  }
                }
              }
            }
          }
        }
      }
    }
    dpre.withPointer { accumulateHiddenGradients(dhg: $0, cache: cache, parameters: parameters) }
    return (dpre, RecurrentState(h: dhNext))
  }
}
