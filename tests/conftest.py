"""Test-wide settings: Qt offscreen, quiet TensorFlow, Hypothesis profiles."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from hypothesis import settings  # noqa: E402

# `ci` (`make test`): the same examples on every run, so that a red build is never a roll of the
# dice. `random` (`make test-long`): fresh examples every run, so that the property tests keep
# exploring; a failure prints its reproduction blob and is saved in .hypothesis/ for the rerun.
# The Makefile chooses with HYPOTHESIS_PROFILE; an unknown name is an error, not a fallback.
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("random", deadline=None, derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
