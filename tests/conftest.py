import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def kernels_on():
    """Every kernel allowed for one test (those that need Numba still need it), then as it was."""
    from glassnet import kernels
    before = kernels.enabled()
    kernels.set_enabled(True)
    yield kernels
    kernels.set_enabled(before)


@pytest.fixture
def jit_on():
    """The compiled kernels switched on for one test (skipped without Numba), then as they were."""
    pytest.importorskip("numba")
    from glassnet.kernels import _numba as _jit
    from glassnet import kernels
    before = kernels.enabled()
    kernels.set_enabled(True)
    yield _jit
    kernels.set_enabled(before)
