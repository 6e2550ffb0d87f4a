"""Recurrent layers: SimpleRNN, LSTM, GRU, Bidirectional and ConvLSTM2D.

A recurrent layer applies one small cell at every time step, feeding the cell's state from one
step to the next. The forward pass loops over time; the backward pass
("back-propagation through time") loops over time in reverse, carrying the state's gradient
back from step t to step t - 1 and summing the weight gradients of every step.

The input's share of every gate, x_t W + b, does not depend on the state, so it is computed for
all steps at once by one matmul before the loop (and its gradient after the backward loop). The
cells below only do the recurrent part of one step.

Weights and gate order are Keras's: kernel (features, gates * units), recurrent_kernel
(units, gates * units), bias; LSTM gates i, f, c, o; GRU gates z, r, h.
"""
from __future__ import annotations

import numpy as np

from .. import initializers as init
from ..registry import register
from ..im2col import paddings
from ..registry import NO_INPUT_GRAD
from .activations import activate, activate_grad
from .conv import conv_backward, conv_forward
from .noise import dropout_mask


def _act(params, name, x):
    return activate(params[name], x)


def _act_grad(params, name, dy, x, y):
    return activate_grad(params[name], dy, x, y)


# -- cells: one time step, forward and backward ------------------------------------------------
#
# step(xw, state, U, b, params, rmask) -> (new state, cache)
#     xw: the input's share x_t W + b of every gate, (batch, gates * units)
#     state: tuple of (batch, units) arrays; U: recurrent kernel; rmask: recurrent dropout mask
# step_back(dstate, cache, U, params, grads) -> (dxw, dstate of the previous step)
#     grads["recurrent_kernel"] (and GRU's recurrent bias) are added to.

class SimpleRNNCell:
    """h' = act(x W + h U + b)."""
    gates, states = 1, ("state",)

    def step(xw, state, U, b, params, rmask):
        (h,) = state
        h_in = h if rmask is None else h * rmask
        a = xw + h_in @ U
        h_new = _act(params, "activation", a)
        return (h_new,), (h_in, a, h_new, rmask)

    def step_back(dstate, cache, U, params, grads):
        (dh_new,) = dstate
        h_in, a, h_new, rmask = cache
        da = _act_grad(params, "activation", dh_new, a, h_new)
        grads["recurrent_kernel"] += h_in.T @ da
        dh = da @ U.T
        return da, (dh if rmask is None else dh * rmask,)


def lstm_gates(a, c, params):
    """The LSTM update from the gate pre-activations `a` (i, f, g, o along the last axis) and
    the cell state `c`: (h', c', what the backward pass needs). Shared by LSTM and ConvLSTM2D."""
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=-1)
    i = _act(params, "recurrent_activation", a_i)
    f = _act(params, "recurrent_activation", a_f)
    g = _act(params, "activation", a_g)
    o = _act(params, "recurrent_activation", a_o)
    c_new = f * c + i * g
    tc = _act(params, "activation", c_new)
    return o * tc, c_new, (c, a_i, a_f, a_g, a_o, i, f, g, o, c_new, tc)


def lstm_gates_backward(dh_new, dc_new, gates, params):
    """The gradients of `lstm_gates`: (d a, d c)."""
    c, a_i, a_f, a_g, a_o, i, f, g, o, c_new, tc = gates
    do = dh_new * tc
    dc = dc_new + _act_grad(params, "activation", dh_new * o, c_new, tc)
    da = np.concatenate([
        _act_grad(params, "recurrent_activation", dc * g, a_i, i),
        _act_grad(params, "recurrent_activation", dc * c, a_f, f),
        _act_grad(params, "activation", dc * i, a_g, g),
        _act_grad(params, "recurrent_activation", do, a_o, o),
    ], axis=-1)
    return da, dc * f


