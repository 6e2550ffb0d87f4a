"""Pre-flight check of an export: every layer the chosen format cannot carry, before exporting.

    problems_for(graph, "onnx")     # [Problem(node="lstm_1", message="...", code="export")]

Pure (no TensorFlow, no Qt): the designer calls it in its own process before it starts an export
in a worker, and shows the problems in its Problems panel (errors refuse the export; warnings
say what the file will need where it is used). The tables below were found by converting real
designs (see tests/backends/test_export_preflight.py, which checks them against real exports);
a layer inside a Block is reported on the Block node of the design.
"""
from __future__ import annotations

from netdesigner.graph.expand import SEPARATOR, expand_blocks
from netdesigner.graph.validation import ERROR, WARNING, Problem

from .errors import ExportError

FORMAT_NAMES = {"py": "a Python script", "savedmodel": "a SavedModel", "keras": "a .keras file",
                "onnx": "ONNX"}

#: parameter values that tf2onnx cannot convert (value -> why), found by converting every
#: catalog layer alone (default parameters, then each activation): every layer type converts,
#: but the exact GELU becomes TensorFlow's Erfc op, which tf2onnx has no conversion for; it
#: leaves the op in the file and onnxruntime then refuses the model ("No Op registered for
#: Erfc"). The choice is offered by every `activation` / `recurrent_activation` parameter.
ONNX_UNSUPPORTED_VALUES: dict[str, str] = {
    "gelu": "tf2onnx cannot convert the exact GELU (its Erfc operation), and onnxruntime "
            "refuses the resulting file",
}
ONNX_ALTERNATIVE = {"gelu": "swish, which converts"}

#: layers whose Keras class is netdesigner's own (registered as "netdesigner>NAME"): a .keras
#: export holding one gets LAYERS_MODULE beside it, a standalone module that registers them
CUSTOM_KERAS_CLASSES = {"Sampling": "Sampling", "RBF": "RBF",
                        "PositionEmbedding": "PositionEmbedding"}
LAYERS_MODULE = "netdesigner_layers"
LOAD_NOTE = (f"{LAYERS_MODULE}.py beside the .keras file holds netdesigner's own layer classes "
             f"(it needs only Keras): import {LAYERS_MODULE} before keras.models.load_model "
             f"(with its folder on the Python path).")


def _design_node(flat_id: str) -> str:
    """The node of the design a flattened layer comes from (its Block node, for a block's)."""
    return flat_id.split(SEPARATOR, 1)[0]


def problems_for(graph, to: str) -> list[Problem]:
    """What exporting `graph` as `to` cannot carry, one problem per layer of the design."""
    if to not in FORMAT_NAMES:
        raise ExportError(f"unknown export format {to!r}: choose one of "
                          f"{', '.join(FORMAT_NAMES)}")
    try:
        flat = expand_blocks(graph)
    except (ValueError, KeyError):
        flat = graph               # a broken block: validation reports it already
    found: dict[str, Problem] = {}

    def add(flat_id: str, message: str, severity: str = ERROR) -> None:
        node = _design_node(flat_id)
        if node not in found or (severity == ERROR and found[node].severity != ERROR):
            found[node] = Problem(node, message, "export", severity)

    for node_id in flat.nodes():
        type_id = flat.node(node_id).type
        inside = "" if _design_node(node_id) == node_id else f" (layer {node_id} of the block)"
        if to == "onnx":
            for param, value in flat.node(node_id).params.items():
                if isinstance(value, str) and value in ONNX_UNSUPPORTED_VALUES:
                    add(node_id, f"{type_id}{inside} cannot be exported as ONNX with "
                                 f"{param}={value}: {ONNX_UNSUPPORTED_VALUES[value]}. Use "
                                 f"{ONNX_ALTERNATIVE[value]}, or export a SavedModel or a "
                                 f".keras file instead.")
                    break
        elif to == "keras" and type_id in CUSTOM_KERAS_CLASSES:
            add(node_id, f"{type_id}{inside} is netdesigner's own Keras layer "
                         f"('netdesigner>{CUSTOM_KERAS_CLASSES[type_id]}'): {LOAD_NOTE}",
                WARNING)
    return list(found.values())
