"""The doctor's gradient norms through time for recurrent layers: the probe against finite
differences, the rules on a vanilla RNN that forgets, an LSTM that does not warn, an RNN that
explodes, and the report's figure."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.doctor import Monitor, examine
from glassnet.doctor.monitors import gradient_through_time, through_time_reach


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_probe_equals_finite_differences_of_the_last_output(kind):
    rng = np.random.default_rng(1)
    layer = getattr(gn.nn, kind)(3, 4, rng=rng, dtype=np.float64)
    x = rng.normal(size=(2, 6, 3))
    rel = gradient_through_time(layer, x)

    def last_sum(z):  # the probe's gradient is that of sum(h_T)
        probe = getattr(gn.nn, kind)(3, 4, dtype=np.float64)
        probe.load_state_dict(layer.state_dict())
        return probe.forward(z)[:, -1].sum(axis=1)  # per row

    eps = 1e-6
    norms = np.zeros((2, 6))
    for t in range(6):
        g = np.zeros((2, 3))
        for d in range(3):
            zp, zm = x.copy(), x.copy()
            zp[:, t, d] += eps
            zm[:, t, d] -= eps
            g[:, d] = (last_sum(zp) - last_sum(zm)) / (2 * eps)
        norms[:, t] = np.linalg.norm(g, axis=1)
    mean = norms.mean(axis=0)
    np.testing.assert_allclose(rel, mean / mean[-1], rtol=1e-6)
    assert rel[-1] == 1.0


def test_probe_leaves_the_layer_its_gradients_and_its_carried_state_alone():
    rng = np.random.default_rng(0)
    layer = gn.nn.LSTM(3, 5, stateful=True, return_sequences=False, rng=rng)
    x = rng.normal(size=(4, 7, 3)).astype(np.float32)
    layer.forward(x)
    layer.backward(np.ones((4, 5), np.float32))
    grads = [p.grad.copy() for p in layer.parameters()]
    state = [s.copy() for s in layer.last_state]
    rel = gradient_through_time(layer, x)
    assert len(rel) == 7
    for p, g in zip(layer.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)
        assert p.data.dtype == np.float32
    for s, before in zip(layer.last_state, state):
        np.testing.assert_array_equal(s, before)
    assert gradient_through_time(layer, np.zeros((4, 7), np.float32)) is None  # not a sequence


def test_reach_counts_steps_back_to_the_first_below_one_percent():
    assert through_time_reach([1e-4, 1e-3, 0.05, 0.5, 1.0], 5) == 3
    assert through_time_reach([0.2, 0.5, 1.0], 3) == 3
    assert through_time_reach([1e5, 10.0, 1.0], 3) == 3


def _fit(layer, epochs=2):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 60, 4)).astype(np.float32)
    y = (X[:, 0, 0] > 0).astype(int)  # the label sits at the first step
    net = gn.nn.Sequential(layer, gn.nn.Linear(layer.hidden_size, 2, rng=rng))
    mon = Monitor(every=2)
    trainer = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net.parameters(), lr=1e-3),
                         callbacks=[mon], verbose=0)
    trainer.fit(X, y, epochs=epochs, batch_size=64)
    return trainer, mon


def test_a_vanilla_rnn_that_forgets_gets_vanishing_through_time_and_an_lstm_does_not():
    trainer, mon = _fit(gn.nn.RNN(4, 16, return_sequences=False, rng=0))
    tt = mon.summary()["through_time"]["0"]
    assert tt["type"] == "RNN" and tt["steps"] == 60 and tt["samples"] == 2
    assert tt["reach"] < 15 and tt["first_ratio"] < 1e-6
    codes = {f.code: f for f in examine(trainer)}
    f = codes["gradients.vanishing_through_time"]
    assert "LSTM or GRU" in f.remedy and "0 (RNN 4->16)" in f.evidence
    json.dumps(mon.to_dict())  # what a run folder stores

    trainer, mon = _fit(gn.nn.LSTM(4, 16, return_sequences=False, rng=0))
    assert mon.summary()["through_time"]["0"]["type"] == "LSTM"
    assert not any("through_time" in f.code for f in examine(trainer))


def test_an_exploding_recurrence_is_found_with_clipping_advice(tmp_path):
    layer = gn.nn.RNN(4, 16, return_sequences=False, recurrent_init="normal", rng=0)
    layer.Wh.data *= 3
    trainer, mon = _fit(layer, epochs=1)
    tt = mon.summary()["through_time"]["0"]
    assert tt["max_ratio"] > 1e3
    f = {f.code: f for f in examine(trainer)}["gradients.exploding_through_time"]
    assert f.severity == "warning" and f.data["fix"] == "clip" and "gradient_clipping" in f.remedy
    page = gn.report.write_report(trainer, tmp_path / "r.html")
    text = open(page).read()
    section = text[text.index('id="through-time"'):]
    assert section.index("data:image/png;base64,") < section.index("</section>")


def test_report_of_a_run_without_recurrent_layers_says_so(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 5)).astype(np.float32), rng.integers(0, 2, 64)
    net = gn.nn.Sequential(gn.nn.Linear(5, 2, rng=rng))
    trainer = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net.parameters(), lr=0.1),
                         callbacks=[Monitor(every=1)], verbose=0)
    trainer.fit(X, y, epochs=1, batch_size=32)
    text = open(gn.report.write_report(trainer, tmp_path / "r.html")).read()
    section = text[text.index('id="through-time"'):]
    assert section.index("No recurrent layer") < section.index("</section>")