class LSTMCell:
    """Gates i (input), f (forget), o (output) in (0, 1); candidate g.
    c' = f * c + i * g;   h' = o * act(c')."""
    gates, states = 4, ("state_h", "state_c")

    def step(xw, state, U, b, params, rmask):
        h, c = state
        h_in = h if rmask is None else h * rmask
        h_new, c_new, gates = lstm_gates(xw + h_in @ U, c, params)
        return (h_new, c_new), (h_in, gates, rmask)

    def step_back(dstate, cache, U, params, grads):
        h_in, gates, rmask = cache
        da, dc = lstm_gates_backward(*dstate, gates, params)
        grads["recurrent_kernel"] += h_in.T @ da
        dh = da @ U.T
        return da, (dh if rmask is None else dh * rmask, dc)


class GRUCell:
    """Update gate z, reset gate r, candidate hh; h' = z * h + (1 - z) * hh.

    reset_after=True (Keras's default): hh = act(x W_h + b_h + r * (h U_h + b'_h)), with a second
    (recurrent) bias b'. reset_after=False: hh = act(x W_h + b_h + (r * h) U_h).
    """
    gates, states = 3, ("state",)

    def step(xw, state, U, b, params, rmask):
        (h,) = state
        h_in = h if rmask is None else h * rmask
        x_z, x_r, x_h = np.split(xw, 3, axis=-1)
        u = h.shape[-1]
        if params["reset_after"]:
            m = h_in @ U
            if b is not None:
                m = m + b[1]
            m_z, m_r, m_h = np.split(m, 3, axis=-1)
        else:
            m_z, m_r = np.split(h_in @ U[:, :2 * u], 2, axis=-1)
        a_z, a_r = x_z + m_z, x_r + m_r
        z = _act(params, "recurrent_activation", a_z)
        r = _act(params, "recurrent_activation", a_r)
        if not params["reset_after"]:
            m_h = (r * h_in) @ U[:, 2 * u:]
            a_h = x_h + m_h
        else:
            a_h = x_h + r * m_h
        hh = _act(params, "activation", a_h)
        h_new = z * h + (1 - z) * hh
        return (h_new,), (h, h_in, a_z, a_r, a_h, z, r, hh, m_h, rmask)

    def step_back(dstate, cache, U, params, grads):
        (dh_new,) = dstate
        h, h_in, a_z, a_r, a_h, z, r, hh, m_h, rmask = cache
        u = h.shape[-1]
        dh = dh_new * z                                   # through z * h
        da_h = _act_grad(params, "activation", dh_new * (1 - z), a_h, hh)
        if params["reset_after"]:
            dr = da_h * m_h
            da_z = _act_grad(params, "recurrent_activation", dh_new * (h - hh), a_z, z)
            da_r = _act_grad(params, "recurrent_activation", dr, a_r, r)
            dm = np.concatenate([da_z, da_r, da_h * r], axis=-1)
            grads["recurrent_kernel"] += h_in.T @ dm
            if "recurrent_bias" in grads:
                grads["recurrent_bias"] += dm.sum(axis=0)
            dh_in = dm @ U.T
        else:
            U_h = U[:, 2 * u:]
            d_rh = da_h @ U_h.T                           # gradient of r * h_in
            da_z = _act_grad(params, "recurrent_activation", dh_new * (h - hh), a_z, z)
            da_r = _act_grad(params, "recurrent_activation", d_rh * h_in, a_r, r)
            dm_zr = np.concatenate([da_z, da_r], axis=-1)
            grads["recurrent_kernel"][:, :2 * u] += h_in.T @ dm_zr
            grads["recurrent_kernel"][:, 2 * u:] += (r * h_in).T @ da_h
            dh_in = dm_zr @ U[:, :2 * u].T + d_rh * r
        dxw = np.concatenate([da_z, da_r, da_h], axis=-1)
        return dxw, (dh + (dh_in if rmask is None else dh_in * rmask),)


CELLS = {"SimpleRNN": SimpleRNNCell, "LSTM": LSTMCell, "GRU": GRUCell}


# -- the layer: a loop over time ---------------------------------------------------------------

