"""Imported recurrent layers: their weights carry the names both backends use (`gru/kernel`,
not Keras's variable path `gru/gru_cell/kernel`), so `check` and NumPy training start from
them; files written with the old flattened names (`gru/gru_cell_kernel`) still load."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402


def _imported(tmp_path):
    import keras

    from netdesigner.backends.keras.importer import import_file
    model = keras.Sequential([
        keras.Input((6, 3)),
        keras.layers.SimpleRNN(4, return_sequences=True, name="rnn"),
        keras.layers.LSTM(4, return_sequences=True, name="lstm"),
        keras.layers.GRU(3, name="gru"),
        keras.layers.Dense(2, name="out"),
    ])
    model.save(tmp_path / "rec.keras")
    graph, written = import_file(tmp_path / "rec.keras", tmp_path / "rec.graph")
    return graph, written[1]


def test_imported_recurrent_weights_pass_check_and_train_on_numpy(tmp_path):
    from netdesigner.backends import parity
    from netdesigner.backends.numpy.model import compile_graph
    from netdesigner.backends.numpy.weights import load_npz
    from netdesigner.backends.weights_file import read_npz
    graph, weights = _imported(tmp_path)
    names = sorted(read_npz(weights))
    for node in ("rnn", "lstm", "gru"):
        assert [n for n in names if n.startswith(node + "/")] == \
            [f"{node}/bias", f"{node}/kernel", f"{node}/recurrent_kernel"]
    report = parity.check(graph, weights=str(weights))
    assert report.ok, "\n" + report.table()
    model = load_npz(compile_graph(graph), weights)
    x = np.random.default_rng(0).normal(size=(4, 6, 3)).astype(np.float32)
    (y,) = model.forward([x], training=True)
    model.backward([np.ones_like(y)])
    assert all(np.isfinite(g).all() for grads in model.grads.values() for g in grads.values())


def test_old_flattened_recurrent_names_still_load(tmp_path):
    from netdesigner.backends.numpy.model import compile_graph
    from netdesigner.backends.numpy.weights import load_npz
    from netdesigner.backends.weights_file import current_name, read_npz
    graph, weights = _imported(tmp_path)
    values = read_npz(weights)
    cells = {"rnn": "simple_rnn", "lstm": "lstm", "gru": "gru"}
    old = {}
    for key, v in values.items():
        node, _, name = key.partition("/")
        old[f"{node}/{cells[node]}_cell_{name}" if node in cells else key] = v
    assert "gru/gru_cell_kernel" in old
    np.savez(tmp_path / "old.npz", **old)
    model = load_npz(compile_graph(graph), tmp_path / "old.npz")
    np.testing.assert_array_equal(model.weights["gru"]["kernel"], values["gru/kernel"])
    assert current_name("dense_1/kernel") == "dense_1/kernel"
    assert current_name("my_gru/gru_cell_recurrent_kernel") == "my_gru/recurrent_kernel"
