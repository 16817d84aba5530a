"""Model ensembles: average of probabilities, one vote per model, or confidence-weighted votes.

    ens = Ensemble([model_a, model_b, "runs/x/best.npz"], method="mean")
    ens.predict(X), ens.predict_proba(X), ens.evaluate(X, y)

Build one from several seeds (``Ensemble.from_seeds``), from the top checkpoints of one run
(snapshots: pass their paths), or later from the best tuning trials.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError
from ..functional.activations import softmax
from ..nn.module import Module, eval_scores

__all__ = ["Ensemble"]

_METHODS = ("mean", "vote", "weighted")


class Ensemble:
    """Combine classifiers' predictions (models or paths of saved models/checkpoints).

    - ``mean``: average of the softmax probabilities; predict = argmax.
    - ``vote``: one vote per model for its argmax; ties go to the class with the higher mean probability.
    - ``weighted``: each model votes with its confidence (its top probability) for its argmax.
    """

    def __init__(self, members, method="mean", batch_size=1024):
        from ..serialization import load

        if method not in _METHODS:
            raise ConfigError(f"Ensemble: method must be one of {list(_METHODS)}, got {method!r}")
        self.models = []
        for i, m in enumerate(members):
            if isinstance(m, (str, os.PathLike)):
                m = load(m)
            if not isinstance(m, Module):
                raise TypeError(f"Ensemble: member {i} must be a Module or a path, got {type(m).__name__}")
            self.models.append(m)
        if not self.models:
            raise ConfigError("Ensemble: needs at least one model")
        self.method, self.batch_size = method, batch_size

    @classmethod
    def from_seeds(cls, build_fn, train, seeds, fit_kwargs=None, method="mean"):
        """Train ``build_fn(seed) -> Trainer`` once per seed and ensemble the models."""
        models = []
        for s in seeds:
            trainer = build_fn(s)
            trainer.fit(train, seed=s, **(fit_kwargs or {}))
            models.append(trainer.model)
        return cls(models, method=method)

    def member_probabilities(self, X):
        """(n_models, N, C) softmax probabilities, each model in eval mode."""
        out = [softmax(eval_scores(m, X, self.batch_size).astype(np.float64), axis=1) for m in self.models]
        shapes = {p.shape for p in out}
        if len(shapes) != 1:
            raise ConfigError(f"Ensemble: members disagree on the output shape: {sorted(shapes)}")
        return np.stack(out)

    def predict_proba(self, X):
        """(N, C): mean probabilities, or normalized (weighted) vote shares."""
        probs = self.member_probabilities(X)
        if self.method == "mean":
            return probs.mean(axis=0)
        picks = probs.argmax(axis=2)  # (M, N)
        weights = probs.max(axis=2) if self.method == "weighted" else np.ones_like(picks, dtype=np.float64)
        votes = np.zeros(probs.shape[1:])
        for m in range(probs.shape[0]):
            np.add.at(votes, (np.arange(probs.shape[1]), picks[m]), weights[m])
        votes += 1e-9 * probs.mean(axis=0)  # ties: the higher mean probability wins
        return votes / votes.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)

    def evaluate(self, X, y) -> dict:
        """Ensemble accuracy and each member's accuracy."""
        probs = self.member_probabilities(X)
        y = np.asarray(y)
        members = [float((p.argmax(axis=1) == y).mean()) for p in probs]
        return {"accuracy": float((self.predict(X) == y).mean()), "member_accuracy": members,
                "mean_member_accuracy": float(np.mean(members))}
