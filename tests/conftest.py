import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def jit_on():
    """The compiled kernels switched on for one test (skipped without Numba), then as they were."""
    pytest.importorskip("numba")
    from glassnet import _jit
    before = _jit._enabled
    _jit.set_enabled(True)
    yield _jit
    _jit.set_enabled(before)
