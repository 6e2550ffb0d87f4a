"""The decoded-sample cache of streamed data sets (backends/decoded_cache.py): later epochs read
back what the first decoded, the weights do not change, and it is off outside training, when
nothing fits and when the disk fails."""
import numpy as np
import pytest

from netdesigner.backends import data, datasources, decoded_cache, jobs
from netdesigner.backends.decoded_cache import DecodedCache
from tests.backends.streaming_data import image_folder, mlp


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    image_folder(root / "shapes", 120, classes=3, size=8)
    return root


def train_counting(root, monkeypatch, backend, epochs=3):
    """Weights after training on the streamed folder, and how many images were decoded."""
    decoded = []
    real = data.read_image
    monkeypatch.setattr(data, "read_image", lambda *a: decoded.append(1) or real(*a))
    monkeypatch.setattr(datasources, "FIRST_PASSES", {})    # a fresh first pass, a fresh cache
    settings = {"dataset": "shapes", "streaming": "on", "epochs": epochs, "batch_size": 16,
                "normalize": "minmax", "seed": 3}
    prepared = jobs.prepare(mlp((8, 8, 1), 3, settings), root)
    decoded.clear()                    # the scaling statistics' pass is not training
    at_epoch_end = []                  # (the test split's evaluation comes after the last)
    outcome = jobs.train(prepared, backend, lambda e: e.get("event") == "epoch"
                         and at_epoch_end.append(len(decoded)), stats_every=0)
    model = outcome.result.model
    weights = model.get_weights() if backend == "keras" else [np.array(model.flat)]
    assert len(at_epoch_end) == epochs
    read_in_training = at_epoch_end[-1]
    split = prepared.split
    return weights, read_in_training, len(split.x_train) + len(split.x_val), prepared


@pytest.mark.parametrize("backend", ["numpy", pytest.param("keras", marks=pytest.mark.long)])
def test_later_epochs_read_back_what_the_first_decoded(shapes, monkeypatch, backend):
    cached, reads, once, prepared = train_counting(shapes, monkeypatch, backend, epochs=5)
    # every training and validation image decoded once, not five times (readers running
    # ahead into the next epochs decode some again: Keras reads 8 batches at once, and here
    # an epoch is only 6 batches)
    assert once <= reads < once * 2
    monkeypatch.setenv(decoded_cache.BYTES_ENV, "0")          # nothing fits: no cache
    fresh, reads_fresh, _, _ = train_counting(shapes, monkeypatch, backend, epochs=5)
    assert reads_fresh >= 5 * once
    for a, b in zip(cached, fresh):
        if backend == "numpy":
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_only_a_training_run_fills_it(shapes, monkeypatch):
    """The designer's data checks read the training split (scaling statistics): no cache."""
    decoded = []
    real = data.read_image
    monkeypatch.setattr(data, "read_image", lambda *a: decoded.append(1) or real(*a))
    settings = {"dataset": "shapes", "streaming": "on", "normalize": "minmax", "seed": 3}
    split = jobs.prepare(mlp((8, 8, 1), 3, settings), shapes).split
    decoded.clear()
    first = np.asarray(split.x_val)
    np.testing.assert_array_equal(np.asarray(split.x_val), first)
    assert len(decoded) == 2 * len(first)


def source(n=10, shape=(2, 3)):
    calls = []

    def decode(idx):
        calls.append(len(idx))
        return (np.asarray(idx, np.float32)[:, None, None] * 10
                + np.arange(6, dtype=np.float32).reshape(shape))
    return decode, calls


def test_it_gives_the_decoded_values_and_holds_what_fits(monkeypatch):
    decode, calls = source()
    cache = DecodedCache(10, (2, 3), decode, stored=np.uint8)
    monkeypatch.setenv(decoded_cache.BYTES_ENV, str(4 * 6))        # room for 4 samples
    with decoded_cache.kept():
        first = cache.read(np.array([7, 1, 2, 3, 0, 9]))
        calls.clear()
        again = cache.read(np.array([9, 0, 1, 2, 3, 7]))
    np.testing.assert_array_equal(first, decode(np.array([7, 1, 2, 3, 0, 9])))
    np.testing.assert_array_equal(again, decode(np.array([9, 0, 1, 2, 3, 7])))
    assert again.dtype == np.float32
    assert cache.capacity == 4 and cache.cached_count == 4       # rows 0-3 kept
    assert calls[0] == 2                                         # 9 and 7 decoded again


def test_a_lossy_store_or_a_failing_disk_turns_it_off():
    cache = DecodedCache(4, (1,), lambda idx: np.full((len(idx), 1), 0.5, np.float32),
                         stored=np.uint8)
    with decoded_cache.kept():
        np.testing.assert_array_equal(cache.read(np.arange(4)), np.full((4, 1), 0.5))
        assert cache.off and cache.cached_count == 0                # 0.5 is not a uint8
        np.testing.assert_array_equal(cache.read(np.arange(4)), np.full((4, 1), 0.5))
    decode, calls = source(4)
    cache = DecodedCache(4, (2, 3), decode)
    with decoded_cache.kept():
        cache.read(np.arange(2))
        assert cache.cached_count == 2
        cache.file.close()                     # the disk goes away under it
        np.testing.assert_array_equal(cache.read(np.arange(4)), decode(np.arange(4)))
        assert cache.off and cache.cached_count == 0
        expected = decode(np.arange(4))
        calls.clear()
        np.testing.assert_array_equal(cache.read(np.arange(4)), expected)
        assert calls == [4]                    # decoded again, all of them


@pytest.mark.parametrize("text,size", [("", decoded_cache.LIMIT_BYTES), ("0", 0),
                                       ("1e9", 10**9), ("512M", 512 * 2**20),
                                       ("8 GiB", 8 * 2**30), ("12kb", 12 * 2**10)])
def test_the_cache_size_is_read_with_units(monkeypatch, text, size):
    monkeypatch.setenv(decoded_cache.BYTES_ENV, text)
    assert decoded_cache.limit_bytes() == size


@pytest.mark.parametrize("text", ["lots", "-5", "inf", "G", "8 XB"])
def test_a_cache_size_that_is_no_size_stops_netdesigner_train_with_a_sentence(
        shapes, tmp_path, monkeypatch, capsys, text):
    from netdesigner.designer.cli import main
    from netdesigner.graph import fileformat
    path = tmp_path / "streamed.graph"
    fileformat.save(mlp((8, 8, 1), 3, {"dataset": str(shapes / "shapes"), "streaming": "on",
                                      "epochs": 1, "batch_size": 16}), path)
    monkeypatch.setenv(decoded_cache.BYTES_ENV, text)
    code = main(["train", str(path), "--backend", "numpy", "--no-save"])
    err = capsys.readouterr().err
    assert code != 0
    assert f"NETDESIGNER_CACHE_BYTES={text!r} is not a size" in err
    assert "Traceback" not in err
