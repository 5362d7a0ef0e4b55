# The README's five taxonomy snippets in PyTorch, as a PyTorch user would write them: the code
# between "# README: NAME" and "# end" is what TaxonomyTests compares with the Swift snippet of
# the same name (non-blank, non-comment lines). Run: python taxonomy.py (needs torch).
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

torch.manual_seed(0)
B = 3


def one_to_one():
    images, labels = torch.randn(B, 64), torch.tensor([1, 2, 3])
    # README: one-to-one
    model = nn.Linear(64, 10)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sgd.zero_grad()
    loss = F.cross_entropy(model(images), labels)  # [B,64] -> [B,10]
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5)
    sgd.step()
    # end
    return loss


def one_to_many():
    images, (go, stop) = torch.randn(B, 64), (27, 26)
    names = [[25, 4, 17, 14], [14, 13, 4], [19, 22, 14]]
    # README: one-to-many
    model = nn.ModuleDict(dict(image=nn.Linear(64, 128), letters=nn.Embedding(28, 16), decoder=nn.GRU(16, 128),
                               output=nn.Linear(128, 27)))
    adam = torch.optim.Adam(model.parameters(), lr=2e-3)
    adam.zero_grad()
    h0 = model.image(images).unsqueeze(0)  # image [B,64] -> h [1,B,H]
    read = pad_sequence([torch.tensor([go] + n) for n in names], padding_value=go)
    written = pad_sequence([torch.tensor(n + [stop]) for n in names], padding_value=-1)
    y, _ = model.decoder(model.letters(read), h0)  # [T,B,H]
    loss = F.cross_entropy(model.output(y).flatten(0, 1), written.flatten(), ignore_index=-1)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5)
    adam.step()
    # end
    image = images[:1]
    with torch.no_grad():
        # README: one-to-many decoding
        h, token, name = model.image(image).unsqueeze(0), torch.tensor([[go]]), []
        for _ in range(8):
            y, h = model.decoder(model.letters(token), h)
            token = model.output(y).argmax(-1)
            name.append(token.item())
            if token.item() == stop: break
        # end
    return name


def many_to_one():
    rows, lengths, labels = torch.randn(8, B, 8), [8, 5, 8], torch.tensor([4, 0, 9])
    # README: many-to-one
    model = nn.ModuleDict(dict(reader=nn.LSTM(8, 128), classify=nn.Linear(128, 10)))
    adam = torch.optim.Adam(model.parameters(), lr=2e-3)
    adam.zero_grad()
    _, (h, _) = model.reader(pack_padded_sequence(rows, lengths, enforce_sorted=False))  # each image's final state
    loss = F.cross_entropy(model.classify(h[-1]), labels)  # [B,10]
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5)
    adam.step()
    # end
    return loss


def encoder_decoder():
    pad = lambda sequences, value: pad_sequence([torch.tensor(s) for s in sequences], padding_value=value)
    questions = pad([[3, 5, 7, 10, 4, 0, 9], [1, 10, 2], [9, 9, 10, 1]], 0)
    question_lengths = [7, 3, 4]
    answers_in = pad([[11, 4, 4, 6], [11, 3], [11, 1, 0, 0]], 11)
    answers_out = pad([[4, 4, 6, 10], [3, 10], [1, 0, 0, 10]], -1)
    # README: many-to-many, encoder-decoder
    model = nn.ModuleDict(dict(symbols=nn.Embedding(12, 16), encoder=nn.LSTM(16, 128), decoder=nn.LSTM(16, 128),
                               output=nn.Linear(128, 11)))
    adam = torch.optim.Adam(model.parameters(), lr=2e-3)
    adam.zero_grad()
    packed = pack_padded_sequence(model.symbols(questions), question_lengths, enforce_sorted=False)
    _, thought = model.encoder(packed)  # each question's final state
    y, _ = model.decoder(model.symbols(answers_in), thought)  # [T',B,H]
    loss = F.cross_entropy(model.output(y).flatten(0, 1), answers_out.flatten(), ignore_index=-1)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5)
    adam.step()
    # end
    return loss


def synced_many_to_many():
    text = pad_sequence([torch.tensor([5, 2, 2, 7]), torch.tensor([1, 3])])
    text_lengths = [4, 2]
    tags = pad_sequence([torch.tensor([0, 1, 1, 2]), torch.tensor([0, 0])], padding_value=-1)
    # README: synced many-to-many
    model = nn.ModuleDict(dict(characters=nn.Embedding(96, 32), tagger=nn.LSTM(32, 64, bidirectional=True),
                               classify=nn.Linear(128, 3)))
    adam = torch.optim.Adam(model.parameters(), lr=2e-3)
    adam.zero_grad()
    packed = pack_padded_sequence(model.characters(text), text_lengths, enforce_sorted=False)
    y, _ = pad_packed_sequence(model.tagger(packed)[0])  # [T,B,2H]: both directions
    loss = F.cross_entropy(model.classify(y).flatten(0, 1), tags.flatten(), ignore_index=-1)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5)
    adam.step()
    # end
    return loss


if __name__ == "__main__":
    for structure in [one_to_one, one_to_many, many_to_one, encoder_decoder, synced_many_to_many]:
        print(structure.__name__, structure())
