"""A SavedModel serves raw samples: the scaling fitted on the training split and the class
names are inside it (`serve_raw`), so raw samples give the designer's predictions."""
import json
from pathlib import Path

import numpy as np

from netdesigner.backends.data import split_indices
from netdesigner.backends.export import compiled_model, export
from netdesigner.backends.jobs import prepare
from netdesigner.graph import fileformat

ROOT = Path(__file__).resolve().parents[3]


def check_raw_serving(tmp_path, sample: str, mode: str, via_window: bool = False):
    g = fileformat.load(ROOT / "samples" / f"{sample}.graph")
    assert g.training["normalize"] == mode
    split = prepare(g, ROOT / "samples").split
    if via_window:        # what the window's worker runs: it prepares the data itself
        from netdesigner.backends.transfer import ExportJob, run_export
        outcome = run_export(ExportJob(fileformat.dumps(g), "savedmodel",
                                       str(tmp_path / "net_savedmodel"),
                                       base_dir=str(ROOT / "samples")))
        assert "serve_raw signature takes raw samples" in outcome["note"]
        written = [Path(p) for p in outcome["paths"]]
    else:
        written = export(g, "savedmodel", tmp_path / "net_savedmodel", split=split)
    assert [p.name for p in written] == ["net_savedmodel", "net_savedmodel.preprocessing.json"]
    meta = json.loads(written[1].read_text())
    classes = [str(c) for c in split.dataset.classes]
    assert meta["classes"] == classes and meta["scaling"]["mode"] == mode

    # the test split's raw samples, as they are in the data set (not scaled)
    s = g.training
    _, _, test = split_indices(len(split.dataset.x), s.get("validation_split", 0.15),
                               s.get("test_split", 0.15), s.get("seed", 0))
    raw = np.asarray(split.dataset.x[test], np.float32)[:50]
    assert not np.allclose(raw.reshape(split.x_test[:50].shape), split.x_test[:50])

    model = compiled_model(g)
    want = model.predict(split.x_test[:50], verbose=0)   # the designer's model
    from netdesigner.backends.export.serving import Preprocessing
    assert Preprocessing.of(split, {**g.training, "mode": "gan"}, model) is None, \
        "a GAN's input is noise: no raw samples to serve"
    import tensorflow as tf
    loaded = tf.saved_model.load(str(written[0]))
    got = {k: v.numpy() for k, v in loaded.serve_raw(tf.constant(raw)).items()}
    np.testing.assert_allclose(got["outputs"], want, atol=1e-5)
    from netdesigner.backends.evaluation import class_ids
    ids = class_ids(want)
    assert (got["class_id"] == ids).all()
    assert [n.decode() for n in got["class_name"]] == [classes[i] for i in ids]
    # the prepared endpoint is still there, and the same
    served = loaded.serve(tf.constant(split.x_test[:50])).numpy()
    np.testing.assert_allclose(served, want, atol=1e-5)
    return meta


def test_raw_digits_through_the_savedmodel_give_the_designers_predictions(tmp_path):
    meta = check_raw_serving(tmp_path, "mlp_digits", "minmax", via_window=True)
    assert meta["scaling"]["max"] > 1          # digits' raw pixels are 0..16


def test_standardised_moons_through_the_savedmodel_give_the_designers_predictions(tmp_path):
    meta = check_raw_serving(tmp_path, "rbf_moons", "standard")
    assert len(meta["scaling"]["mean"]) == 2 and len(meta["scaling"]["std"]) == 2


def test_an_autoencoder_of_a_labelled_set_serves_outputs_not_classes(tmp_path):
    g = fileformat.load(ROOT / "samples" / "autoencoder_digits.graph")
    split = prepare(g, ROOT / "samples").split
    assert split.dataset.classes, "digits are labelled, but this network gives pixels"
    (path, meta) = export(g, "savedmodel", tmp_path / "ae", split=split)
    assert json.loads(meta.read_text())["classes"] == []
    import tensorflow as tf
    raw = np.asarray(split.dataset.x[:5], np.float32)
    loaded = tf.saved_model.load(str(path))       # kept: its variables live as long as it
    got = loaded.serve_raw(tf.constant(raw))
    assert set(got) == {"outputs"}
    scaling = json.loads(meta.read_text())["scaling"]
    lo, hi = scaling["min"], scaling["max"]
    want = compiled_model(g).predict(((raw - lo) / (hi - lo)).reshape(5, -1), verbose=0)
    np.testing.assert_allclose(got["outputs"].numpy(), want, atol=1e-5)
