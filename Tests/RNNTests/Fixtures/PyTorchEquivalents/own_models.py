# The README's "your own model" examples in PyTorch, as a PyTorch user would write them: the code
# between "# README: NAME" and "# end" is what OwnModelTests compares with the Swift snippet of the
# same name (non-blank, non-comment lines). Run: python own_models.py (needs torch, safetensors).
import os
import random
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

torch.manual_seed(0)
random.seed(0)
os.chdir(tempfile.mkdtemp())


def classifier():
    def strings(count):
        s = [[random.randrange(2) for _ in range(random.randrange(3, 13))] for _ in range(count)]
        return s, [int(sum(x) > len(x) // 2) for x in s]
    training_batches, (test_strings, test_labels) = [strings(32) for _ in range(400)], strings(500)
    # README: your own model
    model = nn.ModuleDict(dict(characters=nn.Embedding(2, 8), reader=nn.LSTM(8, 32), classify=nn.Linear(32, 2)))
    def logits(strings):
        padded = pad_sequence([torch.tensor(s) for s in strings])
        packed = pack_padded_sequence(model.characters(padded), [len(s) for s in strings], enforce_sorted=False)
        _, (h, _) = model.reader(packed)
        return model.classify(h[-1])  # [B,2]: each string's state after its last step
    adam = torch.optim.Adam(model.parameters(), lr=0.01)
    for strings, labels in training_batches:
        adam.zero_grad()
        F.cross_entropy(logits(strings), torch.tensor(labels)).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5)
        adam.step()
    save_file(model.state_dict(), "classifier.safetensors")  # a state_dict

    model.load_state_dict(load_file("classifier.safetensors"))
    with torch.no_grad():
        guesses = logits(test_strings).argmax(1)
    print("accuracy", (guesses == torch.tensor(test_labels)).float().mean().item())
    # end


def encoder_decoder():
    def questions(count):
        return [[random.randrange(10) for _ in range(random.randrange(1, 6))] for _ in range(count)]
    training_batches, test = [questions(32) for _ in range(1500)], questions(200)
    # README: your own encoder-decoder
    go, stop = 10, 11
    model = nn.ModuleDict(dict(digits=nn.Embedding(12, 16), encoder=nn.GRU(16, 128), decoder=nn.GRU(16, 128),
                               output=nn.Linear(128, 12)))
    def encode(questions):
        padded = pad_sequence([torch.tensor(q) for q in questions])
        return model.encoder(pack_padded_sequence(model.digits(padded), [len(q) for q in questions], enforce_sorted=False))[1]
    adam = torch.optim.Adam(model.parameters(), lr=0.003)
    for questions in training_batches:
        answers = [q[::-1] for q in questions]
        read = pad_sequence([torch.tensor([go] + a) for a in answers])
        written = pad_sequence([torch.tensor(a + [stop]) for a in answers], padding_value=-1)
        y, _ = model.decoder(model.digits(read), encode(questions))
        adam.zero_grad()
        F.cross_entropy(model.output(y).flatten(0, 1), written.flatten(), ignore_index=-1).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5)
        adam.step()
    save_file(model.state_dict(), "reverser.safetensors")

    model.load_state_dict(load_file("reverser.safetensors"))
    with torch.no_grad():
        h, token, steps = encode(test), torch.full((1, len(test)), go), []  # every question at once
        for _ in range(6):
            y, h = model.decoder(model.digits(token), h)
            token = model.output(y).argmax(-1)
            steps.append(token[0])
    answers = [a[:a.index(stop)] if stop in a else a for a in torch.stack(steps, 1).tolist()]
    print("exact", sum(a == q[::-1] for a, q in zip(answers, test)) / len(test))
    # end


if __name__ == "__main__":
    classifier()
    encoder_decoder()
