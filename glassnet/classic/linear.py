"""Linear classifiers of the notes: score s = x W + b with a multiclass SVM (hinge) or softmax
loss, L2 regularization, trained by mini-batch SGD (or any of the library's optimizers)."""
from __future__ import annotations


import numpy as np

from .. import nn
from .._checks import check_number, positive_int
from ..optim import L2, make_optimizer
from ._validation import check_X, check_Xy, check_fitted

__all__ = ["LinearSVM", "LinearSoftmax"]


class _LinearClassifier:
    _loss = None

    def __init__(self, reg=1e-4, lr=1e-2, epochs=30, batch_size=200, solver="sgd_momentum", bias_trick=False,
                 random_state=None, delta=1.0):
        self.reg, self.lr, self.epochs, self.batch_size = reg, lr, epochs, batch_size
        self.solver, self.bias_trick, self.random_state, self.delta = solver, bias_trick, random_state, delta

    # -- parts ---------------------------------------------------------------------------------------
    def _check_settings(self):
        me = type(self).__name__
        for name in ("reg", "lr"):
            check_number(getattr(self, name), name, me, lo=0.0)
        for name in ("epochs", "batch_size"):
            positive_int(getattr(self, name), me, name)

    def _augment(self, X):
        """The bias trick: a constant 1 appended to every example, so b lives in W's last row."""
        return np.hstack([X, np.ones((len(X), 1), X.dtype)]) if self.bias_trick else X

    def _make_loss(self):
        return nn.MulticlassHinge(self.delta) if self._loss == "svm" else nn.SoftmaxCrossEntropy()

    # -- training ------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Train on X (N, D) and labels y (N,) (any hashable labels); returns self."""
        from ..train import Trainer

        self._check_settings()
        me = type(self).__name__
        X, y = check_Xy(X, y, f"{me}.fit")
        self.classes_, yi = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{me}: needs samples of at least 2 classes in the data, got 1 class "
                             f"({self.classes_[0]!r})")
        self.n_features_in_ = X.shape[1]
        Xa = self._augment(X)
        rng = np.random.default_rng(self.random_state)
        self.model_ = nn.Linear(Xa.shape[1], len(self.classes_), bias=not self.bias_trick, init="small", rng=rng,
                                dtype=np.float64)
        opt = make_optimizer(self.solver, self.model_, self.lr, who=me, field="solver")
        self.loss_fn_ = self._make_loss()
        trainer = Trainer(self.model_, self.loss_fn_, opt, penalty=L2(self.reg) if self.reg else None, verbose=0,
                          metrics=())
        seed = int(rng.integers(2 ** 31))
        self.history_ = trainer.fit((Xa, yi), epochs=self.epochs, batch_size=min(self.batch_size, len(X)), seed=seed)
        self.loss_curve_ = list(self.history_["loss"])
        return self

    def loss_and_grad(self, X, y):
        """The full objective on (X, y) at the current weights and its gradients:
        ``(loss, dW, db)``, loss = data loss + 0.5 * reg * ||W||^2 (db is None with the bias trick)."""
        check_fitted(self, "model_")
        me = type(self).__name__
        X, y = check_Xy(X, y, f"{me}.loss_and_grad")
        yi = np.searchsorted(self.classes_, y)
        m = self.model_
        m.zero_grad()
        loss = self.loss_fn_.forward(m.forward(self._augment(X)), yi)
        m.backward(self.loss_fn_.backward())
        if self.reg:
            loss += L2(self.reg).add_to_grads(m)
        return loss, m.W.grad.copy(), None if m.b is None else m.b.grad.copy()

    # -- prediction ----------------------------------------------------------------------------------
    def decision_function(self, X):
        """Class scores (N, C) = x W + b."""
        check_fitted(self, "model_")
        X = check_X(X, type(self).__name__, self.n_features_in_)
        return nn.eval_scores(self.model_, self._augment(X))

    def predict(self, X):
        """Labels (N,) from ``classes_``."""
        scores = self.decision_function(X)
        return self.classes_[scores.argmax(axis=1)]

    def score(self, X, y):
        """Accuracy."""
        return float((self.predict(X) == np.asarray(y)).mean())

    @property
    def coef_(self):
        """W without the bias row: (D, C)."""
        check_fitted(self, "model_")
        W = self.model_.W.data
        return W[:-1] if self.bias_trick else W

    @property
    def intercept_(self):
        check_fitted(self, "model_")
        return self.model_.W.data[-1] if self.bias_trick else self.model_.b.data

    def templates(self, shape=None):
        """Each class's weights as a template (C, D), or (C, *shape) for image inputs: the
        notes' visualization of what a linear classifier learns."""
        t = self.coef_.T
        return t.reshape((len(t),) + tuple(shape)) if shape is not None else t.copy()

    def __repr__(self):
        return (f"{type(self).__name__}(reg={self.reg}, lr={self.lr}, epochs={self.epochs}, "
                f"batch_size={self.batch_size}, solver={self.solver!r})")


class LinearSVM(_LinearClassifier):
    """Multiclass SVM (Weston-Watkins hinge, margin ``delta``) on scores x W + b.

    ``LinearSVM(reg=1e-4, lr=1e-2, epochs=30, batch_size=200, solver="sgd_momentum", bias_trick=False)``;
    ``fit`` / ``predict`` / ``decision_function`` / ``score`` / ``templates``.
    """

    _loss = "svm"


class LinearSoftmax(_LinearClassifier):
    """Softmax (multinomial logistic regression) classifier with L2 regularization; adds
    ``predict_proba``."""

    _loss = "softmax"

    def __init__(self, reg=1e-4, lr=1e-2, epochs=30, batch_size=200, solver="sgd_momentum", bias_trick=False,
                 random_state=None):
        super().__init__(reg, lr, epochs, batch_size, solver, bias_trick, random_state)

    def predict_proba(self, X):
        """Class probabilities (N, C), rows sum to 1, columns in the order of ``classes_``."""
        from ..functional import softmax
        return softmax(self.decision_function(X), axis=1)
