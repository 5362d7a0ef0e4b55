#!/usr/bin/env python3
"""Generate PyTorch reference fixtures for the swift-rnn test suite.

What it generates
-----------------
Safetensors files in ``Tests/RNNTests/Fixtures/`` (relative to the package
root), all tensors stored as little-endian F32:

* ``lstm.safetensors``, ``gru.safetensors``, ``rnn_tanh.safetensors``,
  ``rnn_relu.safetensors`` -- one bare recurrent module
  (``torch.nn.LSTM`` / ``GRU`` / ``RNN(nonlinearity=...)``, input_size D=5,
  hidden_size H=4, num_layers L=2, batch_first=False, dropout=0) run on
  T=7 time steps with batch B=3. Tensors:

  - inputs: ``x`` [T,B,D], ``h0`` [L,B,H], ``c0`` [L,B,H] (LSTM only)
  - parameters under their torch names: ``weight_ih_l0``, ``weight_hh_l0``,
    ``bias_ih_l0``, ``bias_hh_l0``, ``weight_ih_l1``, ...
  - upstream gradients: ``dy`` [T,B,H], ``dh_n`` [L,B,H], ``dc_n`` [L,B,H]
    (LSTM only)
  - forward results: ``y`` [T,B,H], ``h_n`` [L,B,H], ``c_n`` [L,B,H] (LSTM)
  - gradients of ``sum(y*dy) + sum(h_n*dh_n) [+ sum(c_n*dc_n)]`` w.r.t.
    every parameter and input: ``grad.<param name>``, ``grad.x``,
    ``grad.h0``, ``grad.c0`` (LSTM)

  ``__metadata__``: cell, T, B, D, H, L, torch (all strings).

* ``model.safetensors``, ``model_outputs.safetensors`` -- a model of one's own
  (``nn.ModuleDict``) as PyTorch saves its ``state_dict``, and its outputs on
  a padded batch (see ``model_fixture``).

* ``charlm_lstm.safetensors``, ``charlm_gru.safetensors``,
  ``charlm_rnn_tanh.safetensors`` -- a whole character-level language model
  (Embedding(V,E) -> recurrent module(E,H,L) -> Linear(H,V)) with V=11, E=6,
  H=5, L=2, T=8, B=3 and loss = mean cross entropy over all T*B positions.
  Tensors: every state_dict entry (``embedding.weight``,
  ``rnn.weight_ih_l0``, ..., ``decoder.weight``, ``decoder.bias``),
  ``inputs`` [T,B] and ``targets`` [T,B] (token ids stored as F32),
  ``h0``/``c0`` [L,B,H], ``loss`` [1], ``logits`` [T,B,V], ``h_n``/``c_n``
  [L,B,H], and ``grad.<name>`` for every parameter plus ``grad.h0`` and
  ``grad.c0``. ``__metadata__`` as above plus V and E.

* ``mingru.safetensors``, ``packed_mingru.safetensors`` -- two stacked minGRU
  layers (the ``MinGRU`` module below: no ``torch.nn`` equivalent), sizes and
  tensors as the bare modules (parameters ``weight_ih_l{k}``, ``bias_ih_l{k}``
  only); the packed one over rows of ``lengths`` [B] (stored as F32), with
  zero outputs past a row's length and its state kept there. Each seeds its
  own generator (``mingru`` as the only argument writes just these).

The ``c0``/``c_n``/``grad.c0`` tensors exist only for LSTM files.

Determinism and precision: the torch seed is fixed; every random value is
drawn in float32 and then converted to float64, so the stored F32 inputs and
parameters are exactly the values the float64 computation used. Outputs and
gradients are computed in float64 and rounded to F32 when written.

Parameters are re-initialised uniformly in [-0.5, 0.5] (larger than the
torch default for these sizes) so that the gates are far from trivial.

How to run (from the package root)
----------------------------------
    /work/venv/bin/python Scripts/make-references.py

Only ``torch`` is required; the safetensors format is written by hand (the
``safetensors`` package is used only, if installed, to double-check the
written files). The script re-reads every file it writes and verifies that the
tensors round-trip bit-exactly.
"""

import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

SEED = 20240601
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "RNNTests", "Fixtures")

CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
CHARLM_CELLS = ["lstm", "gru", "rnn_tanh"]
# The rows' lengths of ``packed_mingru`` (all of 0...T, unsorted), as ``make-sequence-references.py``.
MINGRU_LENGTHS = [7, 3, 0, 5]


# ---------------------------------------------------------------------------
# safetensors I/O (hand written, F32 only)
# ---------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata):
    """Write ``tensors`` (name -> torch tensor) as F32 safetensors."""
    assert sys.byteorder == "little", "safetensors data must be little-endian"
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().to(torch.float32).contiguous().clone()
        data = bytes(t.untyped_storage())  # host order, checked to be little-endian
        header[name] = {
            "dtype": "F32",
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Read an F32 safetensors file -> (dict name -> float32 tensor, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    body = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name}: unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[b:e]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"]).clone()
    return out, metadata


def verify(path, tensors, metadata):
    """Check that ``path`` round-trips ``tensors``/``metadata`` exactly."""
    back, meta = read_safetensors(path)
    assert meta == {str(k): str(v) for k, v in metadata.items()}, (path, meta)
    assert set(back) == set(tensors), (path, set(back) ^ set(tensors))
    for name, t in tensors.items():
        expect = t.detach().to(torch.float32)
        assert back[name].shape == expect.shape, (path, name)
        assert torch.equal(back[name], expect), (path, name)
    try:
        from safetensors.torch import load_file
    except ImportError:
        return
    lib = load_file(path)
    assert set(lib) == set(tensors), path
    for name in lib:
        assert torch.equal(lib[name], back[name]), (path, name)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def randn(*shape):
    """Random normal values drawn in float32, returned as float64."""
    return torch.randn(*shape, dtype=torch.float32).double()


def reinit_uniform(module, a=0.5):
    """Re-initialise every parameter uniformly in [-a, a] (float32 draws)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.empty(p.shape, dtype=torch.float32).uniform_(-a, a).double())


def make_rnn(cell, input_size, hidden, layers):
    kwargs = dict(input_size=input_size, hidden_size=hidden, num_layers=layers,
                  batch_first=False, dropout=0.0, bias=True)
    if cell == "lstm":
        m = nn.LSTM(**kwargs)
    elif cell == "gru":
        m = nn.GRU(**kwargs)
    elif cell == "rnn_tanh":
        m = nn.RNN(nonlinearity="tanh", **kwargs)
    elif cell == "rnn_relu":
        m = nn.RNN(nonlinearity="relu", **kwargs)
    else:
        raise ValueError(cell)
    return m.double()


class CharLM(nn.Module):
    def __init__(self, cell, V, E, H, L):
        super().__init__()
        self.cell = cell
        self.embedding = nn.Embedding(V, E)
        self.rnn = make_rnn(cell, E, H, L)
        self.decoder = nn.Linear(H, V)

    def forward(self, tokens, state):
        """tokens [T,B] long, state h0 or (h0, c0) -> (logits [T,B,V], state)."""
        out, state = self.rnn(self.embedding(tokens), state)
        return self.decoder(out), state


def backward_rnn(rnn, x, h0, c0, dy, dh_n, dc_n, y, state):
    """Back-propagate ``sum(y*dy) + sum(h_n*dh_n) [+ sum(c_n*dc_n)]`` from the outputs ``y``
    and final ``state`` (``h_n``, or ``(h_n, c_n)`` when ``c0`` is given) of ``rnn``; return
    the fixture's tensors: inputs, upstream gradients, results, every parameter under its torch
    name and the gradients ``grad.<param>``, ``grad.x``, ``grad.h0``, ``grad.c0``."""
    is_lstm = c0 is not None
    if is_lstm:
        h_n, c_n = state
        objective = (y * dy).sum() + (h_n * dh_n).sum() + (c_n * dc_n).sum()
    else:
        h_n = state
        objective = (y * dy).sum() + (h_n * dh_n).sum()
    objective.backward()

    tensors = {"x": x, "h0": h0, "dy": dy, "dh_n": dh_n, "y": y, "h_n": h_n}
    for name, p in rnn.named_parameters():
        tensors[name] = p
        tensors["grad." + name] = p.grad
    tensors["grad.x"] = x.grad
    tensors["grad.h0"] = h0.grad
    if is_lstm:
        tensors.update({"c0": c0, "dc_n": dc_n, "c_n": c_n, "grad.c0": c0.grad})
    return tensors


# ---------------------------------------------------------------------------
# (a) bare recurrent modules
# ---------------------------------------------------------------------------

def cell_fixture(cell):
    T, B, D, H, L = 7, 3, 5, 4, 2
    is_lstm = cell == "lstm"
    rnn = make_rnn(cell, D, H, L)
    reinit_uniform(rnn)

    x = randn(T, B, D).requires_grad_()
    h0 = randn(L, B, H).requires_grad_()
    c0 = randn(L, B, H).requires_grad_() if is_lstm else None
    dy = randn(T, B, H)
    dh_n = randn(L, B, H)
    dc_n = randn(L, B, H) if is_lstm else None

    y, state = rnn(x, (h0, c0) if is_lstm else h0)
    tensors = backward_rnn(rnn, x, h0, c0, dy, dh_n, dc_n, y, state)

    metadata = {"cell": cell, "T": T, "B": B, "D": D, "H": H, "L": L,
                "torch": torch.__version__}
    return tensors, metadata


# ---------------------------------------------------------------------------
# (a2) a cell PyTorch does not have: minGRU (Feng et al. 2024)
# ---------------------------------------------------------------------------

class MinGRU(nn.Module):
    """``L`` stacked minGRU layers, ``x [T,B,D] -> y [T,B,H]``, as swift-rnn's ``MinGRUCell``:
    per layer ``z, cand = Linear(D, 2H)(x).chunk(2)``, ``h_t = (1 - sigmoid(z_t)) h_{t-1} +
    sigmoid(z_t) cand_t``. Parameters ``weight_ih_l{k}`` [2H, D], ``bias_ih_l{k}`` [2H]; no
    hidden-to-hidden weights. With ``lengths``, row ``b`` keeps its state after its
    ``lengths[b]`` steps and outputs zeros there (as packed sequences)."""

    def __init__(self, input_size, hidden, layers):
        super().__init__()
        self.hidden = hidden
        for k in range(layers):
            d = input_size if k == 0 else hidden
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(2 * hidden, d)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(2 * hidden)))
        self.layers = layers

    def forward(self, x, h0, lengths=None):
        T = x.shape[0]
        finals = []
        for k in range(self.layers):
            xg = F.linear(x, getattr(self, f"weight_ih_l{k}"), getattr(self, f"bias_ih_l{k}"))
            z, cand = xg.sigmoid().chunk(2, dim=-1)[0], xg.chunk(2, dim=-1)[1]
            h, ys = h0[k], []
            for t in range(T):
                new = (1 - z[t]) * h + z[t] * cand[t]
                if lengths is None:
                    h = new
                    ys.append(h)
                else:
                    valid = (t < lengths).to(x.dtype).unsqueeze(1)
                    h = valid * new + (1 - valid) * h
                    ys.append(valid * h)
            x = torch.stack(ys)
            finals.append(h)
        return x, torch.stack(finals)


def mingru_fixture(lengths):
    """Like ``cell_fixture`` for ``MinGRU`` (``lengths``: a packed-style batch, stored as F32)."""
    torch.manual_seed(SEED + (2 if lengths else 1))
    T, B, D, H, L = 7, len(lengths) if lengths else 3, 5, 4, 2
    rnn = MinGRU(D, H, L).double()
    reinit_uniform(rnn)
    x = randn(T, B, D).requires_grad_()
    h0 = randn(L, B, H).requires_grad_()
    dy = randn(T, B, H)
    dh_n = randn(L, B, H)
    lengths_tensor = torch.tensor(lengths, dtype=torch.int64) if lengths else None
    y, h_n = rnn(x, h0, lengths_tensor)
    tensors = backward_rnn(rnn, x, h0, None, dy, dh_n, None, y, h_n)
    if lengths:
        tensors["lengths"] = lengths_tensor.double()
    metadata = {"cell": "mingru", "T": T, "B": B, "D": D, "H": H, "L": L,
                "torch": torch.__version__}
    return tensors, metadata


# ---------------------------------------------------------------------------
# (b) character-level language model
# ---------------------------------------------------------------------------

def charlm_fixture(cell):
    V, E, H, L, T, B = 11, 6, 5, 2, 8, 3
    is_lstm = cell == "lstm"
    model = CharLM(cell, V, E, H, L).double()
    with torch.no_grad():
        model.embedding.weight.copy_(randn(V, E))
        reinit_uniform(model.rnn)
        reinit_uniform(model.decoder)

    inputs = torch.randint(0, V, (T, B))
    targets = torch.randint(0, V, (T, B))
    h0 = randn(L, B, H).requires_grad_()
    c0 = randn(L, B, H).requires_grad_() if is_lstm else None

    logits, state = model(inputs, (h0, c0) if is_lstm else h0)
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    loss.backward()

    tensors = {name: t for name, t in model.state_dict().items()}
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad
    tensors.update({
        "inputs": inputs.double(),
        "targets": targets.double(),
        "h0": h0,
        "loss": loss.reshape(1),
        "logits": logits,
        "grad.h0": h0.grad,
    })
    if is_lstm:
        h_n, c_n = state
        tensors.update({"c0": c0, "c_n": c_n, "grad.c0": c0.grad})
    else:
        h_n = state
    tensors["h_n"] = h_n

    metadata = {"cell": cell, "T": T, "B": B, "D": E, "H": H, "L": L,
                "V": V, "E": E, "torch": torch.__version__}
    return tensors, metadata


def model_fixture(_):
    """A model of one's own as PyTorch writes it: the ``state_dict`` of an ``nn.ModuleDict`` (an
    embedding, a 2-layer LSTM, a bidirectional GRU, a linear layer), in ``model.safetensors``
    (nothing else, as ``save_file(module.state_dict(), path)``), and in
    ``model_outputs.safetensors`` its inputs and outputs: ``tokens`` [T,B], ``lengths`` [B], the
    classifier's ``logits`` [B,3] of the LSTM's last layer's final state and the bidirectional
    layer's outputs ``tagged`` [T,B,6] (zero after each row's length)."""
    T, B = 6, 3
    model = nn.ModuleDict(dict(characters=nn.Embedding(7, 4), reader=nn.LSTM(4, 5, num_layers=2),
                               tagger=nn.GRU(4, 3, bidirectional=True), classify=nn.Linear(5, 3))).double()
    tokens = torch.randint(0, 7, (T, B))
    lengths = [6, 2, 4]
    x = model.characters(tokens)
    _, (h, _) = model.reader(pack_padded_sequence(x, lengths, enforce_sorted=False))
    tagged, _ = pad_packed_sequence(model.tagger(pack_padded_sequence(x, lengths, enforce_sorted=False))[0],
                                    total_length=T)
    outputs = {"tokens": tokens.double(), "lengths": torch.tensor(lengths).double(),
               "logits": model.classify(h[-1]), "tagged": tagged}
    return dict(model.state_dict()), outputs


def main():
    torch.manual_seed(SEED)
    os.makedirs(FIXTURES, exist_ok=True)
    jobs = [(f"{c}.safetensors", cell_fixture, c) for c in CELLS]
    jobs += [(f"charlm_{c}.safetensors", charlm_fixture, c) for c in CHARLM_CELLS]
    jobs += [("model", model_fixture, None)]
    # Each seeds its own generator, so `make-references.py mingru` writes only these two.
    jobs += [("mingru.safetensors", mingru_fixture, None)]
    jobs += [("packed_mingru.safetensors", mingru_fixture, MINGRU_LENGTHS)]
    if sys.argv[1:] == ["mingru"]:
        jobs = jobs[-2:]
    for filename, fn, cell in jobs:
        if fn is model_fixture:
            parameters, outputs = fn(cell)
            for name, tensors in [("model", parameters), ("model_outputs", outputs)]:
                path = os.path.join(FIXTURES, name + ".safetensors")
                write_safetensors(path, tensors, {"torch": torch.__version__})
                verify(path, tensors, {"torch": torch.__version__})
                print(f"wrote {os.path.relpath(path, ROOT)}: {len(tensors)} tensors")
            continue
        tensors, metadata = fn(cell)
        for name, t in tensors.items():
            assert t is not None, (filename, name)
            assert torch.isfinite(t).all(), (filename, name)
        path = os.path.join(FIXTURES, filename)
        write_safetensors(path, tensors, metadata)
        verify(path, tensors, metadata)
        print(f"wrote {os.path.relpath(path, ROOT)}: {len(tensors)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
