"""Scaling out: two worker processes under MultiWorkerMirroredStrategy (127.0.0.1, CPU) end
with the same weights; MirroredStrategy over two replicas trains like one device."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT, SAMPLES

HERE = Path(__file__).parent


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _env(**extra) -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
            "PYTHONPATH": str(ROOT), **extra}


def _two_workers(graph_file: Path, tmp_path: Path, epochs: int) -> list[dict]:
    """Train `graph_file` in two worker processes; each one's events (multiworker_job.py)."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        procs.append(subprocess.Popen(
            [sys.executable, str(HERE / "multiworker_job.py"), str(graph_file),
             str(tmp_path / f"w{i}.npz"), str(tmp_path / f"e{i}.json"), str(epochs)],
            env=_env(TF_CONFIG=config), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True))
    try:
        outputs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    return [json.loads((tmp_path / f"e{i}.json").read_text()) for i in range(2)]


@pytest.mark.long              # two TensorFlow processes: ~25 s of the 2-core CI
def test_two_workers_reach_the_same_weights(tmp_path):
    events = _two_workers(SAMPLES / "mlp_digits.graph", tmp_path, 2)
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert sorted(w0.files) == sorted(w1.files) == ["dense_1/bias", "dense_1/kernel",
                                                     "dense_2/bias", "dense_2/kernel"]
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key])
    for i, e in enumerate(events):
        assert e["reason"] == "completed"
        assert e["device"].startswith(f"MultiWorkerMirroredStrategy: worker {i} of 2, "
                                      f"2 replicas")
        assert e["stats"] > 0
    epochs = [[x for x in e["events"] if x["event"] == "epoch"] for e in events]
    assert len(epochs[0]) == 2
    assert [x["loss"] for x in epochs[0]] == [x["loss"] for x in epochs[1]]
    assert epochs[0][-1]["loss"] < epochs[0][0]["loss"]
    assert events[0]["test"] == events[1]["test"]
    assert events[0]["test"]["accuracy"] == pytest.approx(events[0]["predicted_accuracy"])


@pytest.mark.long              # two TensorFlow processes
def test_two_workers_train_on_a_streamed_image_folder_each_reading_its_share(tmp_path):
    from tests.backends.streaming_data import image_folder, mlp
    from netdesigner.graph import fileformat
    image_folder(tmp_path / "shapes", 300, classes=3, size=8)
    graph = mlp((8, 8, 1), 3, {"dataset": "shapes", "streaming": "on", "batch_size": 32,
                               "normalize": "minmax", "seed": 3,
                               "optimizer_params": {"learning_rate": 0.01}})
    (tmp_path / "stream.graph").write_text(fileformat.dumps(graph))
    events = _two_workers(tmp_path / "stream.graph", tmp_path, 3)
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key])
    epochs = [[x for x in e["events"] if x["event"] == "epoch"] for e in events]
    assert [x["loss"] for x in epochs[0]] == [x["loss"] for x in epochs[1]]
    assert epochs[0][-1]["loss"] < epochs[0][0]["loss"]
    assert events[0]["test"] == events[1]["test"]
    assert events[0]["test"]["accuracy"] == pytest.approx(events[0]["predicted_accuracy"])
    for e in events:                # each worker read half of every batch, not all of it
        assert e["reason"] == "completed"
        share = e["read"] / (3 * e["n_train"])
        assert 0.45 < share < 0.6, e["read"]


@pytest.mark.long
def test_mirrored_over_two_replicas_trains_like_one_device(tmp_path):
    out = tmp_path / "events.json"
    done = subprocess.run([sys.executable, str(HERE / "mirrored_job.py"),
                           str(SAMPLES / "mlp_digits.graph"), str(out), "2"],
                          env=_env(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["mirrored"]["device"] == "MirroredStrategy over 2 replica(s): CPU:0, CPU:1"
    assert result["mirrored"]["stats"] == result["none"]["stats"] > 0
    # the same batches, split between the replicas: the gradients are summed in another order,
    # so the runs part by float32 rounding only (Adam amplifies it a little over 80 steps)
    first_one, first_two = result["none"]["epochs"][0], result["mirrored"]["epochs"][0]
    assert first_two["loss"] == pytest.approx(first_one["loss"], rel=1e-5)
    for one, two in zip(result["none"]["epochs"], result["mirrored"]["epochs"]):
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-3)
        assert two["val_loss"] == pytest.approx(one["val_loss"], rel=1e-3)
