"""Export and import jobs in a worker process: outcomes are sentences, even when it dies."""
import os
import signal
import time

import pytest

from netdesigner.backends.transfer import ExportJob, ImportJob, TransferProcess, default_out, run


def wait_for(process, timeout=60):
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        assert time.monotonic() < deadline, "no outcome"
        time.sleep(0.05)
    return process.outcome


def test_a_killed_worker_is_a_sentence(tmp_path):
    process = TransferProcess(ImportJob("keras.applications.ResNet50", str(tmp_path / "r.graph")))
    process.start()
    assert process.poll() is None and process.running
    os.kill(process.process.pid, signal.SIGKILL)
    outcome = wait_for(process)
    assert outcome == {"ok": False,
                       "message": "The import process was killed (SIGKILL) — out of memory?"}
    assert not process.running


def test_a_bad_job_fails_with_a_sentence_not_an_exception(tmp_path):
    outcome = run(ExportJob("{not json", "py", str(tmp_path / "x.py")))
    assert outcome["ok"] is False and "Traceback" not in outcome["message"]
    assert outcome["message"].startswith("<project>")      # where: the design's text


def test_default_export_names(tmp_path):
    project = tmp_path / "lenet.graph"
    assert default_out(project, "", "py", tmp_path / "x") == tmp_path / "lenet.py"
    assert default_out(project, "", "savedmodel", tmp_path) == tmp_path / "lenet_savedmodel"
    assert default_out(None, "My net", "onnx", tmp_path) == tmp_path / "My_net.onnx"


@pytest.mark.long     # a TensorFlow process and a model; the window's test uses one too
def test_a_warm_worker_loads_tensorflow_first_and_takes_its_job_later(tmp_path):
    process = TransferProcess(warm=True)
    process.start()
    deadline = time.monotonic() + 90
    while not process.ready:
        assert process.poll() is None, process.outcome      # waiting: no outcome yet
        assert time.monotonic() < deadline, "TensorFlow never loaded"
        time.sleep(0.05)
    assert process.running and process.job is None
    out = tmp_path / "mobilenet.graph"
    process.submit(ImportJob("keras.applications.MobileNetV2", str(out), weights=False))
    outcome = wait_for(process)
    assert outcome["ok"], outcome
    assert out.exists() and outcome["layers"] > 100
    # after its warm-up model the worker still names MobileNetV2's input `input_layer` (not
    # input_layer_1): its design is the one shipped for this Keras
    from netdesigner.backends import applications
    if applications.available("MobileNetV2"):
        assert out.read_text() == applications.design_text("MobileNetV2")


def test_a_warm_worker_that_gets_no_job_ends_quietly():
    process = TransferProcess(warm=True)
    process.start()
    process.cancel()
    assert process.outcome["cancelled"] and not process.running
