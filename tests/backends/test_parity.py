"""The parity inspector agrees on every sample and catches a broken backward function."""
import dataclasses
from pathlib import Path

import pytest

from netdesigner.backends import parity
from netdesigner.backends.numpy import registry
from netdesigner.graph import fileformat

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples").glob("*.graph"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_backends_agree_on_every_sample(path):
    report = parity.check(fileformat.load(path))
    assert report.ok, "\n" + report.table()
    assert all(n.weights for n in report.nodes if n.type in ("Dense", "Conv2D", "LSTM"))


def test_a_perturbed_backward_function_is_flagged(monkeypatch):
    dense = registry.KERNELS["Dense"]

    def off_by_one_percent(dy, cache):
        dx, grads = dense.backward(dy, cache)
        return dx, {k: g * 1.01 if k == "kernel" else g for k, g in grads.items()}

    monkeypatch.setitem(registry.KERNELS, "Dense",
                        dataclasses.replace(dense, backward=off_by_one_percent))
    report = parity.check(fileformat.load(SAMPLES[0].parent / "mlp_digits.graph"))
    assert not report.ok
    assert {n.node for n in report.failed()} == {"dense_1", "dense_2"}
    assert "OVER TOLERANCE" in report.table()


def test_trained_weights_are_checked_too(tmp_path):
    from netdesigner.backends.numpy.model import compile_graph
    from netdesigner.backends.numpy.weights import save_npz
    g = fileformat.load(SAMPLES[0].parent / "cnn_digits.graph")
    model = compile_graph(g, seed=7)
    for w in model.weights["conv2d_1"].values():
        w *= 3.0                                  # not the initial weights any more
    save_npz(model, tmp_path / "w.npz")
    assert parity.check(g, weights=str(tmp_path / "w.npz")).ok


def test_check_command_passes_a_sample_and_fails_a_broken_layer(monkeypatch, capsys):
    from netdesigner.designer.cli import main
    sample = str(SAMPLES[0].parent / "cnn_digits.graph")
    assert main(["check", sample, "--random"]) == 0
    out = capsys.readouterr().out
    assert "All nodes agree." in out and "conv2d_1" in out
    conv = registry.KERNELS["Conv2D"]

    def wrong_bias(dy, cache):
        dx, grads = conv.backward(dy, cache)
        return dx, {k: g + 0.01 if k == "bias" else g for k, g in grads.items()}

    monkeypatch.setitem(registry.KERNELS, "Conv2D", dataclasses.replace(conv, backward=wrong_bias))
    assert main(["check", sample, "--random"]) == 1
    out = capsys.readouterr().out
    assert "2 node(s) over tolerance: conv2d_1, conv2d_2" in out


def test_tolerance_scales_with_the_tensor_and_still_catches_a_mismatch():
    """float32 noise of 1.8e-5 on a gradient of order 0.1 (seen on an imported SeparableConv2D)
    passes; a 1 % error in one entry does not. Below ATOL everything agrees, as before."""
    import numpy as np
    rng = np.random.default_rng(0)
    grad = rng.uniform(-0.1, 0.1, (64, 32))
    noisy = grad + rng.choice([-1.8e-5, 1.8e-5], grad.shape)
    assert parity._within(*parity._diff(grad, noisy))
    wrong = grad.copy()
    wrong[3, 4] *= 1.01
    wrong[3, 4] += 0.01 * np.abs(grad).max()
    assert not parity._within(*parity._diff(grad, wrong))
    big = grad * 100                           # order 10: 1e-4 of noise is float32's lot ...
    assert parity._within(*parity._diff(big, big + 1e-3))
    assert not parity._within(*parity._diff(big, big * 1.05))          # ... 5 % is not
    assert not parity._within(*parity._diff(grad, grad[:, :16]))           # shapes differ
