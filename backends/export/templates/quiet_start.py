"""TensorFlow's start-up notes kept off the terminal: the CLI (`backends.quiet_tf`) and every
exported script (which imports TensorFlow through `import_tensorflow_quietly` before anything
else; the exporter copies this module's imports and functions into it) use it.

On a machine without a GPU, importing TensorFlow 2.21 prints "Could not find cuda drivers",
"oneDNN custom operations are on", "failed call to cuInit", a CPU-instructions notice and
absl's "All log messages before absl::InitializeLog() is called are written to STDERR" to the
process's stderr (file descriptor 2), none of which a user can act on. TF_CPP_MIN_LOG_LEVEL=3
silences what TensorFlow logs once its logging is set up; the rest comes from static
initialisers of its shared libraries while they load, before any setting is read, so the
import runs with file descriptor 2 sent to a temporary file, and every line that is not known
start-up noise is written back to stderr afterwards (a real error is still seen).
"""
import os
import re
import sys
import tempfile

GENERATED = ()              # the exporter writes nothing for these functions to use


def is_noise(line):
    """Is this line one of TensorFlow's start-up notes? One pattern per kind: absl's preamble,
    absl-formatted info and warning lines, the CUDA errors of a machine without a GPU (the
    older tsl format, "2025-01-01 12:00:00.000: I ...", too), the CPU-instructions notice."""
    return re.match("|".join([
        r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
        r"STDERR",
        r"[IW]\d{4} [\d:. ]+\d+ [\w.]+:\d+\] ",
        r"E\d{4} [\d:. ]+\d+ cuda_\w+\.cc:\d+\] ",
        r"\d{4}-\d\d-\d\d [\d:.]+: [IW] ",
        r"\d{4}-\d\d-\d\d [\d:.]+: E \S*cuda_\w+\.cc:\d+\] ",
        r"To enable the following instructions: .* rebuild TensorFlow with the appropriate",
    ]), line) is not None


def stderr_to_file():
    """Send file descriptor 2 to a temporary file: (the saved descriptor, the file), for
    `stderr_back`."""
    sys.stderr.flush()
    saved = os.dup(2)
    captured = tempfile.TemporaryFile()
    os.dup2(captured.fileno(), 2)
    return saved, captured


def stderr_back(saved, captured):
    """File descriptor 2 back where it was, and the lines written to `captured` meanwhile that
    are not start-up noise written to it."""
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    with captured:
        captured.seek(0)
        text = captured.read().decode("utf-8", "replace")
    kept = [line for line in text.splitlines(True) if not is_noise(line)]
    if kept:
        sys.stderr.write("".join(kept))
        sys.stderr.flush()


def import_tensorflow_quietly():
    """Import TensorFlow and Keras without their start-up notes. A TF_CPP_MIN_LOG_LEVEL the
    user set is kept, and 0 shows everything."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0" or "tensorflow" in sys.modules:
        return
    saved, captured = stderr_to_file()
    try:
        import tensorflow  # noqa: F401
        import keras  # noqa: F401
    finally:
        stderr_back(saved, captured)
