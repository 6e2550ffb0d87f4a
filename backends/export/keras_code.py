"""Keras objects written as code: layers, the layer lines of a design, the optimizer, and the
custom layers and metric copied into a script as they are.

Every layer line is checked while it is written (`check_layer`): the expression is evaluated
and the layer it makes must have the compiled layer's config, so a drift between the builders
and the writer fails here, not in a user's hands.
"""
from __future__ import annotations

import inspect

import keras

from netdesigner.backends.keras import compiler as keras_compiler
from netdesigner.backends.keras import layers as keras_layers
from netdesigner.backends.keras.position import PositionEmbedding
from netdesigner.backends.keras.radial import RBF
from netdesigner.graph.catalog import CATALOG
from netdesigner.graph.training import OPTIMIZERS

from .errors import ExportError
from .codegen import identifier, render_value, statement
from .preflight import LAYERS_MODULE  # noqa: F401 - the module's name, with its text here

#: constructor arguments every layer takes besides its own
BASE_KWARGS = ("trainable", "dtype")

#: code copied into a script as it is (each needs only keras), when the design uses it
SAMPLING_SOURCE = inspect.getsource(keras_layers.Sampling)
RBF_SOURCE = inspect.getsource(RBF)
POSITION_SOURCE = inspect.getsource(PositionEmbedding)
SIGN_ACCURACY_SOURCE = inspect.getsource(keras_compiler.sign_accuracy)


_LAYERS_MODULE_HEADER = '''"""netdesigner's own Keras classes, to load the .keras file beside it.

Needs only Keras 3 (not netdesigner). Each class is registered under the name the .keras file
names it by ("netdesigner>Sampling", ...), so importing this module is all it takes:

    import netdesigner_layers
    model = keras.models.load_model("model.keras")       # safe mode
"""
import keras
'''


def custom_sources(model) -> list[str]:
    """The source of each of netdesigner's own classes `model` needs to load (its layers', and
    the sign_accuracy metric of its compile set-up), in the order they are defined."""
    layers = list(model._flatten_layers(include_self=False, recursive=True))
    used = []
    if any(isinstance(layer, keras_layers.Sampling) for layer in layers):
        used.append(SAMPLING_SOURCE)
    if any(isinstance(layer, RBF) for layer in layers):
        used.append(RBF_SOURCE)
    if any(isinstance(layer, PositionEmbedding) for layer in layers):
        used.append(POSITION_SOURCE)
    compiled = repr(model.get_compile_config() if model.compiled else None)
    if "sign_accuracy" in compiled:
        used.append(SIGN_ACCURACY_SOURCE)
    return used


def layers_module_source(model) -> str | None:
    """The text of `netdesigner_layers.py` for a model, or None when it needs no own class."""
    sources = custom_sources(model)
    if not sources:
        return None
    return "\n\n".join([_LAYERS_MODULE_HEADER, *sources])


def _ser(value):
    return keras.saving.serialize_keras_object(value) if not isinstance(
        value, (str, int, float, bool, type(None), tuple, list, dict)) else value


def _init_params(cls) -> tuple[list[str], set[str]]:
    """(required argument names, all argument names) of a layer class's constructor."""
    sig = inspect.signature(cls.__init__)
    required, names = [], set()
    for p in list(sig.parameters.values())[1:]:
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        names.add(p.name)
        if p.default is p.empty:
            required.append(p.name)
    return required, names


def _class_path(layer) -> str:
    cls = type(layer)
    if isinstance(layer, keras_layers.Sampling):
        return "Sampling"
    if isinstance(layer, RBF):
        return "RBF"
    if isinstance(layer, PositionEmbedding):
        return "PositionEmbedding"
    if getattr(keras.layers, cls.__name__, None) is cls:
        return f"keras.layers.{cls.__name__}"
    raise ExportError(f"{layer.name}: a {cls.__name__} layer cannot be written as code")


def layer_parts(layer, name: str | None = None) -> tuple[str, list[str]]:
    """(class path, ["arg=value", ...]) of the constructor call that makes a layer with
    `layer`'s config: its required arguments, those that differ from Keras's defaults, and its
    name."""
    cls = type(layer)
    path = _class_path(layer)
    config = layer.get_config()
    required, names = _init_params(cls)
    args: dict[str, str] = {}
    ref_kwargs = {}
    for r in required:
        if r == "layer":
            inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) \
                else layer.layer
            inner_name = inner.name
            if isinstance(layer, keras.layers.Bidirectional) and inner_name.startswith("forward_"):
                inner_name = inner_name[len("forward_"):]
            args[r] = layer_source(inner, inner_name)
            ref_kwargs[r] = eval(args[r], {"keras": keras})
        else:
            if r not in config:
                raise ExportError(f"{layer.name}: no {r!r} in its config")
            args[r] = render_value(config[r])
            ref_kwargs[r] = config[r]
    # arguments whose default depends on others (a pooling's strides follow its pool size):
    # add what still differs until the reference made from the arguments agrees
    for _ in range(4):
        reference = cls(**ref_kwargs).get_config()
        added = False
        for key, value in config.items():
            if key in args or key in ("name", "layer", "backward_layer"):
                continue
            if key not in names and key not in BASE_KWARGS:
                continue                     # built state (shapes), not an argument
            if _ser(value) == _ser(reference.get(key)):
                continue
            args[key] = render_value(value)
            ref_kwargs[key] = eval(args[key], {"keras": keras})
            added = True
        if not added:
            break
    args["name"] = render_value(name or layer.name)
    return path, [f"{k}={v}" for k, v in args.items()]


