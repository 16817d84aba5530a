"""L-BFGS for full-batch problems (the notes' second-order family), on scipy.optimize.

Needs the optional extra ``glassnet[scipy]``.

    opt = LBFGS(model, max_iter=200)
    def closure():
        opt.zero_grad()
        loss = criterion(model.forward(X), y)
        model.backward(criterion.backward())
        return loss
    opt.step(closure)
"""
from __future__ import annotations


import numpy as np

from .._checks import check_number
from ..backend import as_numpy, get_array_module
from ..errors import ConfigError
from .optimizers import Optimizer


class LBFGS(Optimizer):
    """Limited-memory BFGS over all non-frozen parameters; one ``step(closure)`` runs up to
    ``max_iter`` iterations of ``scipy.optimize.minimize(method="L-BFGS-B")``.

    ``history_size`` is the number of correction pairs kept (scipy's ``maxcor``); ``tol`` is
    the projected-gradient tolerance (``gtol``). ``result`` holds scipy's last OptimizeResult.
    """

    defaults = {"lr": 1.0, "max_iter": 100, "history_size": 10, "tol": 1e-7}

    def __init__(self, params, max_iter=100, history_size=10, tol=1e-7, **kw):
        super().__init__(params, max_iter=max_iter, history_size=history_size, tol=tol, **kw)
        self.result = None

    def _check(self, group):
        super()._check(group)
        for key in ("max_iter", "history_size"):
            if not isinstance(group[key], int) or group[key] < 1:
                raise ConfigError(f"LBFGS: {key} must be a positive integer, got {group[key]!r}")
        check_number(group["tol"], "tol", "LBFGS", lo=0.0, lo_open=True)

    def update(self, p, g, state, group):
        raise RuntimeError("LBFGS.step needs a closure: opt.step(closure)")

    def step(self, closure=None):
        """Minimize the closure's loss; returns the final loss."""
        if closure is None:
            raise TypeError("LBFGS.step(closure): the closure must zero the gradients, compute the "
                            "loss, run backward and return the loss")
        try:
            from scipy.optimize import minimize
        except ImportError:
            raise ImportError("LBFGS needs SciPy: pip install 'glassnet[scipy]'") from None
        params = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        sizes = [p.data.size for _, p in params]

        def unpack(vec):
            i = 0
            for (_, p), n in zip(params, sizes):
                xp = get_array_module(p.data)
                p.data[...] = xp.asarray(vec[i:i + n].reshape(p.data.shape))
                i += n

        def fun(vec):
            unpack(vec)
            loss = float(closure())
            grad = np.concatenate([as_numpy(p.grad).ravel() for _, p in params]).astype(np.float64)
            return loss, grad

        x0 = np.concatenate([as_numpy(p.data).ravel() for _, p in params]).astype(np.float64)
        group = self.param_groups[0]
        self.result = minimize(fun, x0, jac=True, method="L-BFGS-B",
                               options={"maxiter": group["max_iter"], "maxcor": group["history_size"],
                                        "gtol": group["tol"]})
        unpack(self.result.x)
        self.step_count += 1
        for c in self.constraints:
            c.apply(self)
        return float(self.result.fun)
