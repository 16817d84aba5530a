"""The gradient checker itself: it must catch wrong gradients, skip kinks, and report."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import gradcheck as gc


class BuggySigmoid(gn.nn.Sigmoid):
    """Backward forgets the (1 - s) factor."""

    def backward(self, dout):
        cache, _shape = self._pop()  # the kernels' dispatch cache: .value is the reference's (the output)
        return dout * cache.value


class SlightlyOffLinear(gn.nn.Linear):
    factor = 1.0001  # 1e-4 relative error in dW

    def backward(self, dout):
        dx = super().backward(dout)
        self.W.grad *= self.factor
        return dx


def test_rel_error_formulas():
    assert gc.rel_error(1.0, 1.0) == 0
    assert gc.rel_error(0.0, 0.0) == 0
    assert gc.rel_error(2.0, 1.0) == pytest.approx(0.5)
    assert gc.overall_rel_error([3.0, 4.0], [3.0, 4.0]) == 0
    assert gc.overall_rel_error([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2) / 2)


def test_grade_uses_notes_thresholds():
    assert gc.grade(0.5) == "wrong"
    assert gc.grade(1e-3) == "uncomfortable"
    assert gc.grade(1e-5, has_kinks=True) == "ok (kinks)"
    assert gc.grade(1e-5) == "too high for a smooth function"
    assert gc.grade(1e-9) == "good"


def test_catches_a_wrong_backward(rng):
    report = gc.check_module(BuggySigmoid(), rng.standard_normal((4, 5)))
    assert not report.passed
    assert report.grade == "wrong"


def test_catches_a_small_error_in_one_parameter(rng):
    report = gc.check_module(SlightlyOffLinear(5, 3, rng=0), rng.standard_normal((4, 5)))
    assert not report.passed
    by_name = {c.name: c for c in report.checks}
    assert by_name["W"].max_rel_error == pytest.approx(1e-4, rel=1e-2)
    assert by_name["input"].max_rel_error < 1e-7
    assert report.worst.name == "W"
    assert "W" in str(report) and "FAIL" in str(report)


def test_resolves_a_one_in_a_million_error(rng):
    m = SlightlyOffLinear(5, 3, rng=0)
    m.factor = 1.000001
    report = gc.check_module(m, rng.standard_normal((4, 5)))
    assert not report.passed  # 1e-6 > the smooth threshold 1e-7
    assert {c.name: c for c in report.checks}["W"].max_rel_error > 5e-7


def test_true_zero_gradient_is_not_a_failure(rng):
    # the bias before BatchNorm has gradient exactly 0; rounding noise must not fail it
    net = gn.nn.Sequential(gn.nn.Linear(4, 5, rng=0), gn.nn.BatchNorm1d(5))
    report = gc.check_module(net, rng.standard_normal((6, 4)))
    assert report.passed, str(report)
    assert {c.name: c for c in report.checks}["0.b"].n_below_noise > 0


def test_kinks_are_detected_and_skipped():
    x = np.array([[1e-6, -2e-6, 0.5, -0.7]])  # two entries within h of the ReLU kink
    report = gc.check_module(gn.nn.ReLU(), x, h=1e-5)
    assert report.checks[0].n_kinks == 2
    assert report.passed


def test_large_tensors_checked_on_a_seeded_subset(rng):
    m = gn.nn.Linear(40, 30, rng=0)
    x = rng.standard_normal((8, 40))
    r1 = gc.check_module(m, x, max_coords=50, seed=5)
    r2 = gc.check_module(m, x, max_coords=50, seed=5)
    w = {c.name: c for c in r1.checks}["W"]
    assert w.n_checked == 50
    assert [c.worst_index for c in r1.checks] == [c.worst_index for c in r2.checks]
    assert r1.passed


def test_dropout_checked_under_fixed_mask(rng):
    report = gc.check_module(gn.nn.Dropout(0.5, rng=3), rng.standard_normal((6, 6)))
    assert report.passed and report.max_rel_error < 1e-7


def test_check_module_leaves_the_users_module_alone(rng):
    m = gn.nn.Linear(4, 3, rng=0)
    w = m.W.data.copy()
    gc.check_module(m, rng.standard_normal((2, 4)))
    assert m.W.dtype == np.float32
    np.testing.assert_array_equal(m.W.data, w)
    assert not m.W.grad.any()


def test_numerical_gradient_of_a_quadratic():
    x = np.array([1.0, -2.0, 3.0])
    g, _ = gc.numerical_gradient(lambda: float((x ** 2).sum()), x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-9)
