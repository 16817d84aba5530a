"""Objectives for the search tests; a module (not a test file) so spawned workers can import it."""
import math
import os
import time


def bowl(params, seed, epochs, trial_dir):
    """Best at lr = 10**center (default -3.5): a parabola in log10(lr)."""
    center = float(os.environ.get("GLASSNET_TEST_CENTER", "-3.5"))
    return {"score": -(math.log10(params["lr"]) - center) ** 2, "metrics": {"seed": seed}}


def slow(params, seed, epochs, trial_dir):
    """Writes its pid (so a test can check that workers die with the driver), sleeps, scores."""
    with open(os.path.join(trial_dir, "pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(float(os.environ.get("GLASSNET_TEST_SLEEP", "0.6")))
    return {"score": params["x"], "metrics": {"seed": seed}}


def flaky(params, seed, epochs, trial_dir):
    if params["x"] < 0.2:
        raise RuntimeError("boom")
    if params["x"] > 0.8:
        return {"score": float("nan")}
    return {"score": params["x"]}


def numba_threads_after_a_conv():
    """Runs a Winograd convolution in a worker; returns Numba's thread count there."""
    import numba
    import numpy as np

    from glassnet.functional import conv
    x, w = np.ones((2, 16, 12, 12)), np.ones((16, 16, 3, 3))
    out, cache = conv.conv2d_forward(x, w, None, 1, 1)
    conv.conv2d_backward(out, cache)
    return numba.get_num_threads()
