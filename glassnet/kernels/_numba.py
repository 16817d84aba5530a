"""Optional compiled CPU kernels (Numba) for work NumPy runs as several array passes.

Adam's NumPy update reads and writes the parameter-sized arrays about twelve times per step;
the kernel here does it in one pass (3-4x faster on a 535k-parameter MLP) and does not store the
step (recomputed from the moments only when its norm is asked for). ReLU's backward is
one pass instead of a comparison, a boolean array and a mixed-type product. The element-wise
part of an LSTM time step (forward: gate values and cell state after the tanh; backward:
everything between two recurrent products, the gate derivatives included) is one call instead
of five, and the backward's gate derivatives are computed inside that call from the gate values
it reads anyway, instead of in eleven passes over all steps beforehand (which wrote and re-read
two arrays the size of all gates). Max and average pooling other than 2x2/2 run window by
window instead of one NumPy pass over strided views per kernel offset. Training-mode batch
norm reads its input twice after NumPy's channel sums and writes its output once (instead of
about ten passes, and keeps the input rather than a normalized copy for backward); its
backward likewise. Softmax cross-entropy with integer labels (loss and gradient) is one pass
over each row instead of about fifteen NumPy calls on a small array. The doctor's monitor
histograms its samples in one pass (bin for bin ``np.histogram`` in float64) and takes their
mean and variance in two vectorized passes (no float64 temporary).

Each kernel but the batch-norm, softmax and moment ones computes exactly the operations of
the NumPy code it replaces, in the same order and precision (no fast-math, no fused
multiply-add), so the results are bit-identical (one exception: max pooling's backward leaves
+0.0 where the NumPy path writes a non-hit -0.0, equal values); the tests compare both. The
softmax cross-entropy kernel calls the C library's exp and log, which differ from NumPy's
vectorized ones in the last bit, and the batch-norm and moment kernels sum in another order:
they agree with the NumPy path to float rounding (tested).

Used when Numba is installed (``pip install glassnet[jit]``), the arrays are contiguous NumPy
float32/float64, and it is not switched off (``GLASSNET_JIT=0`` in the environment, or
``glassnet.backend.set_jit(False)``). Kernels compile on first use (about half a second) and
are cached on disk by Numba.
"""
from __future__ import annotations

import math
import threading

import numpy as np

_numba_found = None  # unknown until first asked
_kernels: dict = {}  # (kernel name, reassociate) -> compiled kernel


def available() -> bool:
    """True when Numba can be imported."""
    global _numba_found
    if _numba_found is None:
        try:
            import numba  # noqa: F401
            _numba_found = True
        except Exception:  # ImportError, or a Numba/NumPy version mismatch
            _numba_found = False
    return _numba_found


def enabled() -> bool:
    """Numba is there and kernels are not switched off (``glassnet.kernels.set_enabled``)."""
    from . import enabled as kernels_on
    return kernels_on() and available()


def usable(*arrays) -> bool:
    """The kernels apply: enabled, and every array a C-contiguous NumPy float32/float64 array of
    one dtype."""
    if not enabled():
        return False
    dtype = arrays[0].dtype
    if dtype not in _FLOATS:
        return False
    for a in arrays:  # a plain loop: this runs several times per training step
        if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def compiled(fn, reassociate=False, parallel=False):
    """``fn`` compiled by Numba on first use (cached here and on disk), with the options every
    kernel needs: ``error_model="numpy"`` (no per-element division check, which would stop the
    loops from vectorizing), no bounds checks, no fast-math (so results stay bit-identical).
    ``reassociate``: let the compiler reorder the additions of a sum (fast-math's "reassoc"
    only), so that a reduction runs on vector registers; for kernels that are not bit-identical
    anyway. ``parallel``: the kernel's ``prange`` loops (its module binds ``prange = range``)
    run on Numba's threads; call such a kernel through ``launch``. A kernel is always compiled
    with the same flags (Numba's disk cache does not tell them apart)."""
    key = (fn.__name__, reassociate, parallel)
    kernel = _kernels.get(key)
    if kernel is None:
        import numba
        math_flags = {"fastmath": {"reassoc"}} if reassociate else {}
        if parallel:
            fn.__globals__["prange"] = numba.prange
        kernel = _kernels[key] = numba.njit(cache=True, error_model="numpy", boundscheck=False,
                                            parallel=parallel, **math_flags)(fn)
    return kernel


