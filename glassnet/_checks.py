"""Input validation, the one place for it: arguments (``check_number``, ``check_int``,
``positive_int``, ``check_bool``, ``check_choice``: every constructor and setting uses them), what
layers and losses receive (messages name the layer, what was expected and what came), and the
data where it enters glassnet (``check_examples``, ``check_targets``: messages in the user's
coordinates, the row and column of the array they passed)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .backend import as_numpy, get_array_module
from .errors import ConfigError, DataError, NonFiniteError, ShapeError


def describe(x) -> str:
    """Short description of an array for error messages: ``float32 array of shape (4, 3)``."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None:
        return f"{type(x).__name__} {x!r}"[:80]
    return f"{dtype} array of shape {tuple(shape)}"


def check_number(value, name: str, who: str, lo=None, hi=None, lo_open=False, hi_open=False, note="") -> float:
    """A finite real number within [lo, hi] (ends open as asked; bools refused); returns it as a
    float. The message names the setting and the accepted range, e.g. ``SGD: lr must lie in
    [0.0, inf), got -0.1``; ``note`` is added in parentheses (what the setting means)."""
    tail = f" ({note})" if note else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{who}: {name} must be a finite number, got {value!r}{tail}")
    if (lo is not None and (value < lo or (lo_open and value == lo))) or \
       (hi is not None and (value > hi or (hi_open and value == hi))):
        left = f"{'(' if lo_open else '['}{'-inf' if lo is None else lo}"
        right = "inf)" if hi is None else f"{hi}{')' if hi_open else ']'}"
        raise ConfigError(f"{who}: {name} must lie in {left}, {right}, got {value!r}{tail}")
    return float(value)


def check_int(value, name: str, who: str, lo=None, also=()):
    """An integer (bools refused) of at least ``lo``, returned as an int; or one of the other
    accepted values ``also`` (e.g. None, "auto"), returned as it is."""
    if any(value is a or (isinstance(a, str) and value == a) for a in also):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (lo is not None and value < lo):
        want = "an integer" if lo is None else ("a positive integer" if lo == 1 else f"an integer >= {lo}")
        if also:
            want = " or ".join([repr(a) for a in also] + [want])
        raise ConfigError(f"{who}: {name} must be {want}, got {value!r}")
    return int(value)


def check_int_pair(value, name: str, who: str, lo=None) -> tuple:
    """An integer or a pair of integers (a kernel size, a stride), each at least ``lo``: (a, b)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in items):
        raise ConfigError(f"{who}: {name} must be an int or a pair of ints, got {value!r}")
    if lo is not None and min(items) < lo:
        raise ConfigError(f"{who}: {name} must be >= {lo}, got {value!r}")
    return int(items[0]), int(items[1])


def check_bool(value, name: str, who: str) -> bool:
    """True or False itself (not 1, "yes" or an array)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{who}: {name} must be True or False, got {value!r}")
    return value


def check_choice(value, name: str, who: str, choices):
    """One of ``choices`` (compared with ==); returns it."""
    if not any(value == c and type(value) is type(c) for c in choices):
        shown = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{who}: {name} must be one of {shown}, got {value!r}")
    return value


def as_generator(rng) -> np.random.Generator:
    """A NumPy Generator from a Generator (returned as it is), an int seed or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (numbers.Integral, np.random.SeedSequence))):
        raise ConfigError(f"rng must be a numpy Generator, an integer seed or None, got {rng!r}")
    return np.random.default_rng(rng)


def positive_int(value, who: str, name: str) -> int:
    """An integer >= 1 (bools refused); returns it as an int."""
    return check_int(value, name, who, lo=1)


def check_float_array(x, who: str, what: str = "input"):
    """Require a floating-point array (NumPy or CuPy)."""
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"{who}: {what} must be an array, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{who}: {what} must be a floating-point array, got {describe(x)}; "
                        f"convert it with x.astype(np.float32)")


def check_ndim(x, who: str, ndim, what: str = "input", layout: str = ""):
    """Require ``x.ndim`` to be ``ndim`` (an int) or in ``ndim`` (a tuple)."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        hint = f" {layout}" if layout else ""
        raise ShapeError(f"{who}: expected a {want} {what}{hint}, got {describe(x)}")


def check_dtype_match(x, dtype, who: str, what: str = "input"):
    """Refuse a silent dtype change: the input must have the parameters' dtype."""
    if x.dtype != dtype:
        raise TypeError(
            f"{who}: {what} has dtype {x.dtype} but the layer's parameters are {np.dtype(dtype)}; "
            f"glassnet never changes dtypes silently: convert the input (x.astype(np.{np.dtype(dtype)})) "
            f"or the model (model.to(np.{x.dtype}))")


