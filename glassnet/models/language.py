"""Character-level language models: a ready model, its evaluation in the units language models
are reported in, and sampling.

    model = char_lstm(len(vocab), embedding=64, hidden=256)       # Embedding -> LSTM -> per-step Linear
    nats = ...                                                     # mean cross-entropy per character
    language_model_metrics(nats)  # {"loss_nats": ..., "bits_per_char": nats / ln 2, "perplexity": e^nats}
    text = sample(model, vocab, prime="ROMEO:", length=500, temperature=0.8, seed=0)
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from .._checks import check_int, check_number
from ..errors import ConfigError
from ..nn import LSTM, Embedding, Linear, Sequential, TimeDistributed
from ..nn.layers.recurrent import _Recurrent

__all__ = ["char_lstm", "sample", "language_model_metrics", "carrying_state"]


def char_lstm(vocab_size, embedding=64, hidden=256, stateful=True, rng=None, dtype=np.float32):
    """Embedding(vocab_size, embedding) -> LSTM(embedding, hidden) -> TimeDistributed(Linear(hidden,
    vocab_size)): scores for the next character at every step, (N, T) ids -> (N, T, vocab_size).
    ``stateful`` carries the LSTM's state from batch to batch (truncated backpropagation through
    time over ``glassnet.data.text_windows``)."""
    return Sequential({
        "embed": Embedding(vocab_size, embedding, rng=rng, dtype=dtype),
        "lstm": LSTM(embedding, hidden, stateful=stateful, rng=rng, dtype=dtype),
        "head": TimeDistributed(Linear(hidden, vocab_size, rng=rng, dtype=dtype))})


def language_model_metrics(loss_nats):
    """The mean cross-entropy per character in the three units language models are reported in:
    nats (natural log), bits per character (/ ln 2) and perplexity (e^nats)."""
    nats = float(loss_nats)
    return {"loss_nats": nats, "bits_per_char": nats / math.log(2), "perplexity": math.exp(min(nats, 700.0))}


@contextmanager
def carrying_state(model):
    """Within the block every recurrent layer of ``model`` carries its state from one forward
    call to the next (as ``stateful=True``), starting from zeros; afterwards each layer has its
    own setting back and no state."""
    layers = [m for m in model.modules() if isinstance(m, _Recurrent)]
    saved = [m.stateful for m in layers]
    model.reset_state()
    try:
        for m in layers:
            m.stateful = True
        yield model
    finally:
        for m, flag in zip(layers, saved):
            m.stateful = flag
        model.reset_state()
        model.clear_cache()


def sample(model, vocab, prime="", length=500, temperature=1.0, seed=None):
    """``prime`` followed by ``length`` characters drawn one at a time from the model's
    next-character distribution softmax(scores / temperature) (lower temperatures: more
    conservative text; 0 is not allowed, use a small value). The model reads the prime once,
    then each drawn character, carrying its recurrent state; it is left in its own mode, with no
    state. ``seed`` makes the draw repeatable."""
    length = check_int(length, "length", "sample", lo=0)
    temperature = check_number(temperature, "temperature", "sample", lo=0.0, lo_open=True)
    if not isinstance(prime, str):
        raise ConfigError(f"sample: prime must be a str, got {type(prime).__name__}")
    unknown = sorted({c for c in prime if c not in vocab})
    if unknown:
        raise ConfigError(f"sample: the prime has characters the model never saw: {''.join(unknown)!r}")
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    out = list(prime)
    try:
        with carrying_state(model):
            ids = vocab.encode(prime) if prime else np.zeros(1, dtype=np.int64)  # id 0: "unknown", a neutral start
            scores = np.asarray(model.forward(ids[None, :]))[0, -1]
            for _ in range(length):
                z = scores.astype(np.float64) / temperature
                z[0] = -np.inf  # never draw the unknown character
                p = np.exp(z - z.max())
                p /= p.sum()
                nxt = int(rng.choice(len(p), p=p))
                out.append(vocab.chars[nxt])
                scores = np.asarray(model.forward(np.array([[nxt]], dtype=np.int64)))[0, -1]
    finally:
        model.train(was_training)
    return "".join(out)
