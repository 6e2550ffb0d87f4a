"""TensorFlow's start-up noise (CUDA, oneDNN, absl) stays off the CLI's stderr unless asked
for with --verbose, in the CLI's process and in the training workers it starts."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netdesigner.backends import quiet_tf
from netdesigner.backends.runner import Job, TrainingProcess
from netdesigner.graph import fileformat

ROOT = Path(__file__).resolve().parents[1]
# What TensorFlow 2.21 prints on a machine without a GPU; any of it is noise to a CLI user.
NOISE_WORDS = ("absl", "cuda", "cuInit", "oneDNN", "cpu_feature_guard", "rebuild TensorFlow")


def loud_environment() -> dict:
    """This process's environment without the settings that quieten TensorFlow (the test
    suite's conftest sets TF_CPP_MIN_LOG_LEVEL), so that only the code under test does."""
    env = dict(os.environ)
    for name in ("TF_CPP_MIN_LOG_LEVEL", quiet_tf.QUIET_ENV):
        env.pop(name, None)
    return env


def noise_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if quiet_tf.is_noise(line) or any(w in line for w in NOISE_WORDS)]


@pytest.mark.long          # two CLI runs that start TensorFlow (~4 s)
def test_the_cli_is_quiet_unless_verbose(tmp_path):
    runs = {}
    for name, extra in (("quiet", []), ("verbose", ["--verbose"])):
        cmd = [sys.executable, "-m", "netdesigner", "export", "samples/mlp_digits.graph",
               "--to", "py", str(tmp_path / f"{name}.py"), *extra]
        runs[name] = subprocess.Popen(cmd, cwd=ROOT, env=loud_environment(), text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = {name: proc.communicate(timeout=300) for name, proc in runs.items()}
    for name, proc in runs.items():
        assert proc.returncode == 0, out[name][1][-3000:]
        assert (tmp_path / f"{name}.py").exists()
    quiet_err, verbose_err = out["quiet"][1], out["verbose"][1]
    assert noise_in(quiet_err) == [], quiet_err
    # what the command itself says still comes through
    assert quiet_err == "(no trained weights: the exported model has freshly initialised " \
                        "weights)\n"
    assert noise_in(verbose_err), f"--verbose let nothing of TensorFlow through:\n{verbose_err}"


def test_a_filtered_import_still_shows_what_is_not_noise(capfd):
    with quiet_tf.stderr_filtered():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                    b"written to STDERR\n")
        os.write(2, b"I0000 00:00:1796070706.136411   25147 port.cc:153] oneDNN custom "
                    b"operations are on.\n")
        os.write(2, b"E0000 00:00:1796070717.456315   25147 cuda_platform.cc:52] failed call "
                    b"to cuInit\n")
        os.write(2, b"E0000 00:00:1796070717.456315   25147 op_kernel.cc:1] a real error\n")
        os.write(2, b"Traceback: something else\n")
    assert capfd.readouterr().err == ("E0000 00:00:1796070717.456315   25147 op_kernel.cc:1] "
                                      "a real error\nTraceback: something else\n")


# The loud run is the control (it shows the check can fail); it costs a TensorFlow import in a
# fresh process, so it runs with the slow checks.
@pytest.mark.long          # each variant starts a TensorFlow worker (~5 s)
@pytest.mark.parametrize("quiet", [True, False])
def test_training_workers_inherit_the_quiet(monkeypatch, capfd, quiet):
    """A worker of backends.runner (spawned, so it imports TensorFlow afresh) is quiet when the
    process that started it is, and only then (the loud run shows the check can fail)."""
    for name, value in loud_environment().items():
        monkeypatch.setenv(name, value)
    for name in ("TF_CPP_MIN_LOG_LEVEL", quiet_tf.QUIET_ENV):
        monkeypatch.delenv(name, raising=False)
    if quiet:
        monkeypatch.setenv(quiet_tf.QUIET_ENV, "1")     # what quiet_tf.quiet() leaves behind
    graph = fileformat.load(ROOT / "samples" / "mlp_digits.graph")
    graph.set_training("epochs", 1)
    capfd.readouterr()
    worker = TrainingProcess(Job(fileformat.dumps(graph), str(ROOT / "samples"), "keras",
                                 stats_every=0))
    worker.start()
    events, deadline = [], time.monotonic() + 240
    while not worker.done and time.monotonic() < deadline:
        events += worker.drain()
        time.sleep(0.05)
    worker.process.join(30)
    assert worker.done, "the worker did not finish in time"
    assert [e for e in events if e["event"] == "evaluation"], events[-3:]
    err = capfd.readouterr().err
    assert (noise_in(err) == []) is quiet, err


@pytest.mark.long          # each run imports TensorFlow in a fresh process (~4 s)
def test_an_exported_script_is_quiet_unless_the_log_level_is_0(tmp_path):
    """`python net.py --summary` prints the summary, not TensorFlow's start-up notes; with
    TF_CPP_MIN_LOG_LEVEL=0 (the control, showing the check can fail) the notes come back."""
    script = tmp_path / "net.py"
    subprocess.run([sys.executable, "-m", "netdesigner", "export", "samples/mlp_digits.graph",
                    "--to", "py", "--no-weights", str(script)], cwd=ROOT, check=True,
                   capture_output=True)
    runs = {}
    for name, level in (("quiet", None), ("loud", "0")):
        env = loud_environment()
        if level is not None:
            env["TF_CPP_MIN_LOG_LEVEL"] = level
        runs[name] = subprocess.Popen([sys.executable, str(script), "--summary"], cwd=tmp_path,
                                      env=env, text=True, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
    out = {name: proc.communicate(timeout=300) for name, proc in runs.items()}
    for name, proc in runs.items():
        assert proc.returncode == 0, out[name][1][-3000:]
        assert "Total params" in out[name][0]
    assert noise_in(out["quiet"][1]) == [], out["quiet"][1]
    assert noise_in(out["loud"][1]), out["loud"][1]