def rnn_weights(cell_name, params, input_shape, rng, dtype):
    cell, units, features = CELLS[cell_name], params["units"], input_shape[-1]
    width = cell.gates * units
    w = {"kernel": init.glorot_uniform((features, width), rng, dtype),
         "recurrent_kernel": init.orthogonal((units, width), rng, dtype)}
    if params["use_bias"]:
        if cell_name == "GRU" and params["reset_after"]:
            w["bias"] = init.zeros((2, width), dtype=dtype)      # input bias, recurrent bias
        else:
            w["bias"] = init.zeros((width,), dtype=dtype)
        if cell_name == "LSTM":
            w["bias"][units:2 * units] = 1     # Keras's unit_forget_bias: remember by default
    return w


def _split_bias(cell_name, weights, params):
    """(bias added to the input projection, bias handed to the cell)."""
    if not params["use_bias"]:
        return 0, None
    b = weights["bias"]
    if cell_name == "GRU" and params["reset_after"]:
        return b[0], b
    return b, None


def rnn_forward(cell_name, x, weights, params, training, rng=None, initial=None):
    """`initial`: the states to start from, (batch, units) each in the cell's order (zeros
    when None)."""
    cell = CELLS[cell_name]
    kernel, U = weights["kernel"], weights["recurrent_kernel"]
    batch, steps, features = x.shape
    units = U.shape[0]
    if params.get("go_backwards"):
        x = x[:, ::-1]
    mask = rmask = None
    if training and params["dropout"] > 0:       # one mask for all steps (variational dropout)
        mask = dropout_mask((batch, features), params["dropout"], rng, x.dtype)
        x = x * mask[:, None]
    if training and params["recurrent_dropout"] > 0:
        rmask = dropout_mask((batch, units), params["recurrent_dropout"], rng, x.dtype)
    input_bias, cell_bias = _split_bias(cell_name, weights, params)
    xw = x @ kernel + input_bias                 # every step's input projection at once

    if initial:
        state = tuple(np.asarray(s, x.dtype) for s in initial)
    else:
        state = tuple(np.zeros((batch, units), x.dtype) for _ in cell.states)
    outputs, caches = [], []
    for t in range(steps):
        state, c = cell.step(xw[:, t], state, U, cell_bias, params, rmask)
        outputs.append(state[0])
        caches.append(c)
    y = np.stack(outputs, axis=1) if params["return_sequences"] else state[0]
    cache = (cell_name, x, mask, caches, weights, params)
    return ([y, *state] if params["return_state"] else y), cache


def rnn_backward(douts, cache, states=False):
    """(dx, {weight: gradient}), and with `states` the gradients of the initial states."""
    cell_name, x, mask, caches, weights, params = cache
    cell = CELLS[cell_name]
    kernel, U = weights["kernel"], weights["recurrent_kernel"]
    if params["return_state"]:
        dy, *dstate = douts
    else:
        dy, dstate = douts, [np.zeros((len(x), U.shape[0]), x.dtype) for _ in cell.states]
    if not params["return_sequences"]:
        dstate[0] = dstate[0] + dy                 # only the last step's output was used
    grads = {"recurrent_kernel": np.zeros_like(U)}
    _, cell_bias = _split_bias(cell_name, weights, params)
    if cell_bias is not None:
        grads["recurrent_bias"] = np.zeros_like(cell_bias[1])

    dxw = np.zeros(x.shape[:2] + (kernel.shape[1],), dtype=x.dtype)
    for t in reversed(range(len(caches))):
        if params["return_sequences"]:
            dstate[0] = dstate[0] + dy[:, t]
        dxw[:, t], dstate = cell.step_back(tuple(dstate), caches[t], U, params, grads)
        dstate = list(dstate)

    features = x.shape[-1]
    out = {"kernel": x.reshape(-1, features).T @ dxw.reshape(-1, kernel.shape[1]),
           "recurrent_kernel": grads["recurrent_kernel"]}
    if params["use_bias"]:
        input_bias_grad = dxw.sum(axis=(0, 1))
        if "recurrent_bias" in grads:
            out["bias"] = np.stack([input_bias_grad, grads["recurrent_bias"]])
        else:
            out["bias"] = input_bias_grad
    dx = dxw @ kernel.T
    if mask is not None:
        dx = dx * mask[:, None]
    if params.get("go_backwards"):
        dx = dx[:, ::-1]
    return (dx, out, list(dstate)) if states else (dx, out)


