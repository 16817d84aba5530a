"""glassnet in Jupyter: _repr_html_ (with a text __repr__) of History, the doctor's findings, the
Trainer and a search's result; the example notebook runs end to end in a real kernel (nbclient;
skipped where nbclient or ipykernel is absent) with its progress in one output updated in place."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.report.notebook import in_notebook, svg_chart

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    net = gn.nn.Sequential(gn.nn.Linear(5, 8, rng=0), gn.nn.ReLU(), gn.nn.Linear(8, 2, rng=1))
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net.parameters(), lr=1e-2),
                    callbacks=[gn.doctor.Monitor(every=5)], verbose=0)
    tr.fit(X, y, val=(X[:40], y[:40]), epochs=4, batch_size=30)
    return tr


def test_history_shows_its_curves_and_a_text_form(trained):
    h = trained.history
    page = h._repr_html_()
    assert "<b>History</b>: 4 epochs, 16 iterations" in page
    assert page.count("<svg") == 3 and "validation loss (eval mode)" in page and "accuracy per epoch" in page
    assert repr(h).startswith("History(4 epochs, 16 iterations; last epoch: loss ")


def test_findings_are_cards_by_severity(trained):
    findings = gn.doctor.examine(trained)
    page = findings._repr_html_()
    for f in findings:
        assert f.what.replace("'", "&#x27;") in page
    assert ("the run looks healthy" in page) == findings.healthy
    assert repr(findings) == gn.doctor.format_findings(findings)
    broken = gn.doctor.Findings([gn.doctor.findings.Finding("warning", "Something is off.", "a number", "a fix",
                                                           "x.y", {})])
    assert "#e67e22" in broken._repr_html_() and "Something is off." in broken._repr_html_()


def test_trainer_shows_its_state_and_last_metrics(trained):
    page = trained._repr_html_()
    assert "<b>Trainer</b>" in page and "4 epoch(s) of 4, 16 iterations, batch 30" in page
    assert "Adam(lr=0.01" in page and "val_accuracy" in page
    assert repr(trained).startswith("Trainer(Sequential with 66 parameters, SoftmaxCrossEntropy, Adam; 4 epoch(s)")
    fresh = gn.Trainer(gn.nn.Linear(2, 2), gn.nn.MSE(), gn.optim.SGD(gn.nn.Linear(2, 2).parameters(), lr=0.1))
    assert "not fitted" in repr(fresh) and "not fitted yet" in fresh._repr_html_()


def test_svg_chart_leaves_gaps_and_skips_nothing_to_draw():
    svg = svg_chart([1, 2, 3, 4], [("a", [1.0, None, 3.0, 4.0]), ("b", [float("nan")] * 4)], "t", "x")
    assert svg.count("<circle") == 1 and svg.count("<polyline") == 1  # a point alone, then a line
    assert svg_chart([1, 2], [("a", [None, None])]) == ""
    assert "(log y)" in svg_chart([1, 2, 3], [("a", [1e-3, 1e-1, 10.0])], log=True)


def test_outside_a_kernel_the_progress_stays_text():
    assert not in_notebook()


def test_example_notebook_runs_end_to_end():
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("sklearn")
    import nbformat

    nb = nbformat.read(os.path.join(HERE, "..", "examples", "notebook.ipynb"), as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    fit = code[1].outputs
    # the progress: one output, updated in place to the end (no stream of lines, no cleared outputs)
    assert len(fit) == 1 and fit[0].output_type == "display_data"
    html = fit[0].data["text/html"]
    assert 'progress value="176" max="176"' in html and "finished" in html and "<svg" in html
    assert "<b>Trainer</b>" in code[2].outputs[0].data["text/html"]
    assert "<b>History</b>: 8 epochs" in code[3].outputs[0].data["text/html"]
    assert "The doctor" in code[4].outputs[0].data["text/html"] or "WARNING" in code[4].outputs[0].data["text/html"]
    assert "<b>Search</b>: 4 trials, 4 done" in code[5].outputs[0].data["text/html"]
    for c in code:
        assert all(o.output_type != "error" for o in c.outputs)
