"""Data sets and preprocessing shared by the backends."""
import numpy as np
import pytest

from netdesigner.backends import data, protocol
from netdesigner.backends.data import DataError


@pytest.mark.parametrize("name", list(data.BUILTIN))
def test_every_builtin_set_loads_offline_and_is_seeded(name):
    a, b = data.load(name, seed=3), data.load(name, seed=3)
    assert len(a.x) == len(a.y) > 0
    np.testing.assert_array_equal(a.x, b.x)
    assert a.description


def test_digits_fit_an_mlp_and_a_cnn():
    digits = data.load("digits")
    settings = {"seed": 0, "normalize": "minmax", "one_hot": True,
                "loss": "categorical_crossentropy"}
    flat = data.prepare(digits, settings, (64,), (10,))
    image = data.prepare(digits, settings, (8, 8, 1), (10,))
    assert flat.x_train.shape[1:] == (64,) and image.x_train.shape[1:] == (8, 8, 1)
    assert len(flat.x_train) + len(flat.x_val) + len(flat.x_test) == 1797
    assert abs(len(flat.x_test) - 0.15 * 1797) < 1 and abs(len(flat.x_val) - 0.15 * 1797) < 1
    assert flat.y_train.shape[1:] == (10,) and set(np.unique(flat.y_train)) == {0.0, 1.0}
    assert 0.0 <= flat.x_train.min() and flat.x_train.max() == 1.0
    np.testing.assert_array_equal(flat.x_train.reshape(-1, 8, 8, 1), image.x_train)


def test_scaling_uses_the_training_split_only():
    ds = data.Dataset("t", np.arange(100, dtype=np.float32)[:, None], np.zeros(100),
                      data.REGRESSION)
    ds.y = np.zeros((100, 1), np.float32)
    s = data.prepare(ds, {"seed": 1, "normalize": "minmax"}, (1,), (1,))
    train, val, test = data.split_indices(100, 0.15, 0.15, 1)
    assert s.scaling == {"mode": "minmax", "min": float(train.min()), "max": float(train.max())}
    assert s.x_train.min() == 0.0 and s.x_train.max() == 1.0


def test_mismatches_are_explained():
    digits = data.load("digits")
    with pytest.raises(DataError, match=r"shape \(8, 8, 1\), but input_1 expects \(28, 28, 1\)"):
        data.prepare(digits, {}, (28, 28, 1), (10,), input_node="input_1")
    with pytest.raises(DataError, match="dense_2 gives 4 values per sample but the data has 10"):
        data.prepare(digits, {}, (64,), (4,), output_node="dense_2")
    with pytest.raises(DataError, match="unknown data set 'mnist'"):
        data.load("mnist")


def test_csv_and_npz_files(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n")
    ds = data.load("d.csv", base_dir=tmp_path)
    assert ds.x.shape == (3, 2) and ds.classes == ["cat", "dog"] and list(ds.y) == [0, 1, 0]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,x,0\n")
    with pytest.raises(DataError, match="line 2, column 'b': 'x' is not a number"):
        data.load(str(bad))
    npz = tmp_path / "d.npz"
    np.savez(npz, x=np.zeros((5, 3)), y=np.arange(5) % 2)
    assert data.load(str(npz)).classes == ["0", "1"]


def test_xor_keeps_all_four_points_for_training():
    s = data.prepare(data.load("xor"), {"validation_split": 0.0, "test_split": 0.0,
                                        "loss": "binary_crossentropy"}, (2,), (1,))
    assert len(s.x_train) == 4 and s.y_train.shape == (4, 1)


def test_protocol_events_are_plain_data():
    rec = protocol.Recorder()
    rec(protocol.batch(0, 1, 1, np.float32(0.5), {"accuracy": np.float64(0.25)}))
    rec(protocol.layer_stats(1, {"d": protocol.activation_stats(np.array([0.0, 1.0, 2.0]))},
                             {"d": {"kernel": protocol.gradient_stats(np.ones(4))}}, {}))
    assert type(rec.events[0]["loss"]) is float
    stats = rec.of("layer_stats")[0]["activations"]["d"]
    assert stats["zeros"] == pytest.approx(1 / 3) and sum(stats["histogram"]["counts"]) == 3
    assert rec.of("layer_stats")[0]["gradients"]["d"]["kernel"]["norm"] == 2.0
    with pytest.raises(ValueError):
        protocol.train_end("exploded", 1, None, None, {})
    assert protocol.is_bad_loss(float("nan")) and not protocol.is_bad_loss(1.0)


def test_image_folder_one_subfolder_per_class(tmp_path):
    from PIL import Image
    for k, cls in enumerate(["cats", "dogs"]):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(np.full((6, 5), 40 * k + i, np.uint8)).save(tmp_path / cls / f"{i}.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "dogs" / "big.png")
    ds = data.load(str(tmp_path))
    assert ds.classes == ["cats", "dogs"] and ds.x.shape == (7, 6, 5, 1)
    assert list(ds.y) == [0, 0, 0, 1, 1, 1, 1]
    (tmp_path / "cats" / "broken.png").write_text("not an image")
    with pytest.raises(DataError, match="broken.png: not a readable image"):
        data.load(str(tmp_path))


def test_augmentation_adds_transformed_copies_of_training_images_only():
    digits = data.load("digits")
    settings = {"seed": 0, "normalize": "minmax", "augment_copies": 2, "augment_shift": 1,
                "augment_rotate": 15.0, "augment_flip": False}
    plain = data.prepare(digits, {**settings, "augment_copies": 0}, (8, 8, 1), (10,))
    more = data.prepare(digits, settings, (8, 8, 1), (10,))
    n = len(plain.x_train)
    assert len(more.x_train) == 3 * n and len(more.y_train) == 3 * n
    np.testing.assert_array_equal(more.x_train[:n], plain.x_train)
    np.testing.assert_array_equal(more.y_train[n:2 * n], plain.y_train)
    assert not np.allclose(more.x_train[n:2 * n], plain.x_train), "the copies differ"
    np.testing.assert_array_equal(more.x_test, plain.x_test)