def all_finite(x) -> bool:
    """True when ``x`` (an array, or None) holds no NaN or inf.

    Cheap in the common case: one reduction, no temporary array. A contiguous float32/float64
    array is read by the BLAS dot product ``x . x`` (``vdot``, which, unlike ``@``, sets no
    floating-point warning state to manage; NaN or inf make it non-finite); others by a sum in
    their own dtype. Only when that result is not finite (NaN/inf present, or finite values that
    overflow it) is every element checked.
    """
    if x is None or x.dtype.kind != "f":
        return True
    xp = get_array_module(x)
    if x.dtype in _DOT_DTYPES and x.flags.c_contiguous:
        flat = x.reshape(-1)
        total = xp.vdot(flat, flat)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum is expected here
            total = x.sum()
    return math.isfinite(float(total)) or bool(xp.isfinite(x).all())


_DOT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_finite(x, who: str, what: str = "input"):
    """Raise NonFiniteError if ``x`` holds NaN or inf, saying how many and where the first is."""
    if all_finite(x):
        return
    xp = get_array_module(x)
    finite = xp.isfinite(x)
    n_nan = int(xp.isnan(x).sum())
    n_inf = int(x.size - int(finite.sum()) - n_nan)
    first = tuple(int(i) for i in np.unravel_index(int(xp.argmin(finite.ravel())), x.shape))
    raise NonFiniteError(
        f"{who}: {what} contains {n_nan} NaN and {n_inf} inf value(s) out of {x.size} "
        f"(first at index {first}, {describe(x)}); finite values expected", where=f"{who} {what}")


def check_labels(y, n_classes: int, n_rows: int, who: str):
    """Integer class labels of shape (N,) in [0, n_classes)."""
    if not hasattr(y, "dtype"):
        raise TypeError(f"{who}: labels must be an integer array, got {type(y).__name__}")
    if y.dtype.kind not in "iu":
        raise TypeError(
            f"{who}: integer class labels of shape ({n_rows},) expected, got {describe(y)}; "
            f"convert with y.astype(np.int64) or, for probability targets, pass shape ({n_rows}, {n_classes})")
    if y.shape != (n_rows,):
        raise ShapeError(f"{who}: labels of shape ({n_rows},) expected to match {n_rows} score rows, "
                         f"got {describe(y)}")
    if y.size:
        # one reduction: read as unsigned, a negative label is larger than any class count
        top = y.view(y.dtype.str.replace("i", "u")).max() if y.dtype.kind == "i" else y.max()
        if int(top) >= n_classes:
            lo, hi = int(y.min()), int(y.max())
            bad = lo if lo < 0 else hi
            raise DataError(f"{who}: labels must lie in [0, {n_classes - 1}] for {n_classes} classes, "
                            f"got label {bad} (labels range from {lo} to {hi})")


# -- the data where it enters: the Trainer, evaluate/predict and the command line --------------------------
def _position(index, shape) -> str:
    """``row 10, column 1`` for a 2-D array, ``row 10, position (0, 3, 4)`` beyond, ``row 10`` for 1-D."""
    row = f"row {index[0]}"
    if len(shape) == 1:
        return row
    rest = index[1:]
    return f"{row}, column {rest[0]}" if len(rest) == 1 else f"{row}, position {tuple(rest)}"


def first_nonfinite(a, name: str) -> str | None:
    """None when ``a`` is finite, else a sentence locating its first NaN/inf in the user's
    coordinates: ``X: row 10, column 1 is nan (3 non-finite values in 2 rows: 10, 57)``."""
    if a.dtype.kind != "f" or all_finite(a):
        return None
    xp = get_array_module(a)
    bad = ~xp.isfinite(a)
    flat = int(xp.argmax(bad.reshape(-1)))
    index = tuple(int(i) for i in np.unravel_index(flat, a.shape))
    value = float(a[index])
    rows = np.flatnonzero(as_numpy(bad.reshape(len(a), -1).any(axis=1)))
    shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
    return (f"{name}: {_position(index, a.shape)} is {value} ({int(bad.sum())} non-finite value(s) in "
            f"{len(rows)} row(s): {shown}); finite numbers expected: impute or drop those rows")


