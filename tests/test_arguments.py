"""Arguments are checked one way (glassnet._checks): every constructor refuses a bool where a
number is meant, NaN/inf, a float where an integer is meant, a value out of range and an unknown
choice, with one message form naming the class, the argument, what it takes and what came."""
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ConfigError

P = [gn.nn.Parameter(np.ones(3))]

CASES = [
    (lambda: gn.nn.LeakyReLU(float("nan")), "LeakyReLU: alpha must be a finite number, got nan"),
    (lambda: gn.nn.BatchNorm1d(3, eps=True), "BatchNorm1d: eps must be a finite number, got True"),
    (lambda: gn.nn.BatchNorm2d(3, momentum=1.0), "BatchNorm2d: momentum must lie in [0.0, 1.0), got 1.0 (running ="),
    (lambda: gn.nn.Dropout(p=True), "Dropout: p must be a finite number, got True (the probability of dropping"),
    (lambda: gn.nn.Dropout(p=1.5), "Dropout: p must lie in [0.0, 1.0], got 1.5"),
    (lambda: gn.nn.MulticlassHinge(delta=float("inf")), "MulticlassHinge: delta must be a finite number, got inf"),
    (lambda: gn.nn.Conv2d(1, 2, 2.5), "Conv2d: kernel_size must be an int or a pair of ints, got 2.5"),
    (lambda: gn.nn.Conv2d(1, 2, 3, padding=(1, -1)), "Conv2d: padding must be >= 0, got (1, -1)"),
    (lambda: gn.nn.MaxPool2d(True), "MaxPool2d: kernel_size must be an int or a pair of ints, got True"),
    (lambda: gn.optim.SGD(P, lr=True), "SGD: lr must be a finite number, got True"),
    (lambda: gn.optim.SGD(P, lr=0.1, momentum=0.9, nesterov=1), "SGD: nesterov must be True or False, got 1"),
    (lambda: gn.optim.MaxNorm(0), "MaxNorm: c must lie in (0.0, inf), got 0"),
    (lambda: gn.optim.clip_grad_norm(P, max_norm=True), "clip_grad_norm: max_norm must be a finite number, got True"),
    (lambda: gn.callbacks.EarlyStopping(patience=2.0), "EarlyStopping: patience must be an integer >= 0, got 2.0"),
    (lambda: gn.callbacks.EarlyStopping(restore_best="yes"), "EarlyStopping: restore_best must be True or False"),
    (lambda: gn.callbacks.GradientClipping(max_norm=float("inf")), "GradientClipping: max_norm must be a finite number"),
    (lambda: gn.callbacks.ModelCheckpoint("ckpt", keep_best=0),
     "ModelCheckpoint: keep_best must be None or a positive integer, got 0"),
    (lambda: gn.classic.KNN(distance="l3"), "KNN: distance must be one of 'l1', 'l2', got 'l3'"),
    (lambda: gn.classic.KNN(k=True), "KNN: k must be a positive integer, got True"),
    (lambda: gn.data.GaussianNoise(std=float("inf")), "GaussianNoise: std must be a finite number, got inf"),
    (lambda: gn.data.RandomRotation(max_degrees=200), "RandomRotation: max_degrees must lie in [0.0, 180.0], got 200"),
    (lambda: gn.Trainer(gn.nn.Sequential(gn.nn.Linear(2, 2)), gn.nn.MSE(), gn.optim.SGD(P, lr=0.1),
                        detect_anomaly="no"), "Trainer: detect_anomaly must be True or False, got 'no'"),
]


@pytest.mark.parametrize("make,message", CASES, ids=[m.split(":")[0] + "-" + str(i) for i, (_, m) in enumerate(CASES)])
def test_bad_arguments_are_refused_in_one_form(make, message):
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        make()


def test_the_checks_accept_what_they_should():
    from glassnet._checks import check_bool, check_choice, check_int, check_int_pair, check_number
    assert check_number(np.float32(0.5), "x", "T", lo=0, hi=1) == 0.5
    assert check_int(np.int64(3), "n", "T", lo=1) == 3 and isinstance(check_int(np.int64(3), "n", "T"), int)
    assert check_int(None, "n", "T", also=(None,)) is None and check_int("auto", "n", "T", also=("auto",)) == "auto"
    assert check_int_pair(3, "k", "T", lo=1) == (3, 3) and check_int_pair([2, 1], "k", "T", lo=0) == (2, 1)
    assert check_bool(False, "b", "T") is False
    assert check_choice("l2", "d", "T", ("l1", "l2")) == "l2"
    with pytest.raises(ConfigError, match=r"T: n must be 'auto' or a positive integer, got 0"):
        check_int(0, "n", "T", lo=1, also=("auto",))
