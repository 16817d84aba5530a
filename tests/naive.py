"""Loop-based reference implementations: slow, obvious, and independent of glassnet."""
import math

import numpy as np


def linear(x, W, b):
    x2 = x.reshape(x.shape[0], -1)
    out = np.zeros((x2.shape[0], W.shape[1]))
    for n in range(x2.shape[0]):
        for j in range(W.shape[1]):
            s = 0.0 if b is None else float(b[j])
            for i in range(W.shape[0]):
                s += float(x2[n, i]) * float(W[i, j])
            out[n, j] = s
    return out


def elementwise(fn, x):
    out = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        out[idx] = fn(float(x[idx]))
    return out


def relu(x):
    return elementwise(lambda v: v if v > 0 else 0.0, x)


def leaky_relu(x, alpha):
    return elementwise(lambda v: v if v > 0 else alpha * v, x)


def sigmoid(x):
    return elementwise(lambda v: 1.0 / (1.0 + math.exp(-v)), x)


def tanh(x):
    return elementwise(math.tanh, x)


def softmax_rows(x):
    out = np.zeros(x.shape)
    for n in range(x.shape[0]):
        m = max(float(v) for v in x[n])
        e = [math.exp(float(v) - m) for v in x[n]]
        s = sum(e)
        out[n] = [v / s for v in e]
    return out


def maxout(x, W, b, pieces):
    z = linear(x, W, b)
    n_out = W.shape[1] // pieces
    out = np.zeros((x.shape[0], n_out))
    for n in range(x.shape[0]):
        for j in range(n_out):
            out[n, j] = max(z[n, j * pieces + k] for k in range(pieces))
    return out


def batchnorm_train(x, gamma, beta, eps):
    """Per-feature loops over (N, C) or (N, C, L)."""
    out = np.zeros(x.shape)
    c_dim = x.shape[1]
    for c in range(c_dim):
        vals = x[:, c].ravel()
        mu = sum(vals) / len(vals)
        var = sum((v - mu) ** 2 for v in vals) / len(vals)
        out[:, c] = gamma[c] * (x[:, c] - mu) / math.sqrt(var + eps) + beta[c]
    return out


def batchnorm_eval(x, gamma, beta, mean, var, eps):
    out = np.zeros(x.shape)
    for c in range(x.shape[1]):
        out[:, c] = gamma[c] * (x[:, c] - mean[c]) / math.sqrt(var[c] + eps) + beta[c]
    return out


def conv2d(x, w, b, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Direct loops over samples, filters, output pixels and the kernel."""
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    xp[:, :, ph:ph + H, pw:pw + W] = x
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    s = 0.0 if b is None else float(b[f])
                    for c in range(C):
                        for u in range(kh):
                            for v in range(kw):
                                s += xp[n, c, i * sh + u * dh, j * sw + v * dw] * w[f, c, u, v]
                    out[n, f, i, j] = s
    return out


def pool2d(x, kernel, stride, reduce):
    N, C, H, W = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = reduce(x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out


def _sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def _dot_col(v, W, k):
    """sum_i v[i] * W[i, k], one term at a time."""
    return sum(float(v[i]) * float(W[i, k]) for i in range(len(v)))


def rnn(x, h0, Wx, Wh, b):
    """Per sample, per step, per unit."""
    N, T, D = x.shape
    H = Wh.shape[0]
    out = np.zeros((N, T, H))
    for n in range(N):
        h = h0[n].copy()
        for t in range(T):
            new = np.zeros(H)
            for k in range(H):
                new[k] = math.tanh(b[k] + _dot_col(x[n, t], Wx, k) + _dot_col(h, Wh, k))
            h = new
            out[n, t] = h
    return out


def lstm(x, h0, c0, Wx, Wh, b):
    N, T, D = x.shape
    H = Wh.shape[0]
    out = np.zeros((N, T, H))
    for n in range(N):
        h, c = h0[n].copy(), c0[n].copy()
        for t in range(T):
            a = [b[k] + _dot_col(x[n, t], Wx, k) + _dot_col(h, Wh, k) for k in range(4 * H)]
            hn, cn = np.zeros(H), np.zeros(H)
            for k in range(H):
                i, f, g, o = _sig(a[k]), _sig(a[H + k]), math.tanh(a[2 * H + k]), _sig(a[3 * H + k])
                cn[k] = f * c[k] + i * g
                hn[k] = o * math.tanh(cn[k])
            h, c = hn, cn
            out[n, t] = h
    return out


def gru(x, h0, Wx, Wh, bx, bh):
    N, T, D = x.shape
    H = Wh.shape[0]
    out = np.zeros((N, T, H))
    for n in range(N):
        h = h0[n].copy()
        for t in range(T):
            ax = [bx[k] + _dot_col(x[n, t], Wx, k) for k in range(3 * H)]
            ah = [bh[k] + _dot_col(h, Wh, k) for k in range(3 * H)]
            new = np.zeros(H)
            for k in range(H):
                r = _sig(ax[k] + ah[k])
                z = _sig(ax[H + k] + ah[H + k])
                nn_ = math.tanh(ax[2 * H + k] + r * ah[2 * H + k])
                new[k] = (1 - z) * nn_ + z * h[k]
            h = new
            out[n, t] = h
    return out


def layer_norm(x, gamma, beta, n_axes, eps=1e-5):
    """Each example standardized over its last n_axes axes, one example at a time."""
    out = np.empty_like(x)
    lead = x.shape[:x.ndim - n_axes]
    for idx in np.ndindex(*lead):
        v = x[idx]
        out[idx] = (v - v.mean()) / np.sqrt(v.var() + eps)
    return out if gamma is None else out * gamma + beta


def group_norm(x, gamma, beta, groups, eps=1e-5):
    """Loops over examples and groups of consecutive channels."""
    out = np.empty_like(x)
    per = x.shape[1] // groups
    for n in range(x.shape[0]):
        for g in range(groups):
            v = x[n, g * per:(g + 1) * per]
            out[n, g * per:(g + 1) * per] = (v - v.mean()) / np.sqrt(v.var() + eps)
    if gamma is None:
        return out
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return out * gamma.reshape(shape) + beta.reshape(shape)


def local_response_norm(x, size, alpha, beta, k):
    """b_c = a_c / (k + alpha / size * sum of a_j^2 over j in [c - size//2, c + (size-1)//2]) ** beta."""
    C = x.shape[1]
    out = np.empty_like(x)
    for c in range(C):
        lo, hi = max(0, c - size // 2), min(C - 1, c + (size - 1) // 2)
        s = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        out[:, c] = x[:, c] / (k + alpha / size * s) ** beta
    return out