def check_examples(X, who: str, name: str = "X", allow_empty: bool = False):
    """The input array of a data set, as the user passed it: numeric, at least 2-D (N, ...),
    rows present (unless ``allow_empty``) and finite. Returns it as an array (NumPy or CuPy)."""
    if not hasattr(X, "__cuda_array_interface__"):
        try:
            X = np.asarray(X)
        except (ValueError, TypeError) as err:
            raise DataError(f"{who}: {name} must be an array of numbers, got {type(X).__name__} ({err})") from None
    if X.dtype.kind not in "fiub":
        raise DataError(f"{who}: {name} must hold real numbers, got {describe(X)}"
                        + ("; convert it with X.astype(np.float32)" if X.dtype.kind in "OSU" else ""))
    if X.ndim < 2:
        raise DataError(f"{who}: {name} must have one row per example, shape (N, features...), got {describe(X)}; "
                        f"for one feature per example use {name}.reshape(-1, 1), for a single example "
                        f"{name}.reshape(1, -1)")
    if len(X) == 0 and not allow_empty:
        raise DataError(f"{who}: {name} has no rows (shape {tuple(X.shape)}); at least one example is needed")
    problem = first_nonfinite(X, name)
    if problem:
        raise DataError(f"{who}: {problem}")
    return X


def check_targets(y, n_rows: int, who: str, kind: str, scores_shape=None, name: str = "y"):
    """The targets of a data set: one per row of X, and what the loss takes (``kind``:
    "labels" integer classes in [0, C), "labels_or_probs" those or (N, C) probabilities,
    "binary"/"real" finite numbers shaped like the scores). ``scores_shape`` is the shape of the
    model's output for one example (C for class scores) when known. Errors name the row."""
    if not hasattr(y, "__cuda_array_interface__"):
        try:
            y = np.asarray(y)
        except (ValueError, TypeError) as err:
            raise DataError(f"{who}: {name} must be an array, got {type(y).__name__} ({err})") from None
    if y.ndim == 0:
        raise DataError(f"{who}: {name} must have one entry per example ({n_rows}), got a single value {y!r}")
    if len(y) != n_rows:
        raise DataError(f"{who}: X has {n_rows} rows but {name} has {len(y)}; every example needs its target")
    if y.dtype.kind not in "fiub":
        raise DataError(f"{who}: {name} must hold numbers, got {describe(y)}"
                        + ("; map class names to integers 0..C-1" if y.dtype.kind in "OSU" else ""))
    n_out = scores_shape[0] if scores_shape is not None and len(scores_shape) == 1 else None
    if kind == "labels" or (kind == "labels_or_probs" and y.ndim == 1):
        if y.ndim != 1:
            raise DataError(f"{who}: {name} must be class labels of shape ({n_rows},), got {describe(y)}")
        if y.dtype.kind == "f":
            example = "" if not len(y) else f" (e.g. {y[0]!r} at row 0)"
            raise DataError(f"{who}: {name} must be integer class labels, got {describe(y)}{example}; "
                            f"convert with {name}.astype(np.int64)")
        if y.dtype.kind == "b":
            raise DataError(f"{who}: {name} must be integer class labels, got {describe(y)}; "
                            f"convert with {name}.astype(np.int64)")
        if len(y):
            yh = as_numpy(y)
            lo = int(yh.min())
            if lo < 0:
                row = int(np.argmax(yh < 0))
                raise DataError(f"{who}: {name}: row {row} has label {int(yh[row])}; class labels must be "
                                f"0..C-1 (non-negative)")
            if n_out is not None and int(yh.max()) >= n_out:
                row = int(np.argmax(yh >= n_out))
                raise DataError(f"{who}: {name}: row {row} has label {int(yh[row])}, but the model outputs "
                                f"{n_out} class scores (labels 0..{n_out - 1}); fix the labels or the size of "
                                f"the last layer")
        return y
    if kind == "labels_or_probs":  # probability targets
        if y.ndim != 2 or (n_out is not None and y.shape[1] != n_out):
            raise DataError(f"{who}: {name} must be labels of shape ({n_rows},) or probabilities of shape "
                            f"({n_rows}, {n_out if n_out is not None else 'C'}), got {describe(y)}")
    elif scores_shape is not None and tuple(y.shape[1:]) != tuple(scores_shape):
        hint = f"; reshape it with {name}.reshape(-1, 1)" if y.ndim == 1 and tuple(scores_shape) == (1,) else ""
        raise DataError(f"{who}: {name} must have shape ({n_rows}, {', '.join(map(str, scores_shape))}) like the "
                        f"model's output, got {describe(y)}{hint}")
    problem = first_nonfinite(y, name)
    if problem:
        raise DataError(f"{who}: {problem}")
    if kind == "labels_or_probs" and len(y) and bool((y < 0).any()):
        raise DataError(f"{who}: {name}: probability targets must be non-negative")
    return y