_launch_lock = threading.Lock()
_threadsafe_layer = False  # known once a parallel kernel has run


def launch(kernel, *args):
    """Run a kernel compiled with ``parallel=True``. Numba's "workqueue" threading layer (used
    when neither TBB nor OpenMP is found) aborts the process when two threads launch parallel
    kernels at once, so until a launch shows a thread-safe layer ("tbb" or "omp"), launches
    take turns."""
    global _threadsafe_layer
    if _threadsafe_layer:
        return kernel(*args)
    with _launch_lock:
        result = kernel(*args)
        import numba
        _threadsafe_layer = numba.threading_layer() in ("tbb", "omp")
    return result


# -- the kernels, as plain Python; each runs only through _compiled -------------------------------
def adam_kernel(p, g, m, v, coef):  # pragma: no cover - compiled
    b1, c1, b2, c2, eps, scale = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    for k in range(p.shape[0]):
        gk = g[k]
        mk = b1 * m[k] + gk * c1
        vk = b2 * v[k] + gk * gk * c2
        m[k] = mk
        v[k] = vk
        p[k] += mk / (math.sqrt(vk) + eps) * scale


def _relu_backward(d, x, out, one, zero):  # pragma: no cover - compiled
    for k in range(d.shape[0]):
        out[k] = d[k] * (one if x[k] > 0 else zero)


# The LSTM kernels loop over rows and take row views: contiguous 1-D inner loops the compiler vectorizes.
def _lstm_gates(g, half, shift, c_prev, c):  # pragma: no cover - compiled
    N, G = g.shape
    H = G // 4
    for n in range(N):
        g_n, c_n, cp_n = g[n], c[n], c_prev[n]
        for j in range(G):
            g_n[j] = g_n[j] * half[j] + shift[j]
        i_n, f_n, gg_n = g_n[:H], g_n[H:2 * H], g_n[2 * H:3 * H]
        for k in range(H):
            c_n[k] = f_n[k] * cp_n[k] + i_n[k] * gg_n[k]


def _lstm_step(dh, dhs, dc, gates, c_prev, tc, da, one):  # pragma: no cover - compiled
    N, H = dh.shape
    for n in range(N):
        dh_n, dhs_n, dc_n, cp_n, tc_n = dh[n], dhs[n], dc[n], c_prev[n], tc[n]
        i_n, f_n, g_n, o_n = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:3 * H], gates[n, 3 * H:]
        di, df, dg, do = da[n, :H], da[n, H:2 * H], da[n, 2 * H:3 * H], da[n, 3 * H:]
        for k in range(H):
            iv, fv, gv, ov, tv = i_n[k], f_n[k], g_n[k], o_n[k], tc_n[k]
            dhk = dh_n[k] + dhs_n[k]
            dck = dc_n[k] + dhk * ((one - tv * tv) * ov)
            di[k] = ((iv - iv * iv) * gv) * dck
            df[k] = ((fv - fv * fv) * cp_n[k]) * dck
            dg[k] = ((one - gv * gv) * iv) * dck
            do[k] = ((ov - ov * ov) * tv) * dhk
            dc_n[k] = dck * fv


# Pooling over planes x (P, H, W) = (N*C, H, W); windows kh x kw every sh, sw; offsets k = di*kw + dj.
def _max_pool(x, kh, kw, sh, sw, out, arg):  # pragma: no cover - compiled
    P, Ho, Wo = out.shape
    for p in range(P):
        x_p = x[p]
        for i in range(Ho):
            for j in range(Wo):
                r0, c0 = i * sh, j * sw
                best = x_p[r0, c0]
                at = 0
                k = 0
                nan = best != best
                for di in range(kh):
                    for dj in range(kw):
                        v = x_p[r0 + di, c0 + dj]
                        if v > best:  # strict: ties keep the first maximum
                            best = v
                            at = k
                        nan |= v != v
                        k += 1
                if nan:  # rare: again with np.maximum's rule (NaN wins; no later position wins over it)
                    best = x_p[r0, c0]
                    at = 0
                    k = 0
                    for di in range(kh):
                        for dj in range(kw):
                            v = x_p[r0 + di, c0 + dj]
                            if v > best:
                                best = v
                                at = k
                            elif v != v:
                                best = v
                            k += 1
                out[p, i, j] = best
                arg[p, i, j] = at


