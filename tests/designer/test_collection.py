"""The designer's hold on Python's garbage collector (designer/collection.py)."""
import gc
from pathlib import Path

import pytest

from netdesigner.designer import collection

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_pauses_nest_and_overlap_and_the_collector_comes_back():
    assert gc.isenabled()
    collection.pause()
    with collection.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()                  # the first pause still holds it
    collection.resume()
    assert gc.isenabled()
    collection.resume()                         # one resume too many changes nothing
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off():
    gc.disable()
    try:
        with collection.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_startup_objects_are_frozen_so_collections_skip_them():
    try:
        collection.startup_done()
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()


@pytest.mark.long          # a main window (~2 s to set up)
def test_a_data_check_holds_the_collector_until_its_result(window, qtbot):
    window.open_file(SAMPLES / "mlp_digits.graph", ask=False)
    panel = window.training
    qtbot.waitUntil(lambda: panel.data_state != "checking", timeout=10000)
    assert gc.isenabled()
    panel.check_data()
    assert not gc.isenabled()
    qtbot.waitUntil(lambda: panel.data_state != "checking", timeout=10000)
    assert gc.isenabled()
