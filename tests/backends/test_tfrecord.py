"""TFRecord files of (x, y) examples (backends/tfrecord.py, backends/datasources.py): the same
weights as the same arrays in memory, TensorFlow's own reader and writer as the oracle of the
format, and each faulty record named by its file and record number."""
import struct

import numpy as np
import pytest

from netdesigner.backends import datasources, jobs, tfrecord
from netdesigner.backends.data import DataError, Rows
from tests.backends.streaming_data import mlp


def arrays(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4, 4, 1)).astype(np.float32)
    y = (x[:, 0, 0, 0] > 0).astype(np.int64) + 2 * (x[:, 1, 1, 0] > 0)
    return x, y


def weights_of(root, name, backend, streaming, extra=None):
    settings = {"dataset": name, "streaming": streaming, "epochs": 2, "batch_size": 16,
                "normalize": "standard", "seed": 3, **(extra or {})}
    prepared = jobs.prepare(mlp((4, 4, 1), 4, settings, hidden=8), root)
    run = jobs.train(prepared, backend, lambda e: None, stats_every=0)
    model = run.result.model
    return prepared, run, (model.get_weights() if backend == "keras" else [np.array(model.flat)])


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfrecord")
    x, y = arrays()
    np.savez(root / "same.npz", x=x, y=y)
    tfrecord.write(root / "same.tfrecord", x, y)
    shards = root / "shards"
    shards.mkdir()
    for k in range(3):                       # the same examples over three files, in order
        tfrecord.write(shards / f"part-{k}.tfrecord", x[k * 40:(k + 1) * 40],
                       y[k * 40:(k + 1) * 40])
    return root


def test_a_tfrecord_file_trains_exactly_the_weights_of_the_same_arrays_in_memory(sets):
    _, run_m, w_m = weights_of(sets, "same.npz", "numpy", "off")
    for name in ("same.tfrecord", "shards"):
        prepared, run_s, w_s = weights_of(sets, name, "numpy", "on")
        assert isinstance(prepared.split.x_train, Rows)
        np.testing.assert_array_equal(w_m[0], w_s[0])
        assert run_m.result.history == run_s.result.history
    prepared, _, w_o = weights_of(sets, "shards", "numpy", "off")
    assert isinstance(prepared.split.x_train, np.ndarray)
    np.testing.assert_array_equal(w_m[0], w_o[0])
    ds = datasources.load("shards", sets, streaming="on")
    assert ds.description == "TFRecord folder shards: 120 examples in 3 files, streamed"


def test_tfrecord_examples_hold_images_or_regression_targets(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (6, 5, 7, 3)).astype(np.uint8)
    targets = rng.normal(size=(6, 2)).astype(np.float32)
    tfrecord.write(tmp_path / "img.tfrecord", pixels, targets, images=True)
    ds = datasources.load("img.tfrecord", tmp_path, streaming="on")
    assert ds.task == "regression" and ds.x.shape == (6, 5, 7, 3)
    np.testing.assert_array_equal(np.asarray(ds.x), pixels)
    np.testing.assert_array_equal(ds.y, targets)


def record(features: dict) -> bytes:
    return tfrecord.frame(tfrecord.example(features))


def test_a_faulty_record_is_named_by_file_and_record_number(tmp_path):
    good = {"x": tfrecord.float_feature(np.ones(4)), "y": tfrecord.int64_feature([1])}
    cases = {
        "nox": ({"y": good["y"]}, r"record 1: no feature 'x' \(it has y\); each example needs x"),
        "noy": ({"x": good["x"]}, r"record 1: no feature 'y' \(it has x\)"),
        "shape": ({**good, "shape": tfrecord.int64_feature([3, 2])},
                  r"record 1: feature 'x' has 4 values, but 'shape' says \(3, 2\)"),
        "other": ({**good, "x": tfrecord.float_feature(np.ones(5))},
                  r"record 1: x has shape \(5,\), but .*record 0 has \(4,\)"),
        "ints": ({**good, "x": tfrecord.int64_feature([1, 2, 3, 4])},
                 r"record 1: feature 'x' is a int64 list"),
        "nan": ({**good, "x": tfrecord.float_feature([1, np.nan, 1, 1])},
                r"record 1: x at \(1,\) is nan, not a finite number"),
    }
    for name, (second, message) in cases.items():
        path = tmp_path / f"{name}.tfrecord"
        path.write_bytes(record(good) + record(second))
        with pytest.raises(DataError, match=f"{path}: " + message):
            datasources.load(str(path), streaming="on")
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(record(good) + record(good)[:30])
    with pytest.raises(DataError, match=f"{cut}: record 1: the record says it holds"):
        datasources.load(str(cut), streaming="on")
    junk = tmp_path / "junk.tfrecord"
    junk.write_bytes(struct.pack("<Q", 3) + b"\0" * 4 + b"\xff\xff\xff" + b"\0" * 4)
    with pytest.raises(DataError, match=f"{junk}: record 0: not a tf.train.Example"):
        datasources.load(str(junk), streaming="on")


@pytest.mark.long
def test_tensorflow_reads_what_we_write_and_we_read_what_it_writes(tmp_path):
    import tensorflow as tf
    x, y = arrays(30)
    tfrecord.write(tmp_path / "ours.tfrecord", x, y)
    spec = {"x": tf.io.FixedLenFeature([16], tf.float32),
            "shape": tf.io.FixedLenFeature([3], tf.int64), "y": tf.io.FixedLenFeature([1], tf.int64)}
    got = [tf.io.parse_single_example(r, spec)
           for r in tf.data.TFRecordDataset(str(tmp_path / "ours.tfrecord"))]   # checks CRCs
    np.testing.assert_array_equal(np.stack([g["x"].numpy() for g in got]).reshape(x.shape), x)
    np.testing.assert_array_equal([int(g["y"][0]) for g in got], y)
    assert all(tuple(g["shape"].numpy()) == (4, 4, 1) for g in got)
    with tf.io.TFRecordWriter(str(tmp_path / "theirs.tfrecord")) as w:
        for xi, yi in zip(x, y):
            feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=xi.ravel())),
                       "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=xi.shape)),
                       "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[yi]))}
            w.write(tf.train.Example(features=tf.train.Features(feature=feature))
                    .SerializeToString())
    ds = datasources.load("theirs.tfrecord", tmp_path, streaming="on")
    np.testing.assert_array_equal(np.asarray(ds.x), x)
    np.testing.assert_array_equal(ds.y, y)


@pytest.mark.long
def test_keras_backend_trains_the_same_weights_from_a_tfrecord_file(sets):
    _, run_m, w_m = weights_of(sets, "same.npz", "keras", "off")
    _, run_s, w_s = weights_of(sets, "same.tfrecord", "keras", "on")
    for a, b in zip(w_m, w_s):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert run_s.evaluation["loss"] == pytest.approx(run_m.evaluation["loss"], rel=1e-5)


def test_the_crcs_computed_together_are_those_computed_one_by_one():
    rng = np.random.default_rng(0)
    blobs = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (0, 1, 9, 300, 9)]
    assert tfrecord.crc32c(b"123456789") == 0xE3069283          # the CRC-32C check value
    assert list(tfrecord.crc32c_many(blobs)) == [tfrecord.crc32c(b) for b in blobs]
    assert tfrecord.frames(blobs) == b"".join(tfrecord.frame(b) for b in blobs)
