#!/usr/bin/env python3
"""Writes the committed seed corpora under Fuzz/seeds/ (run from anywhere; standard library only).

Files named valid-* must load; all others must be rejected (FuzzRegressionTests checks both).

checkpoint/: tiny valid CharLM checkpoints (one per cell kind, written as the Swift writer writes
them: F32, sorted metadata keys, header padded to 8 bytes) and broken variants of them.
corpus/: small text files (ASCII, multi-byte UTF-8, invalid UTF-8, NUL, empty).
vocabulary/: JSON arrays as in a checkpoint's "vocabulary" metadata, valid and not.
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def write(folder, name, data):
    os.makedirs(os.path.join(ROOT, folder), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(ROOT, folder, name), "wb") as f:
        f.write(data)


def json_string(s):
    return json.dumps(s, ensure_ascii=False, separators=(",", ":"))


def safetensors(tensors, metadata):
    """tensors: list of (name, shape, scalars); metadata: dict of str -> str."""
    parts, offset, data = [], 0, b""
    if metadata:
        items = ",".join(json_string(k) + ":" + json_string(v) for k, v in sorted(metadata.items()))
        parts.append('"__metadata__":{' + items + "}")
    for name, shape, scalars in tensors:
        blob = struct.pack("<%df" % len(scalars), *scalars)
        parts.append('%s:{"dtype":"F32","shape":[%s],"data_offsets":[%d,%d]}'
                     % (json_string(name), ",".join(map(str, shape)), offset, offset + len(blob)))
        offset += len(blob)
        data += blob
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    header += b" " * ((8 - (8 + len(header)) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + data


def checkpoint(cell, layers, hidden, embedding, vocabulary, step=7, extra_metadata=None, drop=None):
    v = len(vocabulary)
    g = GATES[cell] * hidden
    shapes = [("embedding.weight", [v, embedding])]
    for l in range(layers):
        d = embedding if l == 0 else hidden
        shapes += [("rnn.weight_ih_l%d" % l, [g, d]), ("rnn.weight_hh_l%d" % l, [g, hidden]),
                   ("rnn.bias_ih_l%d" % l, [g]), ("rnn.bias_hh_l%d" % l, [g])]
    shapes += [("decoder.weight", [v, hidden]), ("decoder.bias", [v])]
    tensors = []
    for i, (name, shape) in enumerate(shapes):
        n = 1
        for s in shape:
            n *= s
        tensors.append((name, shape, [((i * 31 + k * 7) % 17 - 8) / 16.0 for k in range(n)]))
    if drop:
        tensors = [t for t in tensors if t[0] != drop]
    config = {"cell": cell, "dropout": 0, "embedding": embedding, "hidden": hidden, "layers": layers,
              "vocabulary_size": v}
    metadata = {"config": json.dumps(config, sort_keys=True, separators=(",", ":")),
                "format": "swift-rnn-charlm/1", "step": str(step),
                "vocabulary": "[" + ",".join(json_string(c) for c in vocabulary) + "]"}
    metadata.update(extra_metadata or {})
    return safetensors(tensors, metadata)


def main():
    # checkpoint/
    valid = {
        "valid-lstm.safetensors": checkpoint("lstm", 1, 2, 3, ["\n", " ", "a", "b"]),
        "valid-gru-2layers.safetensors": checkpoint("gru", 2, 2, 2, ["a", "é", "中"]),
        "valid-rnn_tanh.safetensors": checkpoint("rnn_tanh", 1, 3, 2, ["x", "y", "😀", "\"", "\\"]),
        "valid-rnn_relu.safetensors": checkpoint("rnn_relu", 1, 1, 1, ["\u0000", "z"]),
    }
    for name, data in valid.items():
        write("checkpoint", name, data)
    base = valid["valid-lstm.safetensors"]
    write("checkpoint", "truncated-data.safetensors", base[:-5])
    write("checkpoint", "truncated-header.safetensors", base[:40])
    write("checkpoint", "header-length-huge.safetensors", struct.pack("<Q", 2**63) + base[8:])
    write("checkpoint", "missing-tensor.safetensors",
          checkpoint("lstm", 1, 2, 3, ["\n", " ", "a", "b"], drop="decoder.bias"))
    write("checkpoint", "vocabulary-mismatch.safetensors",
          checkpoint("lstm", 1, 2, 3, ["\n", " ", "a", "b"], extra_metadata={"vocabulary": '["a","b"]'}))
    write("checkpoint", "bad-config.safetensors",
          checkpoint("gru", 1, 2, 3, ["a", "b", "c"], extra_metadata={"config": '{"cell":"lstm","layers":-1}'}))
    dtypes_header = (b'{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},'
                     b'"b":{"dtype":"I64","shape":[1],"data_offsets":[4,12]},'
                     b'"c":{"dtype":"BOOL","shape":[],"data_offsets":[12,13]}}')
    write("checkpoint", "dtypes.safetensors", struct.pack("<Q", len(dtypes_header)) + dtypes_header
          + b"\x80?\x00@" + struct.pack("<q", 5) + b"\x01")
    write("checkpoint", "empty-header.safetensors", struct.pack("<Q", 2) + b"{}")

    # corpus/
    write("corpus", "valid-ascii.txt", "First Citizen:\nBefore we proceed any further, hear me speak.\n")
    write("corpus", "valid-utf8.txt", "héllo wörld 😀 中文 𝄞\u007f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff\n")
    write("corpus", "valid-vocabulary-only.txt", "abc é 中😀\nzz\n")
    write("corpus", "invalid-continuation.txt", b"ok\x80bad\n")
    write("corpus", "invalid-overlong.txt", b"ab\xc0\xafcd\xe0\x80\xaf")
    write("corpus", "invalid-surrogate.txt", b"x\xed\xa0\x80y")
    write("corpus", "invalid-beyond.txt", b"\xf4\x90\x80\x80")
    write("corpus", "invalid-truncated.txt", b"12345678\xf0\x9f\x98")
    write("corpus", "nul.txt", b"text\x00more")
    write("corpus", "valid-crlf-bom.txt", b"\xef\xbb\xbfline\r\nline\r\n")
    write("corpus", "empty.txt", b"")

    # vocabulary/
    write("vocabulary", "valid-simple.json", '["\\n"," ","a","b"]')
    write("vocabulary", "valid-escapes.json", '[ "\\"" , "\\\\", "\\/", "\\b", "\\f", "\\r", "\\t", "\\u0000", "\\u00e9" ]')
    write("vocabulary", "duplicate-via-escape.json", '["\\ud83d\\ude00","😀"]')
    write("vocabulary", "valid-multibyte.json", '["é","中","𝄞","\u2028"]')
    write("vocabulary", "valid-empty.json", "[]")
    write("vocabulary", "duplicate.json", '["a","a"]')
    write("vocabulary", "two-scalars.json", '["ab"]')
    write("vocabulary", "lone-surrogate.json", '["\\ud800"]')
    write("vocabulary", "unterminated.json", '["a",')


if __name__ == "__main__":
    main()
