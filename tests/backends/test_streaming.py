"""Data sets streamed from disk (backends/datasources.py): the same batches as in memory, the
same sentences for faults, and memory that does not grow with the data set."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends import data, datasources, jobs
from netdesigner.backends.data import DataError, Rows
from tests.backends.streaming_data import csv_file, image_folder, mlp

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    image_folder(root / "shapes", 150, classes=3, size=8)
    csv_file(root / "table.csv", 400, features=4)
    return root


def trained_weights(root, name, shape, backend, streaming, normalize):
    settings = {"dataset": name, "streaming": streaming, "epochs": 2, "batch_size": 16,
                "normalize": normalize, "seed": 5}
    prepared = jobs.prepare(mlp(shape, 3, settings), root)
    assert isinstance(prepared.split.x_train, Rows) == (streaming == "on")
    outcome = jobs.train(prepared, backend, lambda e: None, stats_every=3)
    model = outcome.result.model
    weights = model.get_weights() if backend == "keras" else [np.array(model.flat)]
    return prepared, outcome, weights


CASES = [("shapes", (8, 8, 1), "standard"), ("table.csv", (4,), "minmax"),
         ("table.csv", (4,), "standard")]


@pytest.mark.parametrize("name,shape,normalize", CASES)
def test_numpy_backend_trains_exactly_the_same_weights_streamed(small, name, shape, normalize):
    memory, run_m, w_m = trained_weights(small, name, shape, "numpy", "off", normalize)
    stream, run_s, w_s = trained_weights(small, name, shape, "numpy", "on", normalize)
    assert memory.split.summary() == stream.split.summary()
    np.testing.assert_array_equal(np.asarray(stream.split.x_val), memory.split.x_val)
    np.testing.assert_array_equal(np.asarray(stream.split.y_test), memory.split.y_test)
    for a, b in zip(w_m, w_s):
        np.testing.assert_array_equal(a, b)
    assert run_m.result.history == run_s.result.history
    assert run_s.evaluation["metrics"]["accuracy"] == pytest.approx(
        run_m.evaluation["metrics"]["accuracy"])


@pytest.mark.parametrize("name,shape,normalize", CASES[:2])
def test_keras_backend_trains_the_same_weights_streamed(small, name, shape, normalize):
    _, run_m, w_m = trained_weights(small, name, shape, "keras", "off", normalize)
    _, run_s, w_s = trained_weights(small, name, shape, "keras", "on", normalize)
    for a, b in zip(w_m, w_s):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert run_s.evaluation["loss"] == pytest.approx(run_m.evaluation["loss"], rel=1e-5)


def test_streaming_auto_streams_only_big_data_sets(small, monkeypatch):
    assert isinstance(datasources.load("shapes", small).x, np.ndarray)
    assert isinstance(datasources.load("digits", small, streaming="on").x, np.ndarray)
    monkeypatch.setattr(datasources, "STREAM_BYTES", 1000)
    assert isinstance(datasources.load("shapes", small).x, Rows)
    assert isinstance(datasources.load("table.csv", small).x, Rows)
    assert isinstance(datasources.load("shapes", small, streaming="off").x, np.ndarray)
    with pytest.raises(DataError, match="streaming must be one of auto, on, off"):
        datasources.load("shapes", small, streaming="yes")


def test_streamed_csv_faults_name_the_line_and_column(tmp_path):
    cases = {"a,b,label\n1,2,x\n3,oops,y\n": "line 3, column 'b': 'oops' is not a number",
             "a,b,label\n1,2,x\n\n3,4\n": "line 4 has 2 values, the header has 3",
             "a,b,label\n1,2,x\n3,inf,y\n": "line 3, column 'b': inf is not a finite number",
             "a,b,label\n1,2,1\n3,4,word\n5,6,2\n": "line 3, column 'label': 'word' is not a "
                                                  "number, but the other labels are",
             "a,b,label\n": "needs a header line and at least one row"}
    for k, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"f{k}.csv"
        path.write_text(text)
        with pytest.raises(DataError, match=message.replace("(", r"\(")):
            datasources.load(str(path), streaming="on")
    # a value's place, asked after loading (blank lines counted)
    path = tmp_path / "late.csv"
    path.write_text("a,b,label\n\n1,2,1\n\n3,4,1.5\n")
    ds = datasources.load(str(path), streaming="on")
    with pytest.raises(DataError, match=f"{path}: line 5, column 'label': the label 1.5"):
        data.targets_for_loss(ds, "sparse_categorical_crossentropy")


def test_a_broken_image_is_named_when_its_batch_is_read(tmp_path):
    folder = image_folder(tmp_path / "imgs", 40, classes=2, size=8)
    broken = sorted((folder / "class_1").iterdir())[3]
    broken.write_bytes(broken.read_bytes()[:60])          # the header survives, the pixels not
    settings = {"dataset": "imgs", "streaming": "on", "epochs": 1, "batch_size": 8}
    prepared = jobs.prepare(mlp((8, 8, 1), 2, settings), tmp_path)
    with pytest.raises(DataError, match=f"{broken}: not a readable image"):
        jobs.train(prepared, "numpy", lambda e: None, stats_every=0)


def test_what_streaming_cannot_do_yet_is_said(small):
    """A network with two outputs on a streamed folder (several Inputs or outputs train from
    data in memory only)."""
    from netdesigner.graph import Graph
    g = Graph()
    x = g.add_node("Input", {"shape": [8, 8, 1]})
    flat = g.add_node("Flatten")
    g.connect(x, 0, flat, 0)
    for _ in range(2):
        head = g.add_node("Dense", {"units": 3, "activation": "softmax"})
        g.connect(flat, 0, head, 0)
    g.training.update({"dataset": "shapes", "streaming": "on"})
    with pytest.raises(DataError, match="'shapes' is streamed from disk, and a network with "
                                        "several Inputs or outputs trains from data in memory "
                                        "only: set streaming to off"):
        jobs.prepare(g, small)


def test_prefetched_reads_ahead_in_order_and_hands_errors_over():
    seen = []

    def read(i):
        seen.append(threading.current_thread().name)
        if i == 7:
            raise DataError("item 7 is bad")
        return i * i
    with pytest.raises(DataError, match="item 7 is bad"):
        out = []
        for v in data.prefetched(read, range(10)):
            out.append(v)
    assert out == [i * i for i in range(7)] and set(seen) == {"batch-reader"}
    # leaving early stops the reader
    feed = data.prefetched(lambda i: i, range(10**9), depth=2)
    assert [next(feed) for _ in range(3)] == [0, 1, 2]
    feed.close()
    assert not any(t.name == "batch-reader" for t in threading.enumerate())


# -- memory: a fresh process per run -------------------------------------------------------

def grown(backend, big, small_set, shape, classes, batch) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "tests/backends/streaming_memory.py"),
                          backend, str(big), str(small_set), shape, str(classes), str(batch)],
                         capture_output=True, text=True, timeout=1200,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def big_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("big")
    return {"images": (image_folder(root / "images", 20_000, size=32, colour=True),
                       image_folder(root / "images_small", 500, size=32, colour=True),
                       "32x32x3", 10, 32),
            "csv": (csv_file(root / "big.csv", 1_000_000, features=48),
                    csv_file(root / "small.csv", 5_000, features=48), "48", 3, 256)}


@pytest.mark.long
@pytest.mark.parametrize("backend", ["numpy", "keras"])
@pytest.mark.parametrize("kind", ["images", "csv"])
def test_one_epoch_on_a_big_streamed_set_stays_small_in_memory(big_sets, kind, backend):
    """20,000 PNGs (32x32 RGB: 246 MB decoded) and a CSV file of 1,000,000 rows (48 features:
    196 MB decoded): one epoch each, on both backends; the process's resident memory may grow
    by less than a quarter of the decoded size."""
    result = grown(backend, *big_sets[kind])
    assert result["reason"] == "completed"
    assert result["samples"] == (20_000 if kind == "images" else 1_000_000)
    assert result["grew_bytes"] < result["decoded_bytes"] / 4, result


def test_an_uncompressed_npz_file_is_mapped_and_trains_exactly_as_in_memory(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype(np.float64)
    y = (x[:, 0] > 0).astype(np.int64) * 2 + (x[:, 1] > 0)
    np.savez(tmp_path / "plain.npz", x=x, y=y)
    weights = {}
    for streaming in ("off", "on"):
        settings = {"dataset": "plain.npz", "streaming": streaming, "epochs": 2,
                    "batch_size": 16, "normalize": "standard", "seed": 1}
        prepared = jobs.prepare(mlp((6,), 4, settings), tmp_path)
        assert isinstance(prepared.split.x_train, Rows) == (streaming == "on")
        run = jobs.train(prepared, "numpy", lambda e: None, stats_every=0)
        weights[streaming] = np.array(run.result.model.flat)
    np.testing.assert_array_equal(weights["off"], weights["on"])


def test_npz_files_that_cannot_be_mapped(tmp_path):
    x = np.ones((20, 3), np.float32)
    np.savez_compressed(tmp_path / "packed.npz", x=x, y=np.zeros(20, np.int64))
    with pytest.raises(DataError, match="packed.npz: array 'x' is compressed .* save it with "
                                        "np.savez, or set streaming to off"):
        datasources.load("packed.npz", tmp_path, streaming="on")
    assert isinstance(datasources.load("packed.npz", tmp_path, streaming="auto").x, np.ndarray)
    x[7, 2] = np.nan
    np.savez(tmp_path / "hole.npz", x=x, y=np.zeros(20, np.int64))
    with pytest.raises(DataError, match=r"hole.npz: array 'x', sample 7 at \(2,\): nan is not a "
                                        r"finite number"):
        datasources.load("hole.npz", tmp_path, streaming="on")
    np.savez(tmp_path / "short.npz", x=x, y=np.zeros(19, np.int64))
    with pytest.raises(DataError, match="x has 20 samples but y has 19"):
        datasources.load("short.npz", tmp_path, streaming="on")


@pytest.mark.long
def test_the_custom_loop_trains_the_same_weights_streamed(small):
    """The custom loop (the multi-worker one) reads streamed rows through
    distribute_datasets_from_function: on one device, the same weights as in memory."""
    from netdesigner.backends.keras.train import evaluate, fit
    out = {}
    for streaming in ("off", "on"):
        graph = mlp((8, 8, 1), 3, {"dataset": "shapes", "streaming": streaming, "epochs": 2,
                                   "batch_size": 16, "seed": 1, "normalize": "minmax"}, 8)
        prepared = jobs.prepare(graph, small)
        run = fit(prepared.network, prepared.split, graph.training, loop="custom",
                  stats_every=0)
        out[streaming] = (run.model.get_weights(),
                          evaluate(run.model, prepared.split.x_test, prepared.split.y_test,
                                   graph.training, loop=run.loop))
    for a, b in zip(out["off"][0], out["on"][0]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert out["on"][1]["loss"] == pytest.approx(out["off"][1]["loss"], rel=1e-6)


@pytest.mark.parametrize("normalize", ["minmax", "standard", "none"])
def test_keras_reads_raw_image_samples_and_scales_them_bit_identically(small, normalize):
    """A streamed image folder hands its uint8 samples to the Keras pipeline, which applies the
    float32 conversion and the scaling itself (Rows.deferred): every batch, in the epoch's
    order, has exactly the bits NumPy reads, with the cache on and off."""
    import contextlib

    import keras

    from netdesigner.backends import decoded_cache
    from netdesigner.backends.keras import data as keras_data
    settings = {"dataset": "shapes", "streaming": "on", "epochs": 2, "batch_size": 16,
                "normalize": normalize, "seed": 3}
    prepared = jobs.prepare(mlp((8, 8, 1), 3, settings), small)
    split = prepared.split
    raw, steps = split.x_train.deferred
    assert raw.dtype == np.uint8 and isinstance(steps[-1], data.Scale) == (normalize != "none")
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    n = len(split.x_train)
    for kept in (contextlib.nullcontext(), decoded_cache.kept()):
        with kept:
            orders = keras_data.EpochOrders(n, 2, 3)
            got = np.concatenate([x.numpy() for x, _ in keras_data.streamed_train_dataset(
                model, [split.x_train], [split.y_train], orders, 16)])
            order = np.concatenate(list(orders))
            want = split.x_train[order]
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
            val = np.concatenate([x.numpy() for x, _ in keras_data.streamed_dataset(
                model, [split.x_val], [split.y_val], 7)])
            np.testing.assert_array_equal(val, np.asarray(split.x_val))


def test_an_opaque_transform_ends_the_deferred_steps(small):
    settings = {"dataset": "shapes", "streaming": "on", "normalize": "minmax", "seed": 0}
    x = jobs.prepare(mlp((8, 8, 1), 3, settings), small).split.x_train
    assert x.deferred is not None
    flipped = x.take(np.arange(5), lambda v: v[:, ::-1])
    assert flipped.deferred is None                    # only NumPy knows that transform
    raw, steps = x.take(np.arange(5, 9)).deferred      # positions pass through to the raw rows
    np.testing.assert_array_equal(
        np.asarray(raw, np.float32).reshape(4, 8, 8, 1),
        np.asarray(jobs.prepare(mlp((8, 8, 1), 3, dict(settings, normalize="none")),
                                small).split.x_train[np.arange(5, 9)]))
    assert isinstance(steps[-1], data.Scale)


def test_streamed_chunks_cover_every_epoch_in_order_in_whole_batches():
    from netdesigner.backends.keras import data as keras_data
    for n, batch in [(4200, 64), (100, 7), (5, 5), (64 * 8 * 16 * 2 + 3, 64), (513, 64)]:
        orders = keras_data.EpochOrders(n, 2, 0)
        rows = [row for block in keras_data.chunk_blocks(orders, batch) for row in block]
        np.testing.assert_array_equal(np.concatenate(rows), np.concatenate(list(orders)))
        assert all(len(r) % batch == 0 or len(r) < batch for r in rows)
        assert all(len(r) <= batch * keras_data.CHUNK_BATCHES for r in rows)
        # no chunk crosses an epoch's end
        ends = np.cumsum([len(r) for r in rows])
        assert n in ends and 2 * n in ends
