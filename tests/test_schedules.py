"""Learning-rate schedules: values at chosen steps, composition, and the plateau multiplier."""
import math

import pytest

import glassnet as gn
from glassnet.optim import Plateau, Scheduler
from glassnet.optim.schedules import (Constant, Cosine, ExponentialDecay, InverseSqrt, InverseTime, LinearWarmup,
                                      StepDecay, build_schedule)


def test_constant():
    assert [Constant()(t) for t in (0, 10, 1000)] == [1.0, 1.0, 1.0]


def test_step_decay_every_n():
    s = StepDecay(every=10, factor=0.5)
    assert [s(t) for t in (0, 9, 10, 19, 20, 35)] == [1, 1, 0.5, 0.5, 0.25, 0.125]


def test_step_decay_starting_after_m_notes_example():
    s = StepDecay(every=20000, factor=0.95, start=10000)
    assert s(9999) == 1.0
    assert s(10000) == pytest.approx(0.95)
    assert s(29999) == pytest.approx(0.95)
    assert s(30000) == pytest.approx(0.95 ** 2)


def test_exponential_forms():
    assert ExponentialDecay(k=0.1)(5) == pytest.approx(math.exp(-0.5))
    assert ExponentialDecay(gamma=0.95)(3) == pytest.approx(0.95 ** 3)
    with pytest.raises(ValueError, match="exactly one of k"):
        ExponentialDecay()


def test_inverse_time_and_inverse_sqrt():
    assert InverseTime(k=0.5)(4) == pytest.approx(1 / 3)
    assert InverseSqrt(k=2.0)(4) == pytest.approx(1.0)
    assert InverseSqrt(k=2.0)(0) == pytest.approx(2.0)  # t counts from 1 in the notes


def test_cosine():
    c = Cosine(period=10, min_factor=0.1)
    assert c(0) == pytest.approx(1.0)
    assert c(5) == pytest.approx(0.55)
    assert c(10) == pytest.approx(0.1)
    assert c(50) == pytest.approx(0.1)


def test_linear_warmup_wraps_any_schedule():
    w = LinearWarmup(StepDecay(every=10, factor=0.5), warmup=4)
    assert [w(t) for t in (0, 1, 2, 3)] == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert w(4) == 1.0 and w(13) == 1.0 and w(14) == 0.5  # decay counts from the end of warmup


def test_plateau_multiplier():
    p = Plateau(factor=0.5, patience=2, min_delta=0.0)
    values = [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8]
    scales = [p.update(v) for v in values]
    assert scales == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]


def test_warmup_step_and_plateau_compose_on_an_optimizer():
    opt = gn.optim.SGD([{"params": gn.nn.Linear(2, 2).parameters(), "lr": 0.1},
                        {"params": gn.nn.Linear(2, 2).parameters(), "lr": 0.01}])
    sched = Scheduler(opt, LinearWarmup(StepDecay(every=5, factor=0.1), warmup=2),
                      plateau=Plateau(factor=0.5, patience=0), unit="epoch")
    assert opt.param_groups[0]["lr"] == 0.0  # start of warmup
    assert sched.step(1) == pytest.approx(0.05)
    assert sched.step(2) == pytest.approx(0.1)
    sched.observe(1.0)
    sched.observe(1.0)  # no improvement -> plateau halves on top of the schedule
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    assert opt.param_groups[1]["lr"] == pytest.approx(0.005)  # groups keep their ratio
    assert sched.step(7) == pytest.approx(0.1 * 0.1 * 0.5)
    state = sched.state_dict()
    opt2 = gn.optim.SGD([{"params": gn.nn.Linear(2, 2).parameters(), "lr": 0.1},
                         {"params": gn.nn.Linear(2, 2).parameters(), "lr": 0.01}])
    sched2 = Scheduler(opt2, LinearWarmup(StepDecay(every=5, factor=0.1), warmup=2), plateau=Plateau(factor=0.5, patience=0))
    sched2.load_state_dict(state)
    assert opt2.lr == pytest.approx(opt.lr)


def test_build_schedule_from_config():
    s = build_schedule({"type": "LinearWarmup", "warmup": 2, "schedule": {"type": "InverseTime", "k": 1.0}})
    assert s(3) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"schedule.type: unknown schedule 'Linear'"):
        build_schedule({"type": "Linear"})


@pytest.mark.parametrize("ctor,pattern", [
    (lambda: StepDecay(every=0), "every must be a positive integer"),
    (lambda: StepDecay(every=5, factor=1.5), r"factor must lie in \(0.0, 1.0\]"),
    (lambda: Plateau(factor=1.0), r"factor must lie in \(0.0, 1.0\)"),
    (lambda: Plateau(mode="up"), "mode must be 'min' or 'max'"),
    (lambda: Scheduler(gn.optim.SGD(gn.nn.Linear(2, 2)), unit="batch"), "unit must be 'epoch' or 'step'"),
])
def test_bad_schedule_settings(ctor, pattern):
    with pytest.raises(ValueError, match=pattern):
        ctor()
