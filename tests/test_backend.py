"""The array backend. CuPy tests run only where CuPy and a GPU are present."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import backend

def test_numpy_by_default():
    assert backend.get_array_module(np.ones(3), None, 2.0) is np
    assert backend.device_of(np.ones(2)) == "cpu"
    x = np.arange(3.0)
    np.testing.assert_array_equal(backend.as_numpy(x), x)
    np.testing.assert_array_equal(backend.as_numpy([1, 2]), [1, 2])

def test_to_device_cpu_and_clear_error_without_gpu():
    x = np.ones(3)
    np.testing.assert_array_equal(backend.to_device(x, "cpu"), x)
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        backend.to_device(x, "tpu")
    if not backend.gpu_available():
        with pytest.raises(RuntimeError, match="CuPy with a working GPU is not available"):
            backend.to_device(x, "cuda")
        with pytest.raises(RuntimeError, match="pip install 'glassnet\\[gpu\\]'"):
            gn.nn.Linear(2, 2).to("cuda")

def test_module_to_cpu_returns_module():
    m = gn.nn.Linear(2, 2)
    assert m.to("cpu") is m

class FakeDeviceArray(np.ndarray):
    """Stands in for a GPU array type to test the mixing check's logic without a GPU."""

def test_mixed_devices_raise_one_clear_error(monkeypatch):
    monkeypatch.setattr(backend, "_GPU_ARRAY_TYPES", (FakeDeviceArray,))
    monkeypatch.setattr(backend, "cupy", "cupy-stand-in")
    gpu = np.ones(3).view(FakeDeviceArray)
    assert backend.get_array_module(gpu, gpu) == "cupy-stand-in"
    with pytest.raises(backend.DeviceMismatchError, match=r"argument\(s\) \[0\] are NumPy arrays \(cpu\) and argument\(s\) \[1\] are CuPy"):
        backend.get_array_module(np.ones(3), gpu)

cupy = pytest.importorskip("cupy") if backend.gpu_available() else None

@pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and a GPU")
def test_gpu_forward_backward_matches_cpu():
    rng = np.random.default_rng(0)
    net = gn.nn.Sequential(gn.nn.Linear(5, 8, rng=0), gn.nn.BatchNorm1d(8), gn.nn.ReLU(), gn.nn.Linear(8, 3, rng=1))
    x = rng.standard_normal((6, 5)).astype(np.float32)
    ref = net.forward(x)
    dref = net.backward(np.ones_like(ref))
    net.zero_grad()
    net.to("cuda")
    out = net.forward(backend.to_device(x, "cuda"))
    d = net.backward(backend.to_device(np.ones_like(ref), "cuda"))
    np.testing.assert_allclose(backend.as_numpy(out), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(backend.as_numpy(d), dref, rtol=1e-4, atol=1e-5)


def test_layer_names_the_devices_when_input_and_parameters_differ(monkeypatch):
    monkeypatch.setattr(backend, "_GPU_ARRAY_TYPES", (FakeDeviceArray,))
    monkeypatch.setattr(backend, "cupy", np)
    lin = gn.nn.Linear(3, 2, rng=0)
    lin.W.data = lin.W.data.view(FakeDeviceArray)  # parameters "on the GPU"
    with pytest.raises(backend.DeviceMismatchError,
                       match=r"Linear\(3 -> 2\): the input is on cpu but the layer's parameters are on cuda"):
        lin.forward(np.ones((2, 3), np.float32))
