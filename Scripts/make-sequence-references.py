#!/usr/bin/env python3
"""Generate PyTorch reference fixtures for variable-length and bidirectional layers.

What it generates
-----------------
Safetensors files in ``Tests/RNNTests/Fixtures/`` (relative to the package
root), all tensors stored as little-endian F32, for each cell of ``lstm``,
``gru``, ``rnn_tanh``:

* ``packed_<cell>.safetensors`` -- a 2-layer unidirectional module (D=5, H=4,
  L=2, T=7, B=4) run on ``pack_padded_sequence(x, lengths,
  enforce_sorted=False)`` and unpacked with ``pad_packed_sequence(...,
  total_length=T)``, with ``lengths`` = [7, 3, 5, 1] (PyTorch rejects a zero
  length).
* ``bidirectional_<cell>.safetensors`` -- the same, with
  ``bidirectional=True``: ``y`` is [T,B,2H] (forward features, then reverse),
  states are [2L,B,H] ordered (l0, l0_reverse, l1, l1_reverse), parameters
  are named ``weight_ih_l0``, ``weight_ih_l0_reverse``, ...

Tensors (as in ``make-references.py``): ``x`` [T,B,D], ``h0``, ``c0`` (LSTM),
every parameter under its torch name, the upstream gradients ``dy`` (random at
every position, padded ones included: they must be ignored), ``dh_n``,
``dc_n`` (LSTM), the results ``y`` (zero at padded steps), ``h_n``, ``c_n``
(LSTM), the gradients of ``sum(y*dy) + sum(h_n*dh_n) [+ sum(c_n*dc_n)]``:
``grad.<param>``, ``grad.x``, ``grad.h0``, ``grad.c0`` (LSTM), and
``lengths`` [B] stored as F32. ``__metadata__``: cell, T, B, D, H, L,
bidirectional, torch.

Determinism and precision as in ``make-references.py`` (whose writer and
helpers this script imports): fixed seed, float32 draws computed in float64.

How to run (from the package root)
----------------------------------
    /work/venv/bin/python Scripts/make-sequence-references.py
"""

import importlib.util
import os
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

_spec = importlib.util.spec_from_file_location(
    "make_references", os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-references.py"))
refs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refs)

SEED = 20240602
CELLS = ["lstm", "gru", "rnn_tanh"]
LENGTHS = [7, 3, 5, 1]


def make_module(cell, input_size, hidden, layers, bidirectional):
    """``make_references.make_rnn``, optionally bidirectional (float64)."""
    kwargs = dict(input_size=input_size, hidden_size=hidden, num_layers=layers,
                  batch_first=False, dropout=0.0, bias=True, bidirectional=bidirectional)
    if cell == "lstm":
        return torch.nn.LSTM(**kwargs).double()
    if cell == "gru":
        return torch.nn.GRU(**kwargs).double()
    return torch.nn.RNN(nonlinearity=cell[len("rnn_"):], **kwargs).double()


def sequence_fixture(cell, bidirectional):
    T, B, D, H, L = 7, len(LENGTHS), 5, 4, 2
    S = L * (2 if bidirectional else 1)
    Y = H * (2 if bidirectional else 1)
    is_lstm = cell == "lstm"
    rnn = make_module(cell, D, H, L, bidirectional)
    refs.reinit_uniform(rnn)

    x = refs.randn(T, B, D).requires_grad_()
    h0 = refs.randn(S, B, H).requires_grad_()
    c0 = refs.randn(S, B, H).requires_grad_() if is_lstm else None
    dy = refs.randn(T, B, Y)
    dh_n = refs.randn(S, B, H)
    dc_n = refs.randn(S, B, H) if is_lstm else None
    lengths = torch.tensor(LENGTHS, dtype=torch.int64)

    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, state = rnn(packed, (h0, c0) if is_lstm else h0)
    y, _ = pad_packed_sequence(out, total_length=T)
    tensors = refs.backward_rnn(rnn, x, h0, c0, dy, dh_n, dc_n, y, state)
    tensors["lengths"] = lengths.double()
    metadata = {"cell": cell, "T": T, "B": B, "D": D, "H": H, "L": L,
                "bidirectional": bidirectional, "torch": torch.__version__}
    return tensors, metadata


def main():
    torch.manual_seed(SEED)
    os.makedirs(refs.FIXTURES, exist_ok=True)
    jobs = [(f"packed_{c}.safetensors", c, False) for c in CELLS]
    jobs += [(f"bidirectional_{c}.safetensors", c, True) for c in CELLS]
    for filename, cell, bidirectional in jobs:
        tensors, metadata = sequence_fixture(cell, bidirectional)
        for name, t in tensors.items():
            assert t is not None, (filename, name)
            assert torch.isfinite(t).all(), (filename, name)
        path = os.path.join(refs.FIXTURES, filename)
        refs.write_safetensors(path, tensors, metadata)
        refs.verify(path, tensors, metadata)
        print(f"wrote {os.path.relpath(path, refs.ROOT)}: {len(tensors)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