def _declare_rnn(cell_name):
    class RNN:
        # inputs: the sequence, then the optional initial states (graph/layers/recurrent.py)
        def weights(params, input_shapes, rng, dtype):
            return rnn_weights(cell_name, params, input_shapes[0], rng, dtype)

        def forward(xs, weights, params, training, rng=None):
            x, *initial = xs
            y, cache = rnn_forward(cell_name, x, weights, params, training, rng, initial)
            return y, (cache, len(xs))

        def backward(dy, cache):
            inner, n_inputs = cache
            dx, grads, dstates = rnn_backward(dy, inner, states=True)
            return [dx, *dstates[:n_inputs - 1]], grads

    RNN.__name__ = RNN.__qualname__ = cell_name
    return register(cell_name, random=True)(RNN)


SimpleRNN = _declare_rnn("SimpleRNN")
LSTM = _declare_rnn("LSTM")
GRU = _declare_rnn("GRU")


# -- Bidirectional -----------------------------------------------------------------------------

def _directions(params):
    """The params of the forward and of the backward layer."""
    inner = {k: v for k, v in params.items() if k not in ("layer", "merge_mode")}
    return dict(inner, go_backwards=False), dict(inner, go_backwards=True)


def _split_outputs(out, params):
    """(output, [states]) of one direction."""
    return (out[0], out[1:]) if params["return_state"] else (out, [])


@register("Bidirectional", random=True)
class Bidirectional:
    """One layer reads the sequence forwards, a second one backwards; their outputs are joined.
    The backward layer's sequence output is flipped back, so step t of both lines up."""

    def weights(params, input_shape, rng, dtype):
        w = {}
        for direction, p in zip(("forward", "backward"), _directions(params)):
            for name, value in rnn_weights(params["layer"], p, input_shape, rng, dtype).items():
                w[f"{direction}_{name}"] = value
        return w

    def forward(x, weights, params, training, rng=None):
        cell_name, mode = params["layer"], params["merge_mode"]
        ys, states, caches = [], [], []
        for direction, p in zip(("forward", "backward"), _directions(params)):
            w = {k[len(direction) + 1:]: v for k, v in weights.items()
                 if k.startswith(direction + "_")}
            out, cache = rnn_forward(cell_name, x, w, p, training, rng)
            y, s = _split_outputs(out, params)
            ys.append(y)
            states += s
            caches.append(cache)
        fw, bw = ys
        if params["return_sequences"]:
            bw = bw[:, ::-1]
        if mode == "concat":
            merged = [np.concatenate([fw, bw], axis=-1)]
        elif mode == "sum":
            merged = [fw + bw]
        elif mode == "ave":
            merged = [(fw + bw) / 2]
        elif mode == "mul":
            merged = [fw * bw]
        else:
            merged = [fw, bw]
        outputs = merged + states
        cache = (caches, fw, bw, params)
        return (outputs if len(outputs) > 1 else outputs[0]), cache

    def backward(douts, cache):
        caches, fw, bw, params = cache
        mode = params["merge_mode"]
        douts = douts if isinstance(douts, list) else [douts]
        n_merged = 2 if mode == "none" else 1
        dmerged, dstates = douts[:n_merged], douts[n_merged:]
        if mode == "concat":
            dfw, dbw = np.split(dmerged[0], 2, axis=-1)
        elif mode == "sum":
            dfw = dbw = dmerged[0]
        elif mode == "ave":
            dfw = dbw = dmerged[0] / 2
        elif mode == "mul":
            dfw, dbw = dmerged[0] * bw, dmerged[0] * fw
        else:
            dfw, dbw = dmerged
        if params["return_sequences"]:
            dbw = dbw[:, ::-1]
        half = len(dstates) // 2
        dx, grads = 0, {}
        for direction, dy, ds, c in zip(("forward", "backward"), (dfw, dbw),
                                        (dstates[:half], dstates[half:]), caches):
            d, g = rnn_backward([dy, *ds] if params["return_state"] else dy, c)
            dx = dx + d
            grads.update({f"{direction}_{k}": v for k, v in g.items()})
        return dx, grads


