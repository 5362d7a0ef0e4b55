#!/usr/bin/env python3
"""Check a swift-rnn character-level LM checkpoint against PyTorch.

Usage (from the package root):

    /work/venv/bin/python Scripts/check-pytorch-parity.py CHECKPOINT.safetensors TEXT_FILE
    /work/venv/bin/python Scripts/check-pytorch-parity.py CKPT TEXT --expect-bpc 2.3456
    /work/venv/bin/python Scripts/check-pytorch-parity.py CKPT TEXT --rnn-binary .build/release/rnn

The checkpoint is the safetensors file written by ``rnn train``:

* tensors ``embedding.weight`` [V,E], ``rnn.weight_ih_l{k}``,
  ``rnn.weight_hh_l{k}``, ``rnn.bias_ih_l{k}``, ``rnn.bias_hh_l{k}``,
  ``decoder.weight`` [V,H], ``decoder.bias`` [V] (torch naming and layout);
* ``__metadata__["vocabulary"]``: JSON array of one-character strings, the
  index being the token id;
* ``__metadata__["config"]``: JSON object with ``cell`` (lstm | gru |
  rnn_tanh | rnn_relu), ``layers``, ``hidden``, ``embedding``.

The script builds the equivalent ``torch.nn`` model (Embedding -> LSTM/GRU/RNN
with batch_first=False -> Linear), loads the tensors with ``strict=True``,
encodes TEXT_FILE as UTF-8 with one token per Unicode code point (it is an
error if a character is not in the vocabulary; the text is used verbatim,
including any trailing newline), and evaluates it in float64 as one continuous
stream, batch 1, from a zero state, without dropout: characters 1..N-1 are
predicted from characters 0..N-2 (the first character is not scored). It prints
the mean loss in nats per character and in bits per character.

``--expect-bpc X``: exit with status 1 if |bpc - X| > --tolerance.
``--rnn-binary PATH``: also run ``PATH eval --checkpoint CKPT --data TEXT
--json``, read ``loss_nats_per_char``, ``bits_per_char`` and ``characters``
from its JSON output, print both results and their absolute differences, and
exit with status 1 if either difference exceeds --tolerance (default 1e-4).
A differing ``characters`` count is reported as a warning.

Only ``torch`` is required; ``safetensors.torch.load_file`` is used if the
``safetensors`` package is installed, otherwise a small built-in reader.
Exit status: 0 on success/agreement, 1 on disagreement, 2 on bad input.
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
CHUNK = 4096  # time steps per forward call; the state is carried across chunks


class InputError(Exception):
    pass


# ---------------------------------------------------------------------------
# checkpoint reading
# ---------------------------------------------------------------------------

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
    "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
    "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
}


def read_safetensors(path):
    """Minimal safetensors reader -> (dict name -> tensor, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise InputError(f"{path}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise InputError(f"{path}: header length {n} exceeds file size")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: bad safetensors header: {e}")
    metadata = header.pop("__metadata__", None) or {}
    body = raw[8 + n:]
    if sys.byteorder != "little":
        raise InputError("the built-in reader needs a little-endian host; "
                         "install safetensors")
    tensors = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise InputError(f"{path}: {name}: unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        if not 0 <= b <= e <= len(body):
            raise InputError(f"{path}: {name}: data offsets out of range")
        t = torch.frombuffer(bytearray(body[b:e]), dtype=dtype) if e > b \
            else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, metadata


def read_metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    return header.get("__metadata__") or {}


def load_checkpoint(path):
    try:
        from safetensors.torch import load_file
    except ImportError:
        return read_safetensors(path)
    return load_file(path), read_metadata(path)


# ---------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------

class CharLM(nn.Module):
    def __init__(self, cell, V, E, H, L):
        super().__init__()
        self.cell = cell
        self.embedding = nn.Embedding(V, E)
        kwargs = dict(input_size=E, hidden_size=H, num_layers=L,
                      batch_first=False, dropout=0.0, bias=True)
        if cell == "lstm":
            self.rnn = nn.LSTM(**kwargs)
        elif cell == "gru":
            self.rnn = nn.GRU(**kwargs)
        elif cell == "rnn_tanh":
            self.rnn = nn.RNN(nonlinearity="tanh", **kwargs)
        elif cell == "rnn_relu":
            self.rnn = nn.RNN(nonlinearity="relu", **kwargs)
        else:
            raise InputError(f"unknown cell {cell!r}; expected one of {CELLS}")
        self.decoder = nn.Linear(H, V)

    def forward(self, tokens, state):
        """tokens [T,B] long, state h or (h, c) -> (logits [T,B,V], state)."""
        out, state = self.rnn(self.embedding(tokens), state)
        return self.decoder(out), state

    def zero_state(self, batch, dtype):
        L, H = self.rnn.num_layers, self.rnn.hidden_size
        h = torch.zeros(L, batch, H, dtype=dtype)
        return (h, torch.zeros_like(h)) if self.cell == "lstm" else h


def build_model(ckpt_path):
    tensors, metadata = load_checkpoint(ckpt_path)
    for key in ("vocabulary", "config"):
        if key not in metadata:
            raise InputError(f"{ckpt_path}: __metadata__ has no {key!r}")
    try:
        vocabulary = json.loads(metadata["vocabulary"])
        config = json.loads(metadata["config"])
    except json.JSONDecodeError as e:
        raise InputError(f"{ckpt_path}: bad JSON in metadata: {e}")
    if not isinstance(vocabulary, list) or not all(
            isinstance(c, str) and len(c) == 1 for c in vocabulary):
        raise InputError(f"{ckpt_path}: vocabulary must be a JSON array of "
                         "one-character strings")
    if len(set(vocabulary)) != len(vocabulary):
        raise InputError(f"{ckpt_path}: vocabulary has duplicate characters")
    try:
        cell = config["cell"]
        L, H, E = int(config["layers"]), int(config["hidden"]), int(config["embedding"])
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{ckpt_path}: bad config {config!r}: {e}")
    V = len(vocabulary)

    model = CharLM(cell, V, E, H, L)
    state = {k: v.to(torch.float64) for k, v in tensors.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise InputError(f"{ckpt_path}: checkpoint does not match config "
                         f"{config!r} with V={V}:\n{e}")
    model = model.double().eval()
    return model, vocabulary, config


# ---------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------

def encode(text_path, vocabulary):
    with open(text_path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{text_path}: not valid UTF-8: {e}")
    index = {c: i for i, c in enumerate(vocabulary)}
    ids = []
    for pos, ch in enumerate(text):
        i = index.get(ch)
        if i is None:
            raise InputError(f"{text_path}: character {ch!r} (U+{ord(ch):04X}) at "
                             f"code point {pos} is not in the vocabulary")
        ids.append(i)
    if len(ids) < 2:
        raise InputError(f"{text_path}: need at least 2 characters, got {len(ids)}")
    return torch.tensor(ids, dtype=torch.long)


@torch.no_grad()
def evaluate(model, ids):
    """Sum of -log p(ids[t] | ids[:t]) for t = 1..N-1, in float64."""
    state = model.zero_state(1, torch.float64)
    inputs, targets = ids[:-1], ids[1:]
    total = 0.0
    for start in range(0, inputs.numel(), CHUNK):
        x = inputs[start:start + CHUNK].unsqueeze(1)          # [T,1]
        y = targets[start:start + CHUNK]                        # [T]
        logits, state = model(x, state)                         # [T,1,V]
        total += F.cross_entropy(logits[:, 0, :], y, reduction="sum").item()
    n = inputs.numel()
    nats = total / n
    return {"characters": n, "loss_nats_per_char": nats,
            "bits_per_char": nats / math.log(2)}


def run_binary(binary, ckpt, text):
    cmd = [binary, "eval", "--checkpoint", ckpt, "--data", text, "--json"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise InputError(f"cannot run {binary}: {e}")
    if proc.returncode != 0:
        raise InputError(f"{' '.join(cmd)} exited with status {proc.returncode}:\n"
                         f"{proc.stderr.strip()}")
    out = proc.stdout.strip()
    candidates = [out] + [line for line in reversed(out.splitlines())]
    for candidate in candidates:
        try:
            result = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(result, dict):
            missing = [k for k in ("loss_nats_per_char", "bits_per_char",
                                   "characters") if k not in result]
            if missing:
                raise InputError(f"rnn eval JSON lacks {missing}: {result!r}")
            return result
    raise InputError(f"could not parse JSON from rnn eval output:\n{out}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Evaluate a swift-rnn checkpoint with PyTorch (float64).")
    parser.add_argument("checkpoint")
    parser.add_argument("text")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--expect-bpc", type=float, metavar="X",
                       help="fail if PyTorch's bits/char differs from X")
    group.add_argument("--rnn-binary", metavar="PATH",
                       help="compare with `PATH eval --checkpoint ... --json`")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="maximum absolute difference (default 1e-4)")
    args = parser.parse_args(argv)

    try:
        model, vocabulary, config = build_model(args.checkpoint)
        ids = encode(args.text, vocabulary)
        ref = evaluate(model, ids)
        other = run_binary(args.rnn_binary, os.path.abspath(args.checkpoint),
                           os.path.abspath(args.text)) if args.rnn_binary else None
    except (InputError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    print(f"model: cell={config['cell']} layers={config['layers']} "
          f"hidden={config['hidden']} embedding={config['embedding']} "
          f"vocabulary={len(vocabulary)}")
    print(f"text: {ids.numel()} characters, {ref['characters']} scored")
    print(f"pytorch: loss {ref['loss_nats_per_char']:.8f} nats/char, "
          f"{ref['bits_per_char']:.8f} bits/char")

    ok = True
    if args.expect_bpc is not None:
        diff = abs(ref["bits_per_char"] - args.expect_bpc)
        print(f"expected: {args.expect_bpc:.8f} bits/char, |diff| = {diff:.3e}")
        ok = diff <= args.tolerance
    if other is not None:
        d_nats = abs(ref["loss_nats_per_char"] - float(other["loss_nats_per_char"]))
        d_bpc = abs(ref["bits_per_char"] - float(other["bits_per_char"]))
        print(f"rnn:     loss {float(other['loss_nats_per_char']):.8f} nats/char, "
              f"{float(other['bits_per_char']):.8f} bits/char, "
              f"{other['characters']} characters")
        print(f"|diff|:  {d_nats:.3e} nats/char, {d_bpc:.3e} bits/char")
        if int(other["characters"]) != ref["characters"]:
            print(f"warning: rnn reports {other['characters']} characters, "
                  f"PyTorch scored {ref['characters']}", file=sys.stderr)
        ok = d_nats <= args.tolerance and d_bpc <= args.tolerance
    if not ok:
        print(f"FAIL: difference exceeds tolerance {args.tolerance:g}")
        return 1
    if args.expect_bpc is not None or other is not None:
        print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
