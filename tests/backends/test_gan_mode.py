"""Training mode "gan": alternating steps on both backends, the events, the evaluation."""
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends import protocol
from netdesigner.backends.jobs import Job, prepare, run_job
from netdesigner.graph import Graph, fileformat
from netdesigner.graph.gan import split_gan

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def tiny_gan(d_activation="sigmoid", **training) -> Graph:
    g = Graph()
    z = g.add_node("Input", {"shape": (3,)}, node_id="noise")
    h = g.add_node("Dense", {"units": 5, "activation": "tanh"}, node_id="g_hidden")
    o = g.add_node("Dense", {"units": 2}, node_id="g_out")
    g.connect(z, 0, h, 0)
    g.connect(h, 0, o, 0)
    x = g.add_node("Input", {"shape": (2,)}, node_id="sample")
    dh = g.add_node("Dense", {"units": 4, "activation": "tanh"}, node_id="d_hidden")
    do = g.add_node("Dense", {"units": 1, "activation": d_activation}, node_id="d_out")
    g.connect(x, 0, dh, 0)
    g.connect(dh, 0, do, 0)
    g.training.update({"mode": "gan", "dataset": "moons", "normalize": "standard",
                       "epochs": 2, "batch_size": 64, **training})
    return g


def run(graph, backend="numpy", **job) -> protocol.Recorder:
    rec = protocol.Recorder()
    run_job(Job(fileformat.dumps(graph), str(SAMPLES), backend, stats_every=0, **job), rec,
            lambda: False)
    assert not rec.of("error"), rec.of("traceback")
    return rec


def test_a_gan_run_streams_losses_generated_samples_and_an_evaluation(tmp_path):
    rec = run(tiny_gan(), weights_out=str(tmp_path / "w.npz"))
    kinds = [e["event"] for e in rec.events]
    assert kinds[:2] == ["train_begin", "generated"] and kinds[-2:] == ["train_end",
                                                                       "evaluation"]
    begin = rec.of("train_begin")[0]
    assert begin["samples"] == 350 and begin["steps_per_epoch"] == 6
    batches = rec.of("batch")
    assert len(batches) == 12 and set(batches[0]["metrics"]) == {"d_loss", "d_accuracy"}
    assert len(rec.of("epoch")) == 2
    generated = rec.of("generated")
    assert [e["epoch"] for e in generated] == [-1, 0, 1]
    assert np.shape(generated[0]["samples"]) == (300, 2) and np.shape(generated[0]["real"]) \
        == (300, 2)
    assert "real" not in generated[1]
    assert generated[1]["samples"] != generated[2]["samples"], "the generator learns"
    end = rec.end
    assert end["reason"] == "completed" and end["history"]["loss"] == [
        e["loss"] for e in rec.of("epoch")]
    (evaluation,) = rec.of("evaluation")
    report = evaluation["report"]
    assert evaluation["task"] == "gan" and evaluation["samples"] == 2 * 75
    assert 0 <= report["d_accuracy"] <= 1
    assert report["d_accuracy"] == pytest.approx(
        (report["d_accuracy_real"] + report["d_accuracy_fake"]) / 2)
    assert {"mean_offset", "std_ratio", "fidelity", "coverage"} <= set(report)
    saved = np.load(tmp_path / "w.npz")
    assert {"g_out/kernel", "d_out/kernel", "g_hidden/bias"} <= set(saved.files)


def test_a_run_is_seeded_and_starts_from_saved_weights(tmp_path):
    a = run(tiny_gan(), weights_out=str(tmp_path / "a.npz"))
    b = run(tiny_gan())
    assert [e["loss"] for e in a.of("batch")] == [e["loss"] for e in b.of("batch")]
    evaluated = run(tiny_gan(), weights_in=str(tmp_path / "a.npz"), evaluate_only=True)
    assert evaluated.end["epochs_run"] == 0
    assert evaluated.of("generated")[0]["samples"] == a.of("generated")[-1]["samples"]
    assert evaluated.of("evaluation")[0]["report"] == a.of("evaluation")[0]["report"]


