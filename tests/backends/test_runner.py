"""The runner: preparing a job from a design, and the project-wide training options."""
from pathlib import Path

from netdesigner.backends.jobs import prepare
from netdesigner.backends.weights_file import weights_path
from netdesigner.graph import fileformat

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_global_l1_l2_reach_every_layer_with_weights_and_a_larger_own_value_wins():
    g = fileformat.load(SAMPLES / "cnn_digits.graph")
    g.set_param("dense_1", "l2", 0.5)
    g.set_training("l2", 0.01)
    prepared = prepare(g, str(SAMPLES))
    flat, split = prepared.network, prepared.split
    assert flat.node("conv2d_1").params["l2"] == 0.01
    assert flat.node("dense_2").params["l2"] == 0.01
    assert flat.node("dense_1").params["l2"] == 0.5
    assert "l2" not in flat.node("dropout_1").params
    assert g.node("conv2d_1").params["l2"] == 0.0, "the design itself is unchanged"
    assert split.x_train.shape[1:] == (8, 8, 1)


def test_weights_live_beside_the_project():
    assert weights_path("/a/net.graph") == Path("/a/net.weights.npz")


def test_a_job_option_its_backend_lacks_is_refused_by_name():
    import pytest

    from netdesigner.backends.jobs import fit_options
    with pytest.raises(ValueError, match="numpy backend has no option strategy"):
        fit_options("numpy", {"strategy": "mirrored"}, {})
    assert fit_options("keras", {"strategy": "mirrored"}, {"device": "cpu"}) == {
        "device": "cpu", "strategy": "mirrored"}