# Max pooling's backward visits the windows last to first: every input position then receives
# its windows' gradients in increasing kernel offset, the order in which the NumPy path adds
# them, so overlapping windows give the same sums to the last bit.
def _max_pool_back(dout, arg, kh, kw, sh, sw, dx, zero):  # pragma: no cover - compiled
    P, Ho, Wo = dout.shape
    H, W = dx.shape[1], dx.shape[2]
    flat = np.empty(kh * kw, np.int64)  # kernel offset -> distance in the flattened plane
    for k in range(kh * kw):  # (no division per window: it took a third of the time)
        flat[k] = (k // kw) * W + k % kw
    for p in range(P):
        d_p, a_p, dx_p = dout[p], arg[p], dx[p].reshape(H * W)
        for i in range(Ho - 1, -1, -1):
            d_i, a_i, row0 = d_p[i], a_p[i], i * sh * W
            for j in range(Wo - 1, -1, -1):
                g = d_i[j]
                dx_p[row0 + j * sw + flat[a_i[j]]] += g
                if not math.isfinite(g):  # the NumPy path adds g * 0 (NaN) at the other positions too
                    for k in range(kh * kw):
                        if k != a_i[j]:
                            dx_p[row0 + j * sw + flat[k]] += g * zero


def _avg_pool(x, kh, kw, sh, sw, out, scale):  # pragma: no cover - compiled
    P, Ho, Wo = out.shape
    for p in range(P):
        x_p = x[p]
        for i in range(Ho):
            for j in range(Wo):
                r0, c0 = i * sh, j * sw
                acc = x_p[r0, c0]
                for di in range(kh):  # in offset order, as the NumPy path sums
                    for dj in range(kw):
                        if di or dj:
                            acc += x_p[r0 + di, c0 + dj]
                out[p, i, j] = acc * scale


def _avg_pool_back(dout, kh, kw, sh, sw, dx, scale):  # pragma: no cover - compiled
    P, Ho, Wo = dout.shape
    for p in range(P):
        d_p, dx_p = dout[p], dx[p]
        for di in range(kh):  # offset by offset, as the NumPy path adds
            for dj in range(kw):
                for i in range(Ho):
                    for j in range(Wo):
                        dx_p[i * sh + di, j * sw + dj] += d_p[i, j] * scale


# Batch norm over x (N, C, L): per-channel sums of rows, each row summed in the array's precision
# (vectorized: the additions reordered, as NumPy's pairwise sum also does), rows added in float64.
def _bn_centered_squares(x, mean, out):  # pragma: no cover - compiled (reassociate)
    N, C, L = x.shape
    for c in range(C):
        mu = mean[c]
        total = 0.0
        for n in range(N):
            row = x[n, c]
            s = row[0] - row[0]
            for k in range(L):
                d = row[k] - mu
                s += d * d
            total += s
        out[c] = total


def _bn_centered_dot(g, x, mean, out):  # pragma: no cover - compiled (reassociate)
    N, C, L = x.shape
    for c in range(C):
        mu = mean[c]
        total = 0.0
        for n in range(N):
            g_row, x_row = g[n, c], x[n, c]
            s = x_row[0] - x_row[0]
            for k in range(L):
                s += g_row[k] * (x_row[k] - mu)
            total += s
        out[c] = total


def _bn_normalize(x, mean, scale, beta, out):  # pragma: no cover - compiled
    N, C, L = x.shape
    for n in range(N):
        for c in range(C):
            mu, a, b = mean[c], scale[c], beta[c]
            x_row, o_row = x[n, c], out[n, c]
            for k in range(L):
                o_row[k] = (x_row[k] - mu) * a + b


def _bn_input_grad(g, x, mean, k_, a_, b_, dx):  # pragma: no cover - compiled
    N, C, L = x.shape
    for n in range(N):
        for c in range(C):
            mu, k, a, b = mean[c], k_[c], a_[c], b_[c]
            g_row, x_row, d_row = g[n, c], x[n, c], dx[n, c]
            for j in range(L):
                d_row[j] = k * g_row[j] - a * (x_row[j] - mu) - b


# The same for (N, C) inputs: channels along the contiguous axis, so the loops run over them.
def _bn2_centered_squares(x, mean, out):  # pragma: no cover - compiled
    N, C = x.shape
    for c in range(C):
        out[c] = 0.0
    for n in range(N):
        row = x[n]
        for c in range(C):
            d = row[c] - mean[c]
            out[c] += d * d


def _bn2_centered_dot(g, x, mean, out):  # pragma: no cover - compiled
    N, C = x.shape
    for c in range(C):
        out[c] = 0.0
    for n in range(N):
        g_row, x_row = g[n], x[n]
        for c in range(C):
            out[c] += g_row[c] * (x_row[c] - mean[c])


def _bn2_normalize(x, mean, scale, beta, out):  # pragma: no cover - compiled
    N, C = x.shape
    for n in range(N):
        x_row, o_row = x[n], out[n]
        for c in range(C):
            o_row[c] = (x_row[c] - mean[c]) * scale[c] + beta[c]


def _bn2_input_grad(g, x, mean, k, a, b, dx):  # pragma: no cover - compiled
    N, C = x.shape
    for n in range(N):
        g_row, x_row, d_row = g[n], x[n], dx[n]
        for c in range(C):
            d_row[c] = k[c] * g_row[c] - a[c] * (x_row[c] - mean[c]) - b[c]


def _softmax_xent(s, y, d, scale):  # pragma: no cover - compiled
    N, C = s.shape
    total = 0.0  # float64 accumulator
    for n in range(N):
        row, d_n = s[n], d[n]
        top = row[0]
        for j in range(1, C):
            top = max(top, row[j])
        z = row[0] - row[0]  # zero in the scores' precision
        bad = z  # stays 0 unless a score is NaN or +-inf (x - x is NaN for those)
        for j in range(C):
            e = math.exp(row[j] - top)
            d_n[j] = e
            z += e
            bad += row[j] - row[j]
        if bad != 0:
            return -2.0  # a non-finite score: the caller takes the NumPy path (the module raises)
        for j in range(C):
            d_n[j] = d_n[j] / z
        k = y[n]
        if k < 0 or k >= C:
            return -1.0  # a label out of range: the caller takes the NumPy path (the module raises)
        total += math.log(z) - (row[k] - top)
        d_n[k] -= 1
        for j in range(C):
            d_n[j] *= scale
    return total


# A histogram with np.histogram's equal-width arithmetic, in one pass instead of about a dozen.
def _histogram(v, first, denom, numer, edges, counts):  # pragma: no cover - compiled
    n_bins = counts.shape[0]
    for k in range(v.shape[0]):
        x = np.float64(v[k])  # in float64 (as NumPy on a float64 copy), whatever the values' dtype
        i = int(((x - first) / denom) * numer)
        if i == n_bins:  # the right edge belongs to the last bin
            i -= 1
        if x < edges[i]:  # within a rounding of an edge: NumPy's two corrections
            i -= 1
        elif x >= edges[i + 1] and i != n_bins - 1:
            i += 1
        counts[i] += 1


def _moments(v):  # pragma: no cover - compiled (with reassociation: the sums vectorize)
    s = 0.0
    for k in range(v.shape[0]):
        s += np.float64(v[k])
    mean = s / v.shape[0]
    q = 0.0
    for k in range(v.shape[0]):  # a second pass over centred values, as np.var
        d = np.float64(v[k]) - mean
        q += d * d
    return mean, q / v.shape[0]


# -- what the library calls -----------------------------------------------------------------------
def relu_backward(dout, x):
    """``dout * (x > 0)`` in one pass (the product kept, so NaN/inf in ``dout`` spread as in NumPy)."""
    out = np.empty_like(dout)
    f = dout.dtype.type
    compiled(_relu_backward)(dout.reshape(-1), x.reshape(-1), out.reshape(-1), f(1), f(0))
    return out


def softmax_cross_entropy(scores, labels):
    """Mean cross-entropy of softmax(scores (N, C)) with integer labels (N,) in range, and its
    gradient ``(softmax(scores) - onehot(labels)) / N``, in one pass over each row. Returns
    (loss as a float, gradient), or None when a label is out of range or a score is NaN or
    +-inf (the caller then takes the NumPy path, whose result or error is the reference; a
    validating caller may skip its own scans of both). Unlike the other kernels
    this one is not bit-identical to NumPy: it calls the C library's exp and log, which differ
    from NumPy's vectorized ones in the last bit, and it sums the per-row losses in float64 (the
    tests compare to the NumPy path within a few units in the last place)."""
    d = np.empty_like(scores)
    n = scores.shape[0]
    labels = labels.astype(np.int64, copy=False)  # one compiled version per float dtype, not per label dtype
    total = compiled(_softmax_xent)(scores, labels, d, scores.dtype.type(1.0 / n))
    if total < 0:
        return None  # a label out of range or a non-finite score (the loss itself is never negative)
    return total / n, d


def histogram(values, bins):
    """``np.histogram(values.astype(np.float64), bins)`` (counts as int64, float64 edges) of a
    contiguous 1-D array of finite float32/float64 values without the float64 copy, bin for bin
    the same: NumPy's outer edges, its equal-width index arithmetic and its two corrections near
    an edge, in one pass. (In float64 because float32 edges cannot resolve a narrow range of
    large values, where np.histogram raises.) A range that overflows float64 goes to NumPy
    (which raises ValueError)."""
    first, last = float(values.min()), float(values.max())
    if first == last:
        first, last = first - 0.5, last + 0.5
    if not math.isfinite(last - first):
        return np.histogram(values.astype(np.float64), bins=bins)
    edges = np.linspace(first, last, bins + 1, endpoint=True)
    counts = np.zeros(bins, dtype=np.int64)
    compiled(_histogram)(values, first, last - first, float(bins), edges, counts)
    return counts, edges


def mean_var(values):
    """(mean, variance) of a contiguous 1-D float32/float64 array, accumulated in float64 in two
    passes like ``np.mean``/``np.var`` with ``dtype=np.float64`` (other summation order: equal to
    float64 rounding), without their float64 temporary."""
    return compiled(_moments, reassociate=True)(values)


def _planes(a):
    return a.reshape(-1, a.shape[-2], a.shape[-1])


def max_pool(x, kernel, stride, out_hw, arg_dtype):
    """Max pooling of a contiguous (N, C, H, W) array: (out, offset of each window's first
    maximum), as the NumPy path computes them (NaN propagates; ties keep the first)."""
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(out_hw), dtype=x.dtype)
    arg = np.empty(out.shape, dtype=arg_dtype)
    compiled(_max_pool)(_planes(x), *kernel, *stride, _planes(out), _planes(arg))
    return out, arg


