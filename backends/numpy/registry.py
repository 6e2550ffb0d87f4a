"""Which NumPy kernel computes which catalog layer type.

Every layer module declares one small class per layer type and registers it here:

    @register("Dense")
    class Dense:
        def weights(params, input_shape, rng, dtype):   # -> {name: array}, in Keras's order
        def forward(x, weights, params, training):      # -> (y, cache)
        def backward(dy, cache):                        # -> (dx, {name: gradient})

The class is only a namespace that keeps the three functions of one layer together; nothing is
ever instantiated. Conventions, shared by every kernel:

* Arrays carry the batch axis first, channels last, as in Keras.
* A layer with one input port receives one array `x` (and returns one `dx`); a layer with
  several input ports (Add, Attention, Sampling) receives the list `xs` and returns a list
  `dxs`. `input_shape` in `weights` follows the same rule and leaves out the batch axis, as the
  catalog's shapes do.
* A layer whose params give it one output returns one array `y`; one with several outputs
  (an LSTM with `return_state`) returns a list and its `backward` receives a list of `dy`s.
* `weights` is a dict {name: array} in the order Keras's `layer.get_weights()` lists them, so
  `keras_layer.set_weights(list(weights.values()))` loads them. The gradients returned by
  `backward` use the same names; weights listed in `state` (BatchNormalization's moving
  statistics) get no gradient. Their new values, when a training step changes them, are
  returned in `cache["updates"]`.
* A layer that adds a term to the loss (Sampling's KL divergence, ActivityRegularization) also
  defines `added_loss(cache, params) -> (value, dx)`: the term's value on the last forward pass
  and its gradient with respect to the layer's input(s) (a list for several inputs). `backward`
  stays the pure gradient of the layer's output, so it can be checked on its own; the compiled
  model adds the term to the loss and its gradient to the input's.
* Layers that draw random numbers (Dropout, GaussianNoise, Sampling, dropout inside RNNs and
  attention) are registered with `random=True` and take a keyword argument `rng` (a
  `numpy.random.Generator`).

* A compiled model that needs no gradient for a layer's inputs (the first layer after the
  Input, in training) adds `NO_INPUT_GRAD: True` to the params it passes to `forward`; kernels
  whose input gradient is costly (Dense, the convolutions) then return None as `dx`. Every
  other kernel may ignore it.

`forward`, `backward` and `make_weights` at the bottom of this module call a kernel in one
uniform way (inputs and outputs always as lists, missing params filled from the catalog's
defaults); that is what a whole-graph compiler uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from netdesigner.graph import CATALOG


@dataclass(frozen=True)
class Kernel:
    type_id: str
    forward: Callable
    backward: Callable
    weights: Callable | None = None   # (params, input_shape(s), rng, dtype) -> {name: array}
    many_inputs: bool = False         # forward takes a list of inputs
    random: bool = False              # forward takes rng=
    state: tuple = ()                 # weights updated by forward, not by gradients
    added_loss: Callable | None = None   # (cache, params) -> (loss term, its input gradient)


KERNELS: dict[str, Kernel] = {}

NO_INPUT_GRAD = "_no_input_grad"    # params flag: backward may return None for the input

# Catalog types that have no NumPy kernel, with the reason (shown to the student).
NOT_SUPPORTED: dict[str, str] = {
    "Block": "not a layer: the compiler expands a Block into the layers of its definition",
}


def register(type_id: str, *, random: bool = False, state: tuple = ()):
    """Class decorator: register the forward/backward (and weights) of one catalog layer type."""
    if type_id not in CATALOG:
        raise KeyError(f"cannot register a NumPy kernel for unknown layer type {type_id!r}")
    type_id = CATALOG.resolve(type_id)

    def decorate(cls):
        if type_id in KERNELS:
            raise ValueError(f"a NumPy kernel for {type_id!r} is registered twice")
        if type_id in NOT_SUPPORTED:
            raise ValueError(f"{type_id!r} is listed as not supported: {NOT_SUPPORTED[type_id]}")
        many = CATALOG[type_id].max_inputs != 1 and CATALOG[type_id].min_inputs != 0
        KERNELS[type_id] = Kernel(type_id, cls.forward, cls.backward,
                                  getattr(cls, "weights", None), many, random, tuple(state),
                                  getattr(cls, "added_loss", None))
        return cls
    return decorate


def get(type_id: str) -> Kernel:
    """The kernel of a layer type; a KeyError that says why when there is none."""
    if type_id not in CATALOG:
        raise KeyError(f"unknown layer type {type_id!r}")
    type_id = CATALOG.resolve(type_id)
    if type_id in NOT_SUPPORTED:
        raise KeyError(f"the NumPy backend cannot run {type_id}: {NOT_SUPPORTED[type_id]}")
    if type_id not in KERNELS:
        raise KeyError(f"no NumPy kernel is registered for {type_id!r}")
    return KERNELS[type_id]


def full_params(type_id: str, params: dict | None = None) -> dict:
    """The catalog's defaults overlaid with `params`, each value brought into canonical form."""
    declared = CATALOG[type_id].params
    out = declared.defaults()
    for name, value in (params or {}).items():
        out[name] = declared[name].coerce(value) if name in declared else value
    return out


# -- uniform calls (for the compiler) ---------------------------------------------------------

def make_weights(type_id: str, params: dict, input_shapes: list, rng=None,
                 dtype=np.float32) -> dict:
    """Fresh weights for a layer; input shapes leave out the batch axis. {} if it has none."""
    kernel = get(type_id)
    if kernel.weights is None:
        return {}
    rng = np.random.default_rng(rng)
    shapes = [tuple(s) for s in input_shapes]
    return kernel.weights(full_params(type_id, params), shapes if kernel.many_inputs else shapes[0],
                          rng, np.dtype(dtype))


def forward(type_id: str, inputs: list, weights: dict, params: dict, training: bool = False,
            rng=None):
    """Run a layer on a list of inputs: (list of outputs, cache for `backward`)."""
    kernel = get(type_id)
    p = full_params(type_id, params)
    x = list(inputs) if kernel.many_inputs else inputs[0]
    extra = {"rng": np.random.default_rng(rng)} if kernel.random else {}
    y, cache = kernel.forward(x, weights, p, training, **extra)
    many = isinstance(y, list)
    outputs = y if many else [y]
    return outputs, {"kernel": kernel, "cache": cache, "many_outputs": many,
                     "like": [(o.shape, o.dtype) for o in outputs]}


def backward(douts: list, cache: dict):
    """Gradients of one layer: (list of input gradients, {weight name: gradient}).

    An output nobody used may have None as its gradient. The input gradient of an integer
    input (token ids of an Embedding) is None.
    """
    douts = [np.zeros(shape, dtype) if d is None else d
             for d, (shape, dtype) in zip(douts, cache["like"])]
    kernel = cache["kernel"]
    dx, grads = kernel.backward(douts if cache["many_outputs"] else douts[0], cache["cache"])
    return (list(dx) if kernel.many_inputs else [dx]), grads


def updates(cache: dict) -> dict:
    """New values of state weights (BatchNormalization's moving statistics) after `forward`."""
    inner = cache["cache"]
    return dict(inner.get("updates", {})) if isinstance(inner, dict) else {}


def coverage() -> dict:
    """Every catalog type id -> 'kernel' or the reason it has none ('missing' if neither)."""
    return {t: ("kernel" if t in KERNELS else NOT_SUPPORTED.get(t, "missing"))
            for t in CATALOG.ids()}
