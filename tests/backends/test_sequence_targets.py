"""One class per time step (seq2seq): the reverse data set, target encoding, losses, accuracy."""
import numpy as np
import pytest

from netdesigner.backends import data
from netdesigner.backends.data import DataError
from netdesigner.backends.evaluation import classification_report
from netdesigner.backends.numpy import losses


def test_reverse_targets_are_the_inputs_reversed():
    ds = data.load("reverse", seed=2)
    assert ds.x.shape == (5000, 6) and ds.x.dtype == np.int32
    assert ds.y.shape == (5000, 6) and ds.classes == [str(i) for i in range(10)]
    np.testing.assert_array_equal(ds.y, ds.x[:, ::-1])


def test_per_step_targets_are_ids_for_the_sparse_loss_and_one_hot_otherwise():
    ds = data.load("reverse")
    sparse = data.prepare(ds, {"loss": "sparse_categorical_crossentropy"}, (6,), (6, 10))
    assert sparse.y_train.shape == (len(sparse.x_train), 6)
    assert sparse.y_train.dtype == np.int64
    one_hot = data.prepare(ds, {"loss": "categorical_crossentropy"}, (6,), (6, 10))
    assert one_hot.y_train.shape == (len(one_hot.x_train), 6, 10)
    np.testing.assert_array_equal(one_hot.y_train.argmax(-1), sparse.y_train)


@pytest.mark.parametrize("output_shape", [(10,), (5, 10), (6, 9), (6, 10, 1)])
def test_an_output_that_does_not_give_one_class_per_step_is_named(output_shape):
    ds = data.load("reverse")
    with pytest.raises(DataError, match=r"timedist_1 must give \(6, 10\) per sample"):
        data.prepare(ds, {"loss": "sparse_categorical_crossentropy"}, (6,), output_shape,
                     output_node="timedist_1")


def test_report_counts_every_step_and_whole_sequences():
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    guess = np.eye(10)[np.array([[1, 2, 3], [4, 0, 6]])]        # one step wrong
    report = classification_report(truth, guess, [str(i) for i in range(10)])
    assert report["accuracy"] == pytest.approx(5 / 6)
    assert report["sequence_accuracy"] == 0.5
    assert np.asarray(report["confusion"]).sum() == 6
    assert "sequence_accuracy" not in classification_report(truth[:, 0], guess[:, 0], [])


@pytest.mark.parametrize("loss_name, sparse", [("sparse_categorical_crossentropy", True),
                                               ("categorical_crossentropy", False)])
def test_loss_and_accuracy_on_sequences_match_keras(loss_name, sparse):
    import keras

    from netdesigner.backends.keras.compiler import accuracy_metric, make_loss
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, (8, 4))
    y_true = ids if sparse else np.eye(5, dtype=np.float32)[ids]
    y_pred = keras.ops.convert_to_numpy(
        keras.ops.softmax(rng.normal(size=(8, 4, 5)).astype(np.float32)))
    settings = {"loss": loss_name}
    loss = losses.from_settings(settings)
    ours = loss.value(y_pred, y_true)
    theirs = float(make_loss(settings)(y_true, y_pred))
    assert ours == pytest.approx(theirs, rel=1e-5)
    metric = accuracy_metric(settings, (4, 5))
    metric.update_state(y_true, y_pred)
    ours = losses.metric_values(["accuracy"], loss, y_pred, y_true)["accuracy"]
    assert ours == pytest.approx(float(metric.result()), abs=1e-6)
    assert ours == pytest.approx(np.mean(y_pred.argmax(-1) == ids))