def max_pool_backward(dout, arg, kernel, stride, x_shape):
    """dx: each window's gradient added at its maximum, offset by offset as in the NumPy path."""
    dx = np.zeros(x_shape, dtype=dout.dtype)
    compiled(_max_pool_back)(_planes(dout), _planes(arg), *kernel, *stride, _planes(dx), dout.dtype.type(0))
    return dx


def avg_pool(x, kernel, stride, out_hw):
    """Average pooling of a contiguous (N, C, H, W) array: the window sums in offset order, times
    1/(kh*kw) in the array's precision, as the NumPy path."""
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(out_hw), dtype=x.dtype)
    compiled(_avg_pool)(_planes(x), *kernel, *stride, _planes(out), x.dtype.type(1.0 / (kernel[0] * kernel[1])))
    return out


def avg_pool_backward(dout, kernel, stride, x_shape):
    dx = np.zeros(x_shape, dtype=dout.dtype)
    scale = dout.dtype.type(1.0 / (kernel[0] * kernel[1]))
    compiled(_avg_pool_back)(_planes(dout), *kernel, *stride, _planes(dx), scale)
    return dx


def _ncl(a):
    return a.reshape(a.shape[0], a.shape[1], -1)


def _bn_kernels(x):
    """The batch-norm kernels and the array view they take: (N, C) as is, else (N, C, L)."""
    if x.ndim == 2:
        return x, (_bn2_centered_squares, _bn2_centered_dot, _bn2_normalize, _bn2_input_grad)
    return _ncl(x), (_bn_centered_squares, _bn_centered_dot, _bn_normalize, _bn_input_grad)


