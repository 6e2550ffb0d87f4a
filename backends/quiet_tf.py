"""Keep TensorFlow's start-up noise off the terminal (the CLI's default; `--verbose` keeps it).

On a machine without a GPU, importing TensorFlow 2.21 prints "Could not find cuda drivers",
"oneDNN custom operations are on", "failed call to cuInit", a CPU-instructions notice and
absl's "All log messages before absl::InitializeLog() is called are written to STDERR" to the
process's stderr (file descriptor 2), none of which a user of the CLI can act on.

Two mechanisms, because there are two kinds of message:

* TF_CPP_MIN_LOG_LEVEL=3 silences what TensorFlow logs once its logging is set up (the cuInit
  error, the CPU-instructions notice). It must be in the environment before TensorFlow is
  imported, and it is inherited by every process started afterwards (the training workers of
  `backends.runner`, which are spawned).
* Some messages come from static initialisers of TensorFlow's shared libraries while
  `import tensorflow` loads them, before any logging setting is read (absl writes them straight
  to stderr). For those, the first `import tensorflow` runs with file descriptor 2 redirected to
  a temporary file; afterwards every line that is not known start-up noise is written back to
  stderr, so a real error during the import is still seen.

`quiet()` does both for this process and marks the environment (QUIET_ENV) so that a worker
process calls `quiet_if_inherited()` and does the same for its own import of TensorFlow.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from contextlib import contextmanager

from netdesigner.backends.export.templates.quiet_start import (is_noise, stderr_back,
                                                               stderr_to_file)

QUIET_ENV = "NETDESIGNER_QUIET_TF"

__all__ = ["is_noise", "stderr_filtered", "quiet", "quiet_if_inherited", "QUIET_ENV"]


@contextmanager
def stderr_filtered():
    """Run the body with file descriptor 2 sent to a temporary file; then write back to stderr
    the lines that are not start-up noise (`is_noise`). The filter is the one every exported
    script carries (backends/export/templates/quiet_start.py)."""
    saved, captured = stderr_to_file()
    try:
        yield
    finally:
        stderr_back(saved, captured)


class _FilteredLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run inside `stderr_filtered`."""

    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.inner   # TensorFlow's, from now on
        with stderr_filtered():
            self.inner.exec_module(module)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once (the first import, whoever makes it: keras, our backends) and
    hands it a filtered loader; then removes itself."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


def quiet() -> None:
    """Silence TensorFlow's start-up noise in this process and in the processes it starts.
    A TF_CPP_MIN_LOG_LEVEL the user set is kept."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ[QUIET_ENV] = "1"
    if "tensorflow" not in sys.modules and not any(
            isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


def quiet_if_inherited() -> None:
    """In a worker process: be quiet when the process that started it was."""
    if os.environ.get(QUIET_ENV) == "1":
        quiet()
