"""Issue 12, point 3: every data fault is named with its file and place before training, on
both backends and from the command line; labels that are not 0..n-1 become classes in sorted
order and keep their names, through evaluation and export."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends import data, jobs
from netdesigner.backends.data import DataError
from netdesigner.graph import fileformat
from tests.backends.data_faults import FAULTS, fault_project

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["numpy", "keras"])
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_data_fault_is_named_before_training(fault, backend, tmp_path):
    path = fault_project(fault, tmp_path)
    events = []
    with pytest.raises(DataError) as caught:
        jobs.execute(jobs.Job(path.read_text(), str(tmp_path), backend), events.append)
    message = str(caught.value)
    for words in fault.expect:
        assert words in message, message
    assert not events, "nothing was trained"


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_netdesigner_train_names_a_data_fault_without_a_traceback(fault, tmp_path):
    path = fault_project(fault, tmp_path)
    exe = shutil.which("netdesigner", path=str(Path(sys.executable).parent))
    done = subprocess.run([exe, "train", str(path), "--backend", "keras", "--no-save"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for words in fault.expect:
        assert words in done.stderr, done.stderr


LABELS = {
    "1..3": ([1, 2, 3], ["1", "2", "3"]),
    "0, 5, 9": ([0, 5, 9], ["0", "5", "9"]),
    "-1, 0, 1": ([-1, 0, 1], ["-1", "0", "1"]),
    "text": (["dog", "cat", "bird"], ["bird", "cat", "dog"]),
}


@pytest.mark.parametrize("kind", LABELS)
def test_csv_labels_become_classes_in_sorted_order(kind, tmp_path):
    values, names = LABELS[kind]
    labels = [values[i % 3] for i in range(30)]
    (tmp_path / "d.csv").write_text("a,b,label\n" + "".join(
        f"{i},{-i},{v}\n" for i, v in enumerate(labels)))
    ds = data.load("d.csv", tmp_path)
    assert ds.task == data.CLASSIFICATION and ds.classes == names
    # the class id of each sample is the place of its label among the sorted names
    assert ds.y.tolist() == [names.index(str(v)) for v in labels]
    assert data.class_mapping(ds) == [(n, i) for i, n in enumerate(names)]


def test_npz_labels_become_classes_in_sorted_order(tmp_path):
    np.savez(tmp_path / "ints.npz", x=np.zeros((6, 2)), y=np.array([9, 0, 5, 9, 5, 0]))
    np.savez(tmp_path / "text.npz", x=np.zeros((4, 2)), y=np.array(["dog", "cat", "dog", "ant"]))
    np.savez(tmp_path / "floats.npz", x=np.zeros((4, 2)), y=np.array([3.0, 1.0, 2.0, 1.0]))
    ints = data.load("ints.npz", tmp_path)
    assert ints.classes == ["0", "5", "9"] and ints.y.tolist() == [2, 0, 1, 2, 1, 0]
    text = data.load("text.npz", tmp_path)
    assert text.classes == ["ant", "cat", "dog"] and text.y.tolist() == [2, 1, 2, 0]
    # whole-number float targets are regression, until a class loss asks for classes
    floats = data.load("floats.npz", tmp_path)
    assert floats.task == data.REGRESSION
    split = data.prepare(floats, {"loss": "sparse_categorical_crossentropy",
                                  "validation_split": 0, "test_split": 0}, (2,), (3,))
    assert split.dataset.classes == ["1", "2", "3"] and split.dataset.task == "classification"
    assert sorted(split.y_train.tolist()) == [0, 0, 1, 2]


def test_the_digits_need_no_mapping():
    assert data.class_mapping(data.load("digits")) == []


@pytest.mark.parametrize("backend", ["numpy", "keras"])
def test_evaluation_and_export_use_the_class_names_of_the_data(backend, tmp_path):
    """Labels -1/0/1 train as three classes (-1 is the first, not the last), the report and
    its confusion matrix are in the data's names, and the exported data file carries them."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 64)).astype(np.float32)
    labels = np.repeat([-1, 0, 1], 30)
    x[:, 0] += 3 * labels                      # learnable: feature 0 says the class
    (tmp_path / "d.csv").write_text(
        ",".join(f"f{i}" for i in range(64)) + ",label\n"
        + "".join(",".join(f"{v:.4f}" for v in row) + f",{c}\n" for row, c in zip(x, labels)))
    g = fileformat.load(ROOT / "samples" / "mlp_digits.graph")
    g.training.update(dataset="d.csv", epochs=3, backend=backend)
    g.set_param("dense_2", "units", 3)
    outcome = jobs.execute(jobs.Job(fileformat.dumps(g), str(tmp_path), backend),
                           lambda e: None)
    split = outcome.prepared.split
    assert split.dataset.classes == ["-1", "0", "1"]
    report = outcome.evaluation["report"]
    assert report["classes"] == ["-1", "0", "1"] and len(report["confusion"]) == 3
    test_x = split.x_test[:, 0]                # standardised feature 0: -1 lowest, 1 highest
    ids = split.y_test.argmax(axis=1)
    assert test_x[ids == 0].mean() < test_x[ids == 1].mean() < test_x[ids == 2].mean()
    from netdesigner.backends.export import write_data
    with np.load(write_data(split, tmp_path / "out.data.npz")) as saved:
        assert saved["class_names"].tolist() == ["-1", "0", "1"]
