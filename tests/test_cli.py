"""The command line, run as a real subprocess."""
import subprocess
import sys


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "glassnet", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_gradcheck_prints_every_layer_and_loss():
    r = run("gradcheck")
    assert r.returncode == 0, r.stdout + r.stderr
    import glassnet as gn
    for name in gn.nn.layers.__all__ + ["SoftmaxCrossEntropy", "MulticlassHinge", "BinaryCrossEntropy",
                                        "MSE", "KLDivergence", "Sequential", "Residual", "Parallel"]:
        assert name in r.stdout, name
    assert "22 passed, 0 failed" in r.stdout
    assert "FAIL" not in r.stdout


def test_no_command_prints_help():
    r = run()
    assert r.returncode == 2 and "gradcheck" in r.stdout