def test_stop_ends_a_gan_run():
    rec = protocol.Recorder()
    run_job(Job(fileformat.dumps(tiny_gan(epochs=1000)), str(SAMPLES), "numpy"), rec,
            lambda: len(rec.of("batch")) >= 3)
    assert rec.end["reason"] == "stopped" and len(rec.of("batch")) == 3
    assert not rec.of("evaluation")


def test_the_discriminator_can_give_logits():
    rec = run(tiny_gan(d_activation="linear"))
    assert rec.end["reason"] == "completed" and rec.of("evaluation")


def test_a_design_that_is_not_a_gan_is_refused_naming_the_problem():
    g = fileformat.load(SAMPLES / "mlp_digits.graph")
    g.training["mode"] = "gan"
    rec = protocol.Recorder()
    run_job(Job(fileformat.dumps(g), str(SAMPLES), "numpy"), rec, lambda: False)
    (error,) = rec.of("error")
    assert "two separate networks" in error["message"]


def test_prepare_job_gives_the_parts_and_the_real_samples():
    prepared = prepare(tiny_gan(), str(SAMPLES))
    parts, split = prepared.network, prepared.split
    assert parts.noise_input == "noise" and split.x_train.shape == (350, 2)
    assert abs(split.x_train.mean()) < 0.1, "standardised (normalize)"
    assert split.y_train.ndim == 1, "labels kept as they are (ignored)"


def test_the_moons_sample_reaches_its_quality_target():
    """The sample's TARGETS entry checks the discriminator's accuracy; this checks the points."""
    rec = run(fileformat.load(SAMPLES / "gan_moons.graph"))
    report = rec.of("evaluation")[0]["report"]
    assert 0.35 <= report["d_accuracy"] <= 0.65, report
    assert report["mean_offset"] < 0.3 and 0.8 < report["std_ratio"] < 1.25, report
    assert report["fidelity"] < 1.5 and report["coverage"] < 2.0, report


# -- both backends, step by step ----------------------------------------------------------------

@pytest.mark.parametrize("d_activation", ["sigmoid", "linear"])
def test_one_numpy_step_matches_one_keras_step(d_activation):
    from netdesigner.backends.keras.gan import build_gan, make_step
    from netdesigner.backends.numpy.gan import GanSteps, NumpyGan
    from netdesigner.backends.numpy.model import compile_graph
    g = tiny_gan(d_activation, optimizer="adam", seed=3, clip_norm=0.0)
    g.training["optimizer_params"] = {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.999,
                                      "epsilon": 1e-7}
    parts = split_gan(g)
    settings = g.training
    ours = NumpyGan(compile_graph(parts.generator, settings),
                    compile_graph(parts.discriminator, settings), parts.logits)
    theirs = build_gan(parts, settings)
    theirs.set_weights(ours.get_weights())
    rng = np.random.default_rng(0)
    real = rng.normal(size=(8, 2)).astype(np.float32)
    zd, zg = (rng.normal(size=(8, 3)).astype(np.float32) for _ in range(2))
    steps, keras_step = GanSteps(ours, settings), make_step(theirs, settings)
    for _ in range(2):              # the second step also checks the optimizers' state
        mine = steps.step(real, zd, zg)
        other = [float(v) for v in keras_step(real, zd, zg)]
        assert np.allclose(mine, other, atol=1e-5), (mine, other)
    a, b = ours.get_weights(), theirs.get_weights()
    assert set(a) == set(b)
    for key in a:
        assert np.allclose(a[key], b[key], atol=1e-5), key
    assert not np.allclose(a["g_out/kernel"], compile_graph(
        parts.generator, settings).get_weights()["g_out/kernel"]), "the generator moved"


@pytest.mark.long
def test_the_moons_sample_trains_on_keras():
    rec = run(fileformat.load(SAMPLES / "gan_moons.graph"), "keras")
    report = rec.of("evaluation")[0]["report"]
    assert 0.35 <= report["d_accuracy"] <= 0.65, report
    assert report["fidelity"] < 1.5 and report["coverage"] < 2.0, report