def layer_source(layer, name: str | None = None) -> str:
    """`keras.layers.X(arg=value, ..., name="...")` that makes a layer with `layer`'s config."""
    path, args = layer_parts(layer, name)
    return f"{path}({', '.join(args)})"


def call_args(type_id: str, ins: list[str]) -> str:
    """How the layer is applied to its inputs (as backends.keras.layers.call_layer does)."""
    type_id = CATALOG.resolve(type_id)
    if type_id in keras_layers.LIST_INPUT:
        return f"([{', '.join(ins)}])"
    if type_id == "MultiHeadAttention":
        key = ins[2] if len(ins) > 2 else "None"
        return f"(query={ins[0]}, value={ins[1]}, key={key})"
    if type_id in keras_layers.INITIAL_STATE_INPUT and len(ins) > 1:
        return f"({ins[0]}, initial_state=[{', '.join(ins[1:])}])"
    return f"({ins[0]})"


def _unbuilt(config):
    """A config without the build state of nested layers (their `build_config`)."""
    if isinstance(config, dict):
        return {k: _unbuilt(v) for k, v in config.items() if k != "build_config"}
    if isinstance(config, list):
        return [_unbuilt(v) for v in config]
    return config


def check_layer(layer, code: str) -> None:
    """Refuse `code` unless evaluating it makes a layer with `layer`'s config."""
    namespace = {"keras": keras, "Sampling": keras_layers.Sampling, "RBF": RBF,
                 "PositionEmbedding": PositionEmbedding}
    made = eval(code, namespace)
    want = _unbuilt(dict(layer.get_config()))
    got = _unbuilt(dict(made.get_config()))
    # state that only exists once a layer is built (MultiHeadAttention's shapes)
    for key in set(want) - set(got):
        want.pop(key)
    if _ser(want) != _ser(got):
        diff = sorted(k for k in set(want) | set(got) if _ser(want.get(k)) != _ser(got.get(k)))
        raise ExportError(f"{layer.name}: the written code makes a different layer "
                          f"({', '.join(diff)} differ): {code}")


class LayerLines:
    """The body of a script's model builder: one statement per node of a flat design, in
    topological order, each layer named after its node; `custom` lists the source of the custom
    layers they use (to copy into the script before the builder)."""

    def __init__(self, flat, model, names, *, check: bool = True,
                 one_output_per_layer: bool = False):
        self.lines: list[str] = []
        used = set()
        for n in flat.topological_order():
            node = flat.node(n)
            if node.type == "Input":
                p = node.params
                self.lines.append(statement(names.get(n, 0), "keras.Input", [
                    f"shape={render_value(tuple(p['shape']))}",
                    f"dtype={render_value(p['dtype'])}", f"name={render_value(n)}"], ""))
                continue
            layer = model.get_layer(n)
            path, args = layer_parts(layer)
            if check:
                check_layer(layer, f"{path}({', '.join(args)})")
            used.add(path)
            count = flat.output_count(n)
            if one_output_per_layer and count != 1:
                raise ExportError(f"{n}: a layer with several outputs cannot be written in "
                                  f"this script")
            ins = [names.get(e.source, e.source_port) for e in flat.in_edges(n)]
            outs = ", ".join(names.get(n, port) for port in range(count))
            self.lines.append(statement(outs, path, args, call_args(node.type, ins)))
        self.custom = [source for path, source in (("Sampling", SAMPLING_SOURCE),
                                                   ("RBF", RBF_SOURCE),
                                                   ("PositionEmbedding", POSITION_SOURCE))
                       if path in used]

    def body(self) -> str:
        return "\n".join(self.lines)


def optimizer_source(settings: dict, indent: int = 8) -> str:
    """`keras.optimizers.X(...)` with the design's optimizer, its parameters and clipping; when
    long, one argument a line, for a call that starts on a line indented by `indent`."""
    opt = keras_compiler.make_optimizer(settings)
    name = settings.get("optimizer", "adam")
    params = {**OPTIMIZERS[name].params.defaults(), **(settings.get("optimizer_params") or {})}
    args = [f"{identifier(k)}={render_value(v if isinstance(v, bool) else float(v))}"
            for k, v in params.items()]
    clip = float(settings.get("clip_norm", 0.0) or 0.0)
    if clip > 0:
        args.append(f"clipnorm={clip!r}")
    text = f"keras.optimizers.{type(opt).__name__}({', '.join(args)})"
    if len(text) > 80:
        pad = " " * indent
        text = (f"keras.optimizers.{type(opt).__name__}(\n{pad}    "
                + f",\n{pad}    ".join(args) + f",\n{pad})")
    return text