# -- ConvLSTM2D --------------------------------------------------------------------------------

@register("ConvLSTM2D")
class ConvLSTM2D:
    """An LSTM whose two matmuls are convolutions: the gates of step t are
    conv(x_t, kernel, strides, padding) + b + conv(h_(t-1), recurrent_kernel, 1, 'same'), split
    into i, f, c, o as Keras does; c' = f * c + i * act(g), h' = o * act(c').

    As in the other recurrent layers, the input's share of the gates does not depend on the
    state: it is one convolution of all frames at once (batch x steps images) before the loop,
    and its gradient one convolution backward after the loop. The loop only convolves the
    state. Weights: kernel (kh, kw, in, 4 filters), recurrent_kernel (kh, kw, filters,
    4 filters), bias (4 filters)."""

    def weights(params, input_shape, rng, dtype):
        kh, kw = params["kernel_size"]
        filters, width = params["filters"], 4 * params["filters"]
        w = {"kernel": init.glorot_uniform((kh, kw, input_shape[-1], width), rng, dtype),
             "recurrent_kernel": init.orthogonal((kh, kw, filters, width), rng, dtype)}
        if params["use_bias"]:
            w["bias"] = init.zeros((width,), dtype=dtype)
            w["bias"][filters:2 * filters] = 1     # Keras's unit_forget_bias
        return w

    def forward(x, weights, params, training):
        if params["go_backwards"]:
            x = x[:, ::-1]
        b, steps = x.shape[:2]
        kernels, strides = tuple(params["kernel_size"]), tuple(params["strides"])
        pads = paddings(params["padding"], x.shape[2:4], kernels, strides)
        frames = np.ascontiguousarray(x).reshape((b * steps,) + x.shape[2:])
        zx, conv_in = conv_forward(frames, weights["kernel"], strides, (1, 1), pads,
                                   weights["bias"] if params["use_bias"] else None)
        zx = zx.reshape((b, steps) + zx.shape[1:])
        filters = params["filters"]
        frame = zx.shape[2:4]
        rec_pads = paddings("same", frame, kernels, (1, 1))
        h = np.zeros((b,) + frame + (filters,), dtype=zx.dtype)
        c = np.zeros_like(h)
        hs, caches = [], []
        for t in range(steps):
            zh, conv_h = conv_forward(h, weights["recurrent_kernel"], (1, 1), (1, 1), rec_pads)
            h, c, gates = lstm_gates(zx[:, t] + zh, c, params)
            caches.append((conv_h, gates))
            hs.append(h)
        y = np.stack(hs, axis=1) if params["return_sequences"] else h
        return y, (conv_in, caches, x.shape, params)

    def backward(dy, cache):
        conv_in, caches, x_shape, params = cache
        steps = len(caches)
        rk = {"recurrent_kernel": 0}
        dzx = None
        dh = np.zeros_like(caches[0][1][0])         # shaped as the cell state
        dc = np.zeros_like(dh)
        for t in reversed(range(steps)):
            conv_h, gates = caches[t]
            if params["return_sequences"]:
                dh = dh + dy[:, t]
            elif t == steps - 1:
                dh = dh + dy
            da, dc = lstm_gates_backward(dh, dc, gates, params)
            if dzx is None:
                dzx = np.empty((da.shape[0], steps) + da.shape[1:], dtype=da.dtype)
            dzx[:, t] = da
            dh, drk, _ = conv_backward(da, conv_h, need_dx=t > 0)
            rk["recurrent_kernel"] = rk["recurrent_kernel"] + drk
        dframes, dkernel, dbias = conv_backward(
            dzx.reshape((-1,) + dzx.shape[2:]), conv_in, not params.get(NO_INPUT_GRAD),
            params["use_bias"])
        grads = {"kernel": dkernel, "recurrent_kernel": rk["recurrent_kernel"]}
        if params["use_bias"]:
            grads["bias"] = dbias
        if dframes is None:
            return None, grads
        dx = dframes.reshape(x_shape)
        return (dx[:, ::-1] if params["go_backwards"] else dx), grads
