"""The live run page (LiveReport, glassnet train --live) and resuming across stateless callbacks."""
import os
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.doctor import Monitor
from glassnet.report import LiveReport
from glassnet.train.callbacks import Callback, ModelCheckpoint

pytest.importorskip("matplotlib")


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


class Reader(Callback):
    """Reads the live page at every epoch's end (after LiveReport wrote it)."""

    def __init__(self, path):
        self.path, self.pages = path, []

    def on_epoch_end(self, trainer, logs):
        self.pages.append(open(self.path).read())


def test_live_page_follows_training_then_a_final_page_stops_reloading(tmp_path):
    X, y = _data()
    path = tmp_path / "live.html"
    net = gn.nn.Sequential(gn.nn.Linear(6, 8, rng=0), gn.nn.ReLU(), gn.nn.Linear(8, 2, rng=1))
    live, reader = LiveReport(path, every=0), Reader(path)
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net.parameters(), lr=1e-2),
                    callbacks=[Monitor(every=2), live, reader], verbose=0)
    tr.fit(X, y, val=(X[:50], y[:50]), epochs=3, batch_size=50)
    assert len(reader.pages) == 3
    for k, page in enumerate(reader.pages, start=1):
        assert "window.location.reload()" in page and f"{k} epoch(s) of 3 done" in page
        assert 'id="chart-loss"' in page and "Drawn when training ends." in page
        assert '<section id="findings">' in page
    final = open(path).read()
    assert "window.location.reload()" not in final and "Live:" not in final
    assert "data:image/png;base64," in final  # the figures, now that training has ended
    assert live.writes == 1 + 3 * 4 + 3 + 1  # the start, every batch and every epoch (every=0), the end
    assert sorted(os.listdir(tmp_path)) == ["live.html"]  # written atomically: no temporary files left


def test_live_report_refuses_a_missing_folder(tmp_path):
    with pytest.raises(gn.errors.ConfigError, match="does not exist"):
        LiveReport(tmp_path / "nope" / "r.html")


def test_resume_ignores_callbacks_without_state(tmp_path):
    X, y = _data()

    def trainer(extra):
        net = gn.nn.Sequential(gn.nn.Linear(6, 2, rng=0))
        ck = ModelCheckpoint(tmp_path / "ck", monitor="loss")
        return gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net.parameters(), lr=0.1),
                          callbacks=[ck] + extra, verbose=0)

    first = trainer([LiveReport(tmp_path / "r.html", every=60), Monitor()])
    first.fit(X, y, epochs=2, batch_size=50)
    resumed = trainer([])  # without the live page and the monitor: they keep no state
    resumed.fit(X, y, epochs=3, batch_size=50, resume=tmp_path / "ck" / "last.npz")
    assert resumed.epoch == 3
    other = gn.Trainer(gn.nn.Sequential(gn.nn.Linear(6, 2, rng=0)), gn.nn.SoftmaxCrossEntropy(),
                       gn.optim.SGD(gn.nn.Linear(6, 2).parameters(), lr=0.1), verbose=0)
    with pytest.raises(gn.errors.CheckpointError, match="keep state"):
        other.load_checkpoint(tmp_path / "ck" / "last.npz")  # a ModelCheckpoint is missing


def test_cli_train_live(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("""seed = 0
[data]
dataset = "digits"
val_fraction = 0.2
[model]
layers = [{type = "Linear", in_features = 64, out_features = 10}]
[loss]
type = "SoftmaxCrossEntropy"
[optimizer]
type = "Adam"
lr = 1e-2
[trainer]
epochs = 2
batch_size = 64
""")
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "glassnet", "train", str(cfg), "--out", str(out), "--live", "2"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"live page: file://{out / 'report.html'} (updated every 2 s)" in r.stdout
    page = (out / "report.html").read_text()
    assert "window.location.reload()" not in page and "data:image/png;base64," in page  # the full, final report


CHROMIUM = __import__("shutil").which("chromium") or __import__("shutil").which("google-chrome")


def _live_pages(tmp_path):
    """Two epochs with a live page (never finished); the Reader holds the page of each epoch."""
    X, y = _data()
    path = tmp_path / "live.html"
    net = gn.nn.Sequential(gn.nn.Linear(6, 2, rng=0))
    reader = Reader(path)
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net.parameters(), lr=1e-2),
                    callbacks=[LiveReport(path, every=0, final=False), reader], verbose=0)
    tr.fit(X, y, epochs=2, batch_size=50)
    return reader


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_a_live_page_renders_without_console_errors(tmp_path):
    reader = _live_pages(tmp_path)
    snapshot = tmp_path / "snapshot.html"
    snapshot.write_text(reader.pages[-1])
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'p'}"]
    res = subprocess.run([CHROMIUM, *flags, "--enable-logging=stderr", "--v=0", "--dump-dom", f"file://{snapshot}"],
                         capture_output=True, text=True, timeout=120)
    n = reader.pages[-1].count('<div class="chart" id="chart-')
    assert n >= 3 and f'data-charts="{n}"' in res.stdout
    assert not [line for line in res.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_a_live_page_puts_the_reader_back_in_place(tmp_path):
    """The page writes the scroll position into the tab's window.name before it reloads itself and
    scrolls back to it on load; here a tab arrives with a position in window.name, as after a reload
    (headless Chromium's virtual time does not end on a page that keeps reloading)."""
    reader = _live_pages(tmp_path)
    (tmp_path / "page.html").write_text(reader.pages[-1])  # reloads every second
    # a reader who was 600 px down: the tab's window.name carries the place across navigations and reloads
    (tmp_path / "reader.html").write_text('<script>window.name = JSON.stringify({gnScroll: 600}); '
                                          'location.replace("page.html");</script>')
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'p'}",
             "--window-size=1000,700"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", f"file://{tmp_path / 'reader.html'}"], capture_output=True,
                         text=True, timeout=120).stdout
    assert 'data-scroll="600"' in dom and "Live: training is running" in dom