def _bn_sum(x3):
    return x3.sum(axis=0) if x3.ndim == 2 else x3.sum(axis=2).sum(axis=0)


def batchnorm_train_forward(x, gamma, beta, eps):
    """Training-mode batch norm of a contiguous (N, C, ...) array in two passes over it after
    NumPy's channel sums: (out, mean, biased var, inv_std), statistics in x's dtype. The
    variance sums squares of the centred values (no E[x^2] - mean^2 cancellation)."""
    x3, (squares, _, normalize, _) = _bn_kernels(x)
    m = x.size // x.shape[1]
    mean = (_bn_sum(x3) / m).astype(x.dtype)
    sq = np.empty(x.shape[1])
    compiled(squares, reassociate=x3.ndim == 3)(x3, mean, sq)
    var = (sq / m).astype(x.dtype)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    out = np.empty_like(x)
    compiled(normalize)(x3, mean, (gamma * inv_std).astype(x.dtype), beta.astype(x.dtype), out.reshape(x3.shape))
    return out, mean, var, inv_std


def batchnorm_train_backward(dout, x, mean, inv_std, gamma):
    """(dx, dgamma, dbeta) of training-mode batch norm from its input (no normalized copy kept):
    dx = k dout - (k dgamma / m) xhat - k dbeta / m with k = gamma inv_std, xhat = (x - mean) inv_std."""
    x3, (_, dot_kernel, _, input_grad) = _bn_kernels(x)
    g3 = dout.reshape(x3.shape)
    m = x.size // x.shape[1]
    dbeta = _bn_sum(g3)
    dot = np.empty(x.shape[1])
    compiled(dot_kernel, reassociate=x3.ndim == 3)(g3, x3, mean, dot)
    dgamma = (dot * inv_std).astype(x.dtype)
    k = gamma * inv_std
    dx = np.empty_like(dout)
    compiled(input_grad)(g3, x3, mean, k, (k * dgamma * inv_std / m).astype(x.dtype),
                          (k * dbeta / m).astype(x.dtype), dx.reshape(x3.shape))
    return dx, dgamma, dbeta


def lstm_forward_gates(g, half, shift, c_prev, c):
    """After the step's tanh: ``g = g * half + shift`` (the gate values, in place), then
    ``c = f * c_prev + i * g_cell``."""
    compiled(_lstm_gates)(g, half, shift, c_prev, c)


def lstm_backward_step(dh, dhs, dc, gates, c_prev, tc, da):
    """One LSTM backward step between the recurrent products, on C-contiguous arrays ((N, H), but
    gates and da (N, 4H)), the gate derivatives computed on the spot from the step's gate values:
    ``dh += dhs; dc += dh * (1 - tanh(c)^2) * o; da = [i' dc, f' dc, g' dc, o' dh]`` with
    ``i' = (i - i^2) g``, ``f' = (f - f^2) c_prev``, ``g' = (1 - g^2) i``, ``o' = (o - o^2) tanh(c)``;
    then ``dc *= f``; dh is not written back."""
    compiled(_lstm_step)(dh, dhs, dc, gates, c_prev, tc, da, gates.dtype.type(1))
