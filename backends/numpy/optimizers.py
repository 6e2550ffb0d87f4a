"""Optimizers, with Keras 3's update rules and defaults, plus L1/L2 penalties and clipping.

An optimizer updates one array of weights in place from one array of gradients of the same
shape; every rule is element-wise, so the compiled model hands it all its trainable weights at
once, as one flat array (`backends.numpy.model`). The formulas follow `keras/src/optimizers`
line by line, in the weights' dtype, so that a float32 run matches Keras to rounding:

    SGD       m = momentum*m - lr*g;  w += m  (Nesterov: w += momentum*m - lr*g);  w -= lr*g
    Adagrad   a += g^2 (a starts at 0.1);  w -= lr*g / sqrt(a + eps)
    RMSprop   v = rho*v + (1-rho)*g^2;  s = lr*g / sqrt(v + eps);  m = momentum*m + s; w -= m
    Adam      m += (g-m)(1-b1);  v += (g^2-v)(1-b2);
              w -= m * lr*sqrt(1-b2^t)/(1-b1^t) / (sqrt(v) + eps)
    AdamW     w -= w*wd*lr first (decoupled, every weight), then Adam

`clip_by_norm` is Keras's `clipnorm` (each weight's gradient on its own, `tf.clip_by_norm`), and
`penalty` the L1L2 regulariser (l1*sum|w| + l2*sum w^2, gradient l1*sign(w) + 2*l2*w).
"""
from __future__ import annotations

import numpy as np

from netdesigner.graph.training import OPTIMIZERS


class Optimizer:
    """Base: `step(weights, grads)` updates `weights` in place; `iterations` counts steps."""
    name = ""

    def __init__(self, learning_rate=0.01, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self._state: dict = {}

    def _c(self, value):
        """A constant in the weights' dtype, as `ops.cast(value, variable.dtype)`."""
        return self.dtype.type(value)

    def _slot(self, name, like, fill=0.0):
        s = self._state.get(name)
        if s is None or s.shape != like.shape:
            s = np.full(like.shape, fill, dtype=like.dtype)
            self._state[name] = s
        return s

    def _tmp(self, name, like):
        return self._slot("_tmp_" + name, like)

    def step(self, weights: np.ndarray, grads: np.ndarray) -> None:
        self._update(weights, grads)
        self.iterations += 1

    def _update(self, w, g):
        raise NotImplementedError

    def state(self) -> dict:
        """The optimizer's variables (slots), for saving or inspection."""
        return {k: v for k, v in self._state.items() if not k.startswith("_tmp_")}


class SGD(Optimizer):
    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, dtype=np.float32):
        super().__init__(learning_rate, dtype)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _update(self, w, g):
        lr = self._c(self.learning_rate)
        t = self._tmp("a", w)
        np.multiply(g, lr, out=t)                       # gradient * learning_rate
        if self.momentum == 0:
            w -= t
            return
        m = self._slot("momentum", w)
        mom = self._c(self.momentum)
        m *= mom
        m -= t                                          # m = m*momentum - g*lr
        if self.nesterov:
            u = self._tmp("b", w)
            np.multiply(m, mom, out=u)
            u -= t
            w += u
        else:
            w += m


class Adagrad(Optimizer):
    name = "adagrad"

    def __init__(self, learning_rate=0.001, epsilon=1e-7, initial_accumulator_value=0.1,
                 dtype=np.float32):
        super().__init__(learning_rate, dtype)
        self.epsilon = float(epsilon)
        self.initial_accumulator_value = float(initial_accumulator_value)

    def _update(self, w, g):
        a = self._slot("accumulator", w, self.initial_accumulator_value)
        t, u = self._tmp("a", w), self._tmp("b", w)
        np.multiply(g, g, out=t)
        a += t
        np.add(a, self._c(self.epsilon), out=u)
        np.sqrt(u, out=u)
        np.multiply(self._c(self.learning_rate), g, out=t)
        t /= u
        w -= t


