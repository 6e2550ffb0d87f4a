"""The NumPy augmentation layers while training: what each transform does to an image, seeded
draws, and the identity at inference (Keras's random draws are not reproduced: the gradient and
parity tables check the rest)."""
from __future__ import annotations

import numpy as np
import pytest

from netdesigner.backends.numpy import registry
from netdesigner.backends.numpy.layers.preprocessing import draw_matrices

AUGMENTATION = ("RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom")


def run(type_id, x, params, training=True, rng=0):
    (y,), cache = registry.forward(type_id, [x], {}, params, training=training, rng=rng)
    return y, cache["cache"]


def images(n=16, h=7, w=6, c=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, h, w, c)).astype(np.float32)


@pytest.mark.parametrize("type_id", AUGMENTATION)
def test_identity_at_inference_and_seeded_draws_while_training(type_id):
    x = images()
    y, _ = run(type_id, x, {}, training=False)
    assert y is x
    a, _ = run(type_id, x, {}, rng=3)
    b, _ = run(type_id, x, {}, rng=3)
    c, _ = run(type_id, x, {}, rng=4)
    assert a.shape == x.shape and a.dtype == x.dtype
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, x)


def test_flip_is_an_exact_mirror_of_each_sample_about_half_the_time():
    x = images(n=400)
    y, (horizontal, vertical) = run("RandomFlip", x, {"mode": "horizontal_and_vertical"})
    for i in range(len(x)):
        want = x[i]
        if horizontal[i]:
            want = want[:, ::-1]
        if vertical[i]:
            want = want[::-1]
        np.testing.assert_array_equal(y[i], want)
    assert 150 < horizontal.sum() < 250 and 150 < vertical.sum() < 250
    y, (horizontal, vertical) = run("RandomFlip", x, {"mode": "horizontal"})
    assert not vertical.any() and horizontal.any()


def test_translation_moves_the_content_by_the_drawn_amount():
    x = images(n=32, h=9, w=8)
    p = {"height_factor": 0.3, "width_factor": 0.3, "interpolation": "nearest",
         "fill_mode": "constant"}
    y, cache = run("RandomTranslation", x, p)
    dy, dx = (np.rint(cache["draws"][k]).astype(int) for k in ("dy", "dx"))
    assert np.abs(dy).max() > 0 and np.abs(dx).max() > 0
    for i in range(len(x)):
        moved = np.zeros_like(x[i])
        h, w = x.shape[1:3]
        src = x[i][max(0, -dy[i]):h - max(0, dy[i]), max(0, -dx[i]):w - max(0, dx[i])]
        moved[max(0, dy[i]):max(0, dy[i]) + src.shape[0],
              max(0, dx[i]):max(0, dx[i]) + src.shape[1]] = src
        np.testing.assert_array_equal(y[i], moved)     # what came in from outside is 0


def test_rotation_by_a_half_turn_and_zoom_keep_the_centre():
    x = images(n=4, h=5, w=5)
    rng = np.random.default_rng(0)
    m, _ = draw_matrices("RandomRotation", {"factor": 0.0}, 4, 5, 5, rng)
    np.testing.assert_array_equal(m[:, :, :2], np.broadcast_to(np.eye(2), (4, 2, 2)))
    # a zoom scales about the centre: the centre pixel of an odd-sized image stays put
    y, cache = run("RandomZoom", x, {"height_factor": 0.5})
    np.testing.assert_allclose(y[:, 2, 2], x[:, 2, 2], rtol=1e-6)
    assert np.array_equal(cache["draws"]["zoom_y"], cache["draws"]["zoom_x"])   # aspect kept
    y, cache = run("RandomRotation", x, {"factor": 0.5})
    np.testing.assert_allclose(y[:, 2, 2], x[:, 2, 2], rtol=1e-6)
    assert np.abs(cache["draws"]["angle"]).max() <= np.pi


def test_reflect_fill_reads_mirrored_pixels_not_zeros():
    x = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5, 1)
    y, cache = run("RandomTranslation", x, {"height_factor": 0.0, "width_factor": 0.4,
                                            "interpolation": "nearest"}, rng=1)
    assert (y != 0).all()              # reflect: every pixel is one of the image's
    assert set(np.unique(y)) <= set(np.unique(x))


def image_design():
    from netdesigner.graph import Graph
    g = Graph()
    g.add_node("Input", {"shape": (8, 8, 1)}, node_id="x")
    prev = "x"
    for t, p in [("Normalization", {}), ("RandomFlip", {}), ("RandomRotation", {"factor": 0.1}),
                 ("RandomTranslation", {}), ("RandomZoom", {}), ("Flatten", {}),
                 ("Dense", {"units": 2, "activation": "softmax"})]:
        n = g.add_node(t, p, node_id=t.lower())
        g.connect(prev, 0, n, 0)
        prev = n
    g.training.update({"epochs": 2, "batch_size": 16, "loss": "categorical_crossentropy"})
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (48, 8, 8, 1)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 48)]
    return g, (x, y, x[:16], y[:16])


def test_a_design_with_every_preprocessing_layer_trains_and_predicts_without_them():
    from netdesigner.backends.numpy.train import fit, predict
    g, split = image_design()
    result = fit(g, split, stats_every=0)
    assert result.reason == "completed" and np.isfinite(result.history["loss"]).all()
    x = split[0]
    model = result.model
    w = model.get_weights()
    np.testing.assert_allclose(w["normalization/mean"], [x.mean()], rtol=1e-5)
    # inference: the augmentation layers pass the image through, so the prediction is the
    # normalised image through the Dense layer
    flat = ((x - w["normalization/mean"]) / np.sqrt(w["normalization/variance"])).reshape(48, -1)
    logits = flat @ w["dense/kernel"] + w["dense/bias"]
    want = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(predict(model, x), want / want.sum(1, keepdims=True), atol=1e-5)


@pytest.mark.long
def test_the_keras_backend_trains_it_too_with_the_same_fitted_statistics():
    from netdesigner.backends.keras.train import fit
    from netdesigner.backends.keras.weights import get_weights
    from netdesigner.backends.numpy.train import fit as numpy_fit
    g, split = image_design()
    result = fit(g, split, stats_every=0)
    assert result.reason == "completed" and np.isfinite(result.history["loss"]).all()
    ours = numpy_fit(g, split, stats_every=0).model.get_weights()
    theirs = get_weights(result.model)
    for k in ("normalization/mean", "normalization/variance"):
        np.testing.assert_allclose(theirs[k], ours[k], rtol=1e-5)
