"""Finite-difference checks of every kernel's backward pass, in float64.

For a fixed random r, L = sum(y * r) over all outputs; backward(r) must give dL/dx and dL/dw.
Each checked entry is nudged by +-eps and (L+ - L-) / 2 eps compared with the analytic value.
"""
from __future__ import annotations

import numpy as np
import pytest

from netdesigner.backends.numpy import registry
from tests.backends.numpy.numpy_backend_cases import CASES, TRAINING_CASES, Case

EPS = 1e-6
MAX_ENTRIES = 40          # per array: a random subset keeps big arrays cheap


def loss(case: Case, xs, weights, rs, seed):
    outs, _ = registry.forward(case.type_id, xs, weights, case.params, case.training, rng=seed)
    return sum(float((o * r).sum()) for o, r in zip(outs, rs))


def check_array(name, array, analytic, f, rng):
    assert analytic is not None, f"no gradient for {name}"
    assert analytic.shape == array.shape, f"{name}: gradient shape {analytic.shape}"
    assert analytic.dtype == np.float64, f"{name}: gradient dtype {analytic.dtype}"
    flat = array.reshape(-1)                 # a view: nudging it nudges the array
    picks = np.arange(flat.size)
    if flat.size > MAX_ENTRIES:
        picks = rng.choice(flat.size, MAX_ENTRIES, replace=False)
    numeric = np.empty(len(picks))
    for n, i in enumerate(picks):
        old = flat[i]
        flat[i] = old + EPS
        up = f()
        flat[i] = old - EPS
        down = f()
        flat[i] = old
        numeric[n] = (up - down) / (2 * EPS)
    np.testing.assert_allclose(analytic.reshape(-1)[picks], numeric, rtol=1e-5, atol=1e-6,
                               err_msg=f"gradient of {name}")


def gradient_check(case: Case, seed=0):
    rng = np.random.default_rng(seed)
    xs = case.inputs(rng, np.float64)
    weights = case.weights(rng, np.float64)
    outs, cache = registry.forward(case.type_id, xs, weights, case.params, case.training,
                                   rng=seed)
    for o in outs:
        assert o.dtype == np.float64
    rs = [rng.normal(size=o.shape) for o in outs]
    dxs, grads = registry.backward(rs, cache)
    assert len(dxs) == len(xs)
    state = registry.get(case.type_id).state
    assert set(grads) == set(weights) - set(state)
    f = lambda: loss(case, xs, weights, rs, seed)   # noqa: E731
    for i, (x, dx) in enumerate(zip(xs, dxs)):
        if i in case.ids:
            assert dx is None                # token ids have no gradient
            continue
        check_array(f"input {i}", x, dx, f, rng)
    for name in grads:
        check_array(name, weights[name], grads[name], f, rng)


@pytest.mark.parametrize("case", CASES + TRAINING_CASES, ids=str)
def test_gradients_match_finite_differences(case):
    gradient_check(case)


def test_unused_outputs_may_have_no_gradient():
    case = next(c for c in CASES if c.type_id == "LSTM" and c.params.get("return_state"))
    rng = np.random.default_rng(1)
    xs, weights = case.inputs(rng, np.float64), case.weights(rng, np.float64)
    outs, cache = registry.forward("LSTM", xs, weights, case.params)
    dxs, _ = registry.backward([np.ones_like(outs[0]), None, None], cache)
    outs2, cache2 = registry.forward("LSTM", xs, weights, case.params)
    dxs2, _ = registry.backward([np.ones_like(outs[0])] + [np.zeros_like(o) for o in outs[1:]],
                                cache2)
    np.testing.assert_array_equal(dxs[0], dxs2[0])