class RMSprop(Optimizer):
    name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 dtype=np.float32):
        super().__init__(learning_rate, dtype)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)

    def _update(self, w, g):
        v = self._slot("velocity", w)
        t, u = self._tmp("a", w), self._tmp("b", w)
        v *= self._c(self.rho)
        np.multiply(g, g, out=t)
        t *= self._c(1 - self.rho)
        v += t                                          # rho*v + (1-rho)*g^2
        np.add(v, self._c(self.epsilon), out=u)
        np.sqrt(u, out=u)
        np.multiply(self._c(self.learning_rate), g, out=t)
        t /= u                                          # increment
        if self.momentum > 0:
            m = self._slot("momentum", w)
            m *= self._c(self.momentum)
            m += t
            w -= m
        else:
            w -= t


class Adam(Optimizer):
    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 dtype=np.float32):
        super().__init__(learning_rate, dtype)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, w, g):
        c = self._c
        step = c(self.iterations + 1)
        b1_power = np.power(c(self.beta_1), step)
        b2_power = np.power(c(self.beta_2), step)
        alpha = c(self.learning_rate) * np.sqrt(c(1) - b2_power) / (c(1) - b1_power)
        m, v = self._slot("momentum", w), self._slot("velocity", w)
        t, u = self._tmp("a", w), self._tmp("b", w)
        np.subtract(g, m, out=t)
        t *= c(1 - self.beta_1)
        m += t
        np.multiply(g, g, out=t)
        t -= v
        t *= c(1 - self.beta_2)
        v += t
        np.sqrt(v, out=u)
        u += c(self.epsilon)
        np.multiply(m, alpha, out=t)
        t /= u
        w -= t


class AdamW(Adam):
    name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, dtype=np.float32):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, dtype)
        self.weight_decay = float(weight_decay)

    def _update(self, w, g):
        if self.weight_decay:
            t = self._tmp("decay", w)
            np.multiply(w, self._c(self.weight_decay), out=t)
            t *= self._c(self.learning_rate)
            w -= t                                      # w - w*wd*lr
        super()._update(w, g)


CLASSES = {c.name: c for c in (SGD, Adagrad, RMSprop, Adam, AdamW)}


def make(name: str, params: dict | None = None, dtype=np.float32) -> Optimizer:
    """An optimizer from the training settings' name and parameters (declared defaults fill
    what is not given; `graph.training.OPTIMIZERS` declares them)."""
    if name not in CLASSES:
        raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(CLASSES)}")
    values = dict(OPTIMIZERS[name].params.defaults()) if name in OPTIMIZERS else {}
    unknown = sorted(set(params or {}) - set(values)) if name in OPTIMIZERS else []
    if unknown:
        raise ValueError(f"the {name} optimizer has no parameter {', '.join(map(repr, unknown))}"
                         f" (it takes {', '.join(values)})")
    values.update(params or {})
    return CLASSES[name](dtype=dtype, **values)


def from_settings(settings: dict, dtype=np.float32) -> Optimizer:
    return make(settings.get("optimizer", "adam"), settings.get("optimizer_params") or {}, dtype)


# -- clipping and penalties -----------------------------------------------------------------------

def clip_by_norm(grad: np.ndarray, clip_norm: float) -> np.ndarray:
    """`tf.clip_by_norm`: scale the gradient down to `clip_norm` when its L2 norm is larger
    (in place; returns it)."""
    dtype = grad.dtype
    l2sum = np.sum(grad * grad, dtype=dtype)
    norm = np.sqrt(l2sum) if l2sum > 0 else l2sum
    c = np.asarray(clip_norm, dtype)
    np.multiply(grad, c, out=grad)                  # values * clip_norm / max(norm, clip_norm)
    np.divide(grad, np.maximum(norm, c), out=grad)
    return grad


def penalty(w: np.ndarray, l1: float, l2: float) -> float:
    """Keras's L1L2 regulariser: l1 * sum(|w|) + l2 * sum(w^2)."""
    dtype = w.dtype
    value = np.asarray(0, dtype)
    if l1:
        value = value + np.asarray(l1, dtype) * np.sum(np.abs(w), dtype=dtype)
    if l2:
        value = value + np.asarray(l2, dtype) * np.sum(w * w, dtype=dtype)
    return float(value)


def add_penalty_grad(grad: np.ndarray, w: np.ndarray, l1: float, l2: float) -> None:
    """grad += l1 * sign(w) + 2 * l2 * w (in place)."""
    dtype = w.dtype
    if l1:
        grad += np.asarray(l1, dtype) * np.sign(w)
    if l2:
        grad += np.asarray(2 * l2, dtype) * w
