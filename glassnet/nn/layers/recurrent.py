"""Recurrent layers: RNN (tanh), LSTM, GRU, and the Bidirectional wrapper.

Batch-first: x (N, T, input_size) -> all hidden states (N, T, hidden_size), or only the last
one (N, hidden_size) with ``return_sequences=False`` (handy before a classifier head). After
``forward`` the final state is ``layer.last_state`` (h_T, or (h_T, c_T) for the LSTM); an
initial state may be passed as ``forward(x, state)`` (zeros by default). ``backward(dout,
dstate=None)`` also accepts a gradient for the final state and leaves the initial state's
gradient in ``layer.state_grad``. Backpropagation runs through the whole sequence; clip the
gradients with ``glassnet.optim.clip_grad_norm`` (or the GradientClipping callback).

``stateful=True`` (Keras' name) carries the final state of one batch into the next as its
initial state, detached (truncated backpropagation through time over contiguous streams, see
``glassnet.data.text_batches``), in train and eval mode alike, until ``model.reset_state()``;
the batch size must stay the same. The Trainer resets it at the start of every epoch and around
every evaluation.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np

from ... import functional as F
from ... import kernels
from ..._checks import check_bool, check_float_array, describe
from ...backend import get_array_module
from ...errors import ConfigError, ShapeError
from .. import init as initializers
from ..module import Module, Parameter, _annotate
from ._util import accumulate, as_generator, check_dout, check_values, fill, positive_int


class _Recurrent(Module):
    _gates = 1  # G = gates * hidden_size
    _lstm = False

    def __init__(self, input_size, hidden_size, return_sequences=True, init="normal_fan_in",
                 recurrent_init="orthogonal", stateful=False, rng=None, dtype=np.float32):
        super().__init__()
        me = type(self).__name__
        self.input_size = positive_int(input_size, me, "input_size")
        self.hidden_size = positive_int(hidden_size, me, "hidden_size")
        self.return_sequences = bool(return_sequences)
        self.stateful = check_bool(stateful, "stateful", me)
        self.init, self.recurrent_init = init, recurrent_init
        initializers.get(init)
        initializers.get(recurrent_init)
        G = self._gates * self.hidden_size
        self.Wx = Parameter(np.empty((self.input_size, G), dtype=dtype), decay=True)
        self.Wh = Parameter(np.empty((self.hidden_size, G), dtype=dtype), decay=True)
        self._make_biases(G, dtype)
        self.last_state = None
        self.state_grad = None
        self.init_parameters(as_generator(rng))

    def _make_biases(self, G, dtype):
        self.b = Parameter(np.zeros(G, dtype=dtype), decay=False)

    def init_parameters(self, rng):
        H = self.hidden_size
        fill(self.Wx, initializers.get(self.init)(self.Wx.shape, rng=rng, dtype=self.Wx.dtype))
        # one square recurrent block per gate, so each gate's recurrence is orthogonal on its own
        blocks = [initializers.get(self.recurrent_init)((H, H), rng=rng, dtype=self.Wh.dtype)
                  for _ in range(self._gates)]
        fill(self.Wh, np.concatenate(blocks, axis=1))
        for p in self._parameters.values():
            if not p.decay:
                p.data[...] = 0
        self._bias_init()

    def _bias_init(self):
        pass

    @property
    def _who(self):
        return f"{type(self).__name__}({self.input_size} -> {self.hidden_size})"

    def _check_state(self, s, N, what):
        check_float_array(s, self._who, what)
        if tuple(s.shape) != (N, self.hidden_size):
            raise ShapeError(f"{self._who}: {what} must have shape (N, hidden_size) = ({N}, {self.hidden_size}), "
                             f"got {describe(s)}")
        check_values(s, self, self._who)

    def _initial(self, x, state):
        """(h0,) or (h0, c0) from ``state`` (None: zeros)."""
        xp = get_array_module(x)
        N = x.shape[0]
        n = 2 if self._lstm else 1
        if state is None:
            return tuple(xp.zeros((N, self.hidden_size), dtype=x.dtype) for _ in range(n))
        if self._lstm:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise TypeError(f"{self._who}: the initial state must be a pair (h0, c0), got {type(state).__name__}")
            states = tuple(state)
        else:
            states = (state,)
        for s, what in zip(states, ("initial state h0", "initial state c0")):
            self._check_state(s, N, what)
        return states

    def reset_state(self):
        """Forget the state a ``stateful`` layer carries (the next batch starts from zeros)."""
        self.last_state = None
        return self

    def _carried(self, x):
        """A stateful layer's initial state: the last batch's final state, as values (no gradient
        flows back into the batch before: truncated backpropagation through time)."""
        if not self.stateful or self.last_state is None:
            return None
        carried = self.last_state if self._lstm else (self.last_state,)
        if carried[0].shape[0] != x.shape[0]:
            raise ShapeError(f"{self._who}: stateful layer carries a state for {carried[0].shape[0]} rows but the "
                             f"batch has {x.shape[0]}; keep the batch size fixed (drop_last=True) or call "
                             f"model.reset_state() between data sets")
        copies = tuple(s.copy() for s in carried)
        return copies if self._lstm else copies[0]

    def forward(self, x, state=None):
        who = self._who
        check_float_array(x, who)
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[1] < 1:
            raise ShapeError(f"{who}: expected a batch-first sequence of shape (N, T, {self.input_size}) with "
                             f"T >= 1, got {describe(x)}; reshape a (N, T) signal with x[..., None]")
        check_values(x, self, who)
        states = self._initial(x, self._carried(x) if state is None else state)
        hs, cache = self._run(x, states)
        if self._lstm:
            self.last_state = (hs[:, -1], cache.value[3][-1])  # (h_T, c_T); every LSTM cache keeps cs at [3]
        else:
            self.last_state = hs[:, -1]
        self._save((cache, x.shape))
        return hs if self.return_sequences else hs[:, -1]

    def backward(self, dout, dstate=None, need_input_grad=True):
        cache, (N, T, _) = self._pop()
        H = self.hidden_size
        xp = get_array_module(dout)
        if self.return_sequences:
            check_dout(dout, (N, T, H), self._who)
            dhs = dout
        else:
            check_dout(dout, (N, H), self._who)
            dhs = xp.zeros((N, T, H), dtype=dout.dtype)
            dhs[:, -1] = dout
        if dstate is not None and self._lstm:
            dstate = tuple(dstate)
        grads = self._back(dhs, cache, dstate, need_dx=need_input_grad)
        dx, states_grad, pgrads = grads
        self.state_grad = states_grad if self._lstm else states_grad[0]
        for p, g in zip(self._parameters.values(), pgrads):
            accumulate(p, g)
        return dx

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, return_sequences={self.return_sequences}, "
                f"init={self.init!r}, recurrent_init={self.recurrent_init!r}" + (", stateful=True" if self.stateful
                                                                                 else ""))

    def config(self):
        config = {"type": type(self).__name__, "input_size": self.input_size, "hidden_size": self.hidden_size,
                  "return_sequences": self.return_sequences, "init": self.init,
                  "recurrent_init": self.recurrent_init}
        if self.stateful:
            config["stateful"] = True
        return config


class RNN(_Recurrent):
    """Vanilla RNN: h_t = tanh(x_t Wx + h_{t-1} Wh + b).

    Parameters: Wx (input_size, H), Wh (H, H), b (H,). PyTorch's ``nn.RNN`` stores
    weight_ih = Wx.T, weight_hh = Wh.T and splits b into bias_ih + bias_hh.
    """

    def _run(self, x, states):
        return F.rnn_forward(x, states[0], self.Wx.data, self.Wh.data, self.b.data)

    def _back(self, dhs, cache, dstate, need_dx):
        dx, dh0, dWx, dWh, db = F.rnn_backward(dhs, cache, dstate, need_dx=need_dx)
        return dx, (dh0,), (dWx, dWh, db)


class LSTM(_Recurrent):
    """Long short-term memory with gates in the order input, forget, cell, output.

    Parameters: Wx (input_size, 4H), Wh (H, 4H), b (4H,), with the forget gate's bias
    initialized to 1 (start by remembering, as the notes advise). PyTorch's ``nn.LSTM`` uses
    the same gate order: weight_ih = Wx.T, weight_hh = Wh.T, b = bias_ih + bias_hh.
    ``last_state`` is (h_T, c_T); ``forward(x, (h0, c0))`` sets the initial state.
    """

    _gates = 4
    _lstm = True

    def _bias_init(self):
        H = self.hidden_size
        self.b.data[H:2 * H] = 1

    def _run(self, x, states):
        return kernels.forward("lstm", x, states[0], states[1], self.Wx.data, self.Wh.data, self.b.data)

    def _back(self, dhs, cache, dstate, need_dx):
        dh_last, dc_last = (None, None) if dstate is None else dstate
        dx, dh0, dc0, dWx, dWh, db = kernels.backward("lstm", dhs, cache, dh_last=dh_last, dc_last=dc_last,
                                                         need_dx=need_dx)
        return dx, (dh0, dc0), (dWx, dWh, db)


class GRU(_Recurrent):
    """Gated recurrent unit with gates reset, update, new (PyTorch's formulation):

    r, z = sigmoid(x Wx_{r,z} + bx_{r,z} + h Wh_{r,z} + bh_{r,z});
    n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n));  h' = (1 - z) * n + z * h.
    Parameters: Wx (input_size, 3H), Wh (H, 3H), bx (3H,), bh (3H,); PyTorch's ``nn.GRU``
    stores weight_ih = Wx.T, weight_hh = Wh.T, bias_ih = bx, bias_hh = bh.
    """

    _gates = 3

    def _make_biases(self, G, dtype):
        self.bx = Parameter(np.zeros(G, dtype=dtype), decay=False)
        self.bh = Parameter(np.zeros(G, dtype=dtype), decay=False)

    def _run(self, x, states):
        return F.gru_forward(x, states[0], self.Wx.data, self.Wh.data, self.bx.data, self.bh.data)

    def _back(self, dhs, cache, dstate, need_dx):
        dx, dh0, dWx, dWh, dbx, dbh = F.gru_backward(dhs, cache, dstate, need_dx=need_dx)
        return dx, (dh0,), (dWx, dWh, dbx, dbh)


class Bidirectional(Module):
    """Runs a recurrent layer forwards and a copy of it (own parameters, re-initialized) over
    the reversed sequence, and concatenates their outputs on the last axis:
    (N, T, 2H) with ``return_sequences``, else (N, 2H) = [h_T of the forward pass, h of the
    backward pass after reading the whole sequence]. Parameters: ``fwd.*`` and ``bwd.*``.
    """

    def __init__(self, layer, rng=None):
        super().__init__()
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Bidirectional: expected an RNN, LSTM or GRU layer, got {type(layer).__name__}")
        if layer.stateful:
            raise ConfigError("Bidirectional: a stateful layer cannot run backwards over a stream that continues "
                              "in the next batch; use stateful=False")
        self.fwd = layer
        bwd = copy.deepcopy(layer)
        bwd.init_parameters(as_generator(rng))
        self.bwd = bwd

    @property
    def return_sequences(self):
        return self.fwd.return_sequences

    def forward(self, x):
        xp = get_array_module(x)
        if getattr(x, "ndim", 0) != 3:
            raise ShapeError(f"Bidirectional({type(self.fwd).__name__}): expected input of shape (N, T, "
                             f"{self.fwd.input_size}), got {describe(x)}")
        a = self._child("fwd", "forward", x)
        b = self._child("bwd", "forward", x[:, ::-1])
        if self.return_sequences:
            b = b[:, ::-1]
        self._save(a.shape[-1])
        return xp.concatenate([a, b], axis=-1)

    def backward(self, dout, need_input_grad=True):
        H = self._pop()
        da, db = dout[..., :H], dout[..., H:]
        if self.return_sequences:
            db = db[:, ::-1]
        xp = get_array_module(dout)
        dxa = self._child("fwd", "backward", xp.ascontiguousarray(da), need_input_grad=need_input_grad)
        dxb = self._child("bwd", "backward", xp.ascontiguousarray(db), need_input_grad=need_input_grad)
        if dxa is None:
            return None
        return dxa + dxb[:, ::-1]

    def _child(self, name, method, arg, **kw):
        try:
            return getattr(self._modules[name], method)(arg, **kw)
        except Exception as err:
            _annotate(err, f"Bidirectional.{name} ({type(self._modules[name]).__name__})",
                      getattr(arg, "shape", None) if method == "forward" else None)
            raise

    def config(self):
        return {"type": "Bidirectional", "layer": self.fwd.config()}


def is_stateful(model) -> bool:
    """True when ``model`` holds a recurrent layer with ``stateful=True``."""
    return any(isinstance(m, _Recurrent) and m.stateful for m in model.modules())


@contextmanager
def state_kept(model):
    """Inside the block the recurrent layers start from zero state; afterwards each has the state
    it carried before (a probe pass leaves a stateful model as it was)."""
    layers = [m for m in model.modules() if isinstance(m, _Recurrent)]
    saved = [m.last_state for m in layers]
    model.reset_state()
    try:
        yield model
    finally:
        for m, state in zip(layers, saved):
            m.last_state = state
