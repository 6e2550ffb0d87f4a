"""keras.applications architectures converted ahead of time: read without TensorFlow.

File > Import > Keras Application builds `keras.applications.NAME(weights=None)` and converts it
with `backends.keras.importer` in a worker process: importing TensorFlow and building the model
take ~4 s before our conversion starts. Those designs depend only on the Keras version, so each
one offered is shipped here as the `.graph` text that very import writes (`NAME.graph.gz`, with
its top-down layout), made by `python -m netdesigner.backends.applications.make` through the
import job itself, plus `manifest.json` (the Keras version they were made with; per name its
layer and parameter counts and file).

    if available("ResNet50"):             # shipped, and the installed Keras is the manifest's
        graph = load("ResNet50")          # read as any .graph file: bounded and validated

A design is used only for the Keras version it was made with (read from the installed
distribution's metadata, not by importing Keras): with another version the live conversion
runs, since an architecture may change between Keras releases.
"""
from __future__ import annotations

import gzip
import importlib.metadata
import json
from functools import lru_cache
from pathlib import Path

from netdesigner.graph import Graph, fileformat
from netdesigner.graph.limits import LIMITS

#: keras.applications architectures offered by File > Import > Keras Application and shipped
#: here (weights=None: the architecture only, nothing is downloaded). Only those the importer
#: carries: refused today are MobileNetV3* (hard_silu activations), EfficientNetB0 (Dropout with
#: a noise_shape), NASNetMobile (Cropping2D) and ConvNeXtTiny (LayerScale); add them here when
#: the catalog has those layers, and run `python -m netdesigner.backends.applications.make`.
APPLICATIONS = ("MobileNet", "MobileNetV2", "ResNet50", "ResNet101", "ResNet152", "ResNet50V2",
                "VGG16", "VGG19", "DenseNet121", "InceptionV3", "Xception")

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"


def file_name(name: str) -> str:
    return f"{name}.graph.gz"


def keras_version() -> str | None:
    """The installed Keras's version, from its metadata (Keras itself is not imported)."""
    try:
        return importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def manifest() -> dict:
    """{"keras": version, "applications": {name: {"layers", "parameters", "file"}}}; an empty
    catalogue when the manifest is missing or unreadable (the live conversion then runs)."""
    try:
        data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"keras": None, "applications": {}}
    if not isinstance(data, dict) or not isinstance(data.get("applications"), dict):
        return {"keras": None, "applications": {}}
    return data


def names() -> list[str]:
    """The architectures shipped (whatever the installed Keras version)."""
    return sorted(manifest()["applications"])


def entry(name: str) -> dict | None:
    """The manifest's line for `name`: its layers, parameters and file; None if not shipped."""
    found = manifest()["applications"].get(name)
    return found if isinstance(found, dict) else None


def available(name: str) -> bool:
    """`name` is shipped and was made with the Keras version installed here."""
    found = entry(name)
    return (found is not None and manifest().get("keras") == keras_version()
            and (HERE / file_name(name)).is_file())


def design_text(name: str) -> str:
    """The shipped `.graph` text of `name` (a ValueError with a sentence when it is not there
    or is unreadable). Decompressed within the size any `.graph` file may have."""
    if entry(name) is None:
        raise ValueError(f"keras.applications.{name} is not in netdesigner's catalogue of "
                         f"converted applications")
    path = HERE / file_name(name)
    try:
        with gzip.open(path, "rb") as f:
            data = f.read(LIMITS.file_bytes + 1)
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot be read ({e})") from None
    if len(data) > LIMITS.file_bytes:
        raise ValueError(f"{path}: more than {LIMITS.file_bytes:,} bytes once decompressed; a "
                         f"project file may be at most that")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: is not UTF-8 text once decompressed") from None


def load(name: str) -> Graph:
    """The shipped design of keras.applications.`name`, read as any `.graph` file is."""
    return fileformat.loads(design_text(name), f"{file_name(name)} (netdesigner's catalogue)")


def shipped_name(source) -> str | None:
    """NAME when `source` is "keras.applications.NAME" and its design is available here (the
    catalogue has it, for the installed Keras); None otherwise."""
    from netdesigner.backends.keras.importer import APPLICATION_SOURCE
    match = APPLICATION_SOURCE.fullmatch(str(source))
    return match.group(1) if match and available(match.group(1)) else None


def save_design(name: str, out) -> tuple[Graph, list[Path]]:
    """Write the shipped design of `name` as the `.graph` file `out` (what the import of
    keras.applications.NAME without weights writes); the graph and the paths written."""
    graph = load(name)
    fileformat.save(graph, out)
    return graph, [Path(out)]
