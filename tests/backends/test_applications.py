"""The shipped catalogue of keras.applications designs (backends.applications): every offered
architecture is there and reads as a .graph file, is used only with the Keras version it was
made with, and is exactly what the live import writes today (make test-long)."""
import gzip
import importlib.metadata

import pytest

from netdesigner.backends import applications
from netdesigner.backends.applications import APPLICATIONS
from netdesigner.graph.limits import Limits


def test_every_offered_application_is_shipped_and_loads_with_the_manifests_counts():
    manifest = applications.manifest()
    assert manifest["keras"] == importlib.metadata.version("keras"), (
        "the catalogue was made with another Keras: run "
        "python -m netdesigner.backends.applications.make")
    assert applications.names() == sorted(APPLICATIONS)
    for name in APPLICATIONS:
        entry = applications.entry(name)
        graph = applications.load(name)
        assert (len(graph), len(graph.edges())) == (entry["layers"], entry["wires"]), name
        assert entry["file"] == f"{name}.graph.gz" and applications.available(name)
    resnet = applications.entry("ResNet50")
    # Keras's own count for ResNet50(weights=None) is 25,636,712 (tests/backends round-trip it)
    assert (resnet["layers"], resnet["parameters"]) == (177, 25_636_712)


def test_available_only_with_the_keras_version_it_was_made_with(monkeypatch):
    assert applications.available("ResNet50")
    monkeypatch.setattr(applications, "keras_version", lambda: "2.0.0")
    assert not applications.available("ResNet50")
    monkeypatch.setattr(applications, "keras_version", lambda: None)     # Keras not installed
    assert not applications.available("ResNet50")
    monkeypatch.undo()
    assert not applications.available("EfficientNetB0")                 # not shipped
    with pytest.raises(ValueError, match="EfficientNetB0 is not in netdesigner's catalogue"):
        applications.design_text("EfficientNetB0")


def test_a_damaged_catalogue_file_is_a_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(applications, "HERE", tmp_path)
    (tmp_path / "ResNet50.graph.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"ResNet50\.graph\.gz: cannot be read"):
        applications.load("ResNet50")
    # decompressed within the size any .graph file may have (a small bomb, a small limit)
    (tmp_path / "ResNet50.graph.gz").write_bytes(gzip.compress(b" " * 5000))
    monkeypatch.setattr(applications, "LIMITS", Limits(file_bytes=1000))
    with pytest.raises(ValueError, match="more than 1,000 bytes once decompressed"):
        applications.load("ResNet50")
    (tmp_path / "ResNet50.graph.gz").write_bytes(gzip.compress(b'{"format": 1}'))
    monkeypatch.undo()
    monkeypatch.setattr(applications, "HERE", tmp_path)
    with pytest.raises(ValueError, match=r"ResNet50\.graph\.gz \(netdesigner's catalogue\)"):
        applications.load("ResNet50")                   # fileformat's own checks name it


def test_the_cli_imports_a_shipped_application_without_weights_from_the_catalogue(
        tmp_path, capsys, monkeypatch):
    from netdesigner.designer.cli import main
    live = []
    monkeypatch.setattr("netdesigner.backends.keras.importer.import_file",
                        lambda *a, **k: live.append(a) or (applications.load("VGG16"), []))
    out = tmp_path / "resnet.graph"
    assert main(["import", "keras.applications.ResNet50", str(out), "--no-weights"]) == 0
    assert live == [] and out.read_text() == applications.design_text("ResNet50")
    assert capsys.readouterr().out == f"wrote {out}\n177 layers\n"
    # with its weights (a random draw, written beside it) the model is built and converted
    assert main(["import", "keras.applications.ResNet50", str(out)]) == 0
    assert live == [("keras.applications.ResNet50", str(out))]


@pytest.mark.long       # builds every architecture twice with Keras: ~40 s
def test_the_catalogue_is_what_the_live_import_writes(tmp_path):
    """Live: keras.applications.NAME(weights=None) through the worker's ImportJob, text equal to
    the shipped design; the parameter counts against Keras's own."""
    import keras

    from netdesigner.backends.applications.make import COMMAND, live_design_text
    stale = []
    for name in APPLICATIONS:
        if live_design_text(name, tmp_path) != applications.design_text(name):
            stale.append(name)
        keras.backend.clear_session(free_memory=False)
        params = getattr(keras.applications, name)(weights=None).count_params()
        assert applications.entry(name)["parameters"] == params, name
    assert not stale, (f"the shipped designs of {', '.join(stale)} differ from what the import "
                       f"writes now with Keras {importlib.metadata.version('keras')}: run "
                       f"{COMMAND} (and commit backends/applications/)")
