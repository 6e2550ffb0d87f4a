"""Trace one sample through a design: every layer's output for it, the gradient of the loss with
respect to that output, and their statistics — "what does the network do with *this* input?".

The NumPy backend is the reference (its intermediate values are exact and its backward pass
hands out each layer's output gradient); the Keras backend computes the same with a probe model
and a gradient tape, from the same weights, so the two can be compared (they agree within
float32 noise: tested). The trace runs on the design's own data set and training settings: the
sample is row `index` of the prepared test split (or of another split), scaled and encoded as
training sees it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from netdesigner.graph import Graph, fileformat

from .data import prepare_samples
from .jobs import model_with_weights, prepare
from .numpy.losses import from_settings

SPLITS = ("test", "val", "train")


class TraceError(ValueError):
    """Why a sample cannot be traced, as a sentence."""


@dataclass
class LayerTrace:
    node: str
    type: str
    outputs: list                     # one array per output port, for the one sample
    gradients: list                   # d loss / d output, per port (None: nothing reached it)

    def stats(self) -> dict:
        """mean, std, min, max and the share of exact zeros of the first output; the mean
        absolute gradient."""
        x = np.asarray(self.outputs[0], dtype=np.float64)
        g = self.gradients[0] if self.gradients else None
        finite = x[np.isfinite(x)]
        out = {"mean": float(finite.mean()) if finite.size else float("nan"),
               "std": float(finite.std()) if finite.size else float("nan"),
               "min": float(finite.min()) if finite.size else float("nan"),
               "max": float(finite.max()) if finite.size else float("nan"),
               "zeros": float((x == 0).mean()) if x.size else 0.0,
               "grad_mean_abs": None if g is None else float(np.abs(g).mean())}
        return out


@dataclass
class Trace:
    backend: str
    split: str
    index: int
    inputs: list                      # the sample as the network gets it
    target: np.ndarray | list | None  # one output's target; a list of them for several
    prediction: list                  # the network's outputs for it
    loss: float
    layers: dict = field(default_factory=dict)    # node -> LayerTrace, in topological order
    classes: list = field(default_factory=list)   # class names, for a classifier
    # attention layer -> its weights for the sample: (heads, query steps, key steps), each
    # row a softmax over the key steps (NumPy's forward pass; the same for either backend)
    attention: dict = field(default_factory=dict)
    given: str = ""                   # a sample the user gave (`Given.label`); "": of a split

    def name(self) -> str:
        """'sample 12 of the test split', or what the user gave ('the drawing')."""
        return self.given or f"sample {self.index} of the {self.split} split"

    def predicted_class(self) -> int | None:
        if len(self.prediction) != 1:
            return None
        y = np.asarray(self.prediction[0])
        return int(np.argmax(y)) if self.classes and y.ndim == 1 else None

    def to_dict(self, values: bool = False) -> dict:
        layers = []
        for t in self.layers.values():
            entry = {"node": t.node, "type": t.type,
                     "shapes": [list(np.shape(o)) for o in t.outputs], **t.stats()}
            if values:
                entry["outputs"] = [np.asarray(o).tolist() for o in t.outputs]
                entry["gradients"] = [None if g is None else np.asarray(g).tolist()
                                      for g in t.gradients]
            layers.append(entry)
        predicted = self.predicted_class()
        return {"backend": self.backend, "split": None if self.given else self.split,
                "index": None if self.given else self.index, "given": self.given or None,
                "loss": None if np.isnan(self.loss) else self.loss,
                "prediction": [np.asarray(p).tolist() for p in self.prediction],
                "target": None if self.target is None else (
                    [np.asarray(t).tolist() for t in self.target]
                    if isinstance(self.target, list) else np.asarray(self.target).tolist()),
                "predicted_class": None if predicted is None else self.classes[predicted],
                "layers": layers}


def sample_of(split, which: str, index: int):
    """(xs, ys) of row `index` of the split `which`: one array per Input and one per output
    (None: no targets), each with a batch axis of 1."""
    if which not in SPLITS:
        raise TraceError(f"unknown split {which!r}: choose {', '.join(SPLITS)}")
    suffix = {"test": "test", "val": "val", "train": "train"}[which]
    x, y = getattr(split, f"x_{suffix}"), getattr(split, f"y_{suffix}")
    xs = x if isinstance(x, list) else [x]
    ys = None if y is None else (y if isinstance(y, list) else [y])
    n = 0 if xs[0] is None else len(xs[0])
    if n == 0:
        raise TraceError(f"the {which} split is empty: choose another split (--split)")
    if not 0 <= index < n:
        raise TraceError(f"sample {index} does not exist: the {which} split has {n} samples "
                         f"(0 to {n - 1})")
    return ([a[index:index + 1] for a in xs],
            None if ys is None else [b[index:index + 1] for b in ys])


# -- a sample the user gives ---------------------------------------------------------------
#: built-in sets of grey images that a design may read flattened (mlp_digits reads 64 values):
#: their pictures' height and width, for a drawing pad
GREY_IMAGE_SETS = {"digits": (8, 8)}
#: the largest picture drawn on the pad, a side (bigger inputs are photographs, not drawings)
LARGEST_DRAWING = 64


@dataclass
class Given:
    """A sample the user gives instead of a row of a split:
    - "drawing": ink from 0 (none) to 1 (full), height x width: becomes a grey image in the data
      set's own value range (bright = ink, as in the digits), then is scaled like the data set;
    - "tokens": whole numbers (token ids), as `parse_tokens` reads them;
    - "sample": a raw sample as the data set has it (an .npy file)."""
    kind: str
    values: np.ndarray
    label: str                        # how the trace names it: "the drawing", "tokens 1 2 3"


def _declared_shape(params: dict) -> tuple:
    """An Input's shape as the file writes it, or () when it holds no list there (a broken
    file, which validation names; the views only ask what can be drawn or typed)."""
    shape = params.get("shape")
    return tuple(shape) if isinstance(shape, (list, tuple)) else ()


def drawing_shape(graph: Graph) -> tuple | None:
    """(height, width) of a picture drawn for this design, when it reads grey images (an
    Input of height x width x 1, or a flattened built-in grey image set); else None."""
    inputs = graph.inputs()
    if len(inputs) != 1:
        return None
    shape = _declared_shape(graph.node(inputs[0]).params)
    if str(graph.node(inputs[0]).params.get("dtype", "float32")).startswith("int"):
        return None
    if (len(shape) == 3 and shape[2] == 1 and all(isinstance(d, int) for d in shape[:2])
            and 4 <= min(shape[:2]) and max(shape[:2]) <= LARGEST_DRAWING):
        return shape[:2]
    known = GREY_IMAGE_SETS.get(graph.training.get("dataset"))
    if known and len(shape) == 1 and shape[0] == known[0] * known[1]:
        return known
    return None


def token_input(graph: Graph) -> tuple | None:
    """(steps, vocabulary size) of a design that reads token ids (an integer Input of one axis;
    the vocabulary is the input_dim of the Embedding it feeds, None without one); else None."""
    inputs = graph.inputs()
    if len(inputs) != 1:
        return None
    params = graph.node(inputs[0]).params
    shape = _declared_shape(params)
    if len(shape) != 1 or not str(params.get("dtype", "float32")).startswith("int"):
        return None
    vocabulary = next((graph.node(e.target).params.get("input_dim")
                       for e in graph.out_edges(inputs[0])
                       if graph.node(e.target).type == "Embedding"), None)

    def count(value):                   # a broken file's steps or vocabulary: not known
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
            else None
    return count(shape[0]), count(vocabulary)


def parse_tokens(graph: Graph, text: str) -> Given:
    """A typed token sequence ('3 1 4 1 5 9', commas allowed) checked against the design: every
    token a whole number in its vocabulary, as many as its Input takes (TraceError: which token
    or how many, as a sentence)."""
    spec = token_input(graph)
    if spec is None:
        raise TraceError("this design does not read token ids (an integer Input of one axis): "
                         "draw or pick a sample instead")
    steps, vocabulary = spec
    words = text.replace(",", " ").split()
    if not words:
        raise TraceError("type the sequence as token ids, e.g. "
                         + " ".join(str(i % (vocabulary or 10)) for i in range(steps or 6)))
    tokens = []
    for k, word in enumerate(words, 1):
        try:
            token = int(word)
        except ValueError:
            raise TraceError(f"token {k}, {word!r}, is not a token id: type whole numbers"
                             + (f" from 0 to {vocabulary - 1}" if vocabulary else "")) from None
        if token < 0 or (vocabulary is not None and token >= vocabulary):
            raise TraceError(f"token {k}, {token}, is outside the vocabulary: the ids go from 0 "
                             f"to {vocabulary - 1}" if vocabulary else
                             f"token {k}, {token}, is negative: token ids start at 0")
        tokens.append(token)
    if steps is not None and len(tokens) != steps:
        raise TraceError(f"the sequence has {len(tokens)} token{'s' * (len(tokens) != 1)}; "
                         f"this design reads {steps} at a time")
    return Given("tokens", np.asarray(tokens, dtype=np.int64), "tokens " + " ".join(words))


def read_given(path, graph: Graph) -> Given:
    """A sample from a file: an .npy array (a raw sample, as the data set has it) or a picture
    (.png, .jpg: grey, resized to the drawing size, bright = ink)."""
    from pathlib import Path
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise TraceError(f"{path}: not a NumPy array file ({e})") from None
        if values.dtype.kind not in "biuf":
            raise TraceError(f"{path}: holds {values.dtype} values, not numbers")
        return Given("sample", values, path.name)
    if suffix in (".png", ".jpg", ".jpeg", ".bmp", ".gif"):
        size = drawing_shape(graph)
        if size is None:
            raise TraceError(f"{path}: this design does not read grey images, so a picture "
                             f"cannot be its input: give an .npy sample")
        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(path) as im:
                grey = im.convert("L").resize((size[1], size[0]), Image.BILINEAR)
        except (OSError, UnidentifiedImageError) as e:
            raise TraceError(f"{path}: not a picture that can be read ({e})") from None
        return Given("drawing", np.asarray(grey, dtype=np.float32) / 255.0, path.name)
    raise TraceError(f"{path}: give an .npy array or a picture (.png, .jpg)")


def given_input(prepared, given: Given, input_node: str = "the Input layer") -> np.ndarray:
    """The network's input (a batch of one) for a sample the user gave, made as `prepare`
    makes the data set's samples (`backends.data.prepare_samples`: reshaped, scaled with the
    statistics fitted on the training split)."""
    dataset = prepared.split.dataset
    values = np.asarray(given.values)
    if given.kind == "drawing":
        # ink 0..1 to the data set's own value range (digits: 0 to 16), then its scaling
        raw = np.asarray(dataset.x[:2000])
        lo, hi = float(raw.min()), float(raw.max())
        values = (lo + values.astype(np.float64) * (hi - lo)).astype(np.float32)
        values = values.reshape(values.shape + (1,) * (len(dataset.sample_shape) - 2))
    try:
        return prepare_samples(values[None], prepared.split, input_node)
    except ValueError as e:
        raise TraceError(f"{given.label}: {e}") from None


def sample_for(prepared, split: str, index: int, given: Given | None):
    """(xs, ys) to trace: row `index` of `split` (one array per Input, one per output), or
    the sample given (no target)."""
    if given is None:
        return sample_of(prepared.split, split, index)
    inputs = prepared.network.inputs()
    if len(inputs) > 1:
        raise TraceError(f"{given.label} is one sample, and this design has {len(inputs)} "
                         f"Inputs ({', '.join(inputs)}): trace a row of a split instead")
    return [given_input(prepared, given, inputs[0] if inputs else "the Input layer")], None


def trace(graph: Graph, base_dir, *, index: int = 0, split: str = "test", weights=None,
          backend: str = "numpy", prepared=None, given: Given | None = None,
          model=None) -> Trace:
    """Trace sample `index` of the design's prepared `split` (or the sample `given`) with
    `weights` (an .npz path; None: the design's seeded initial weights) on `backend` ("numpy"
    or "keras"). `model`: the NumPy model of `prepared` with those weights, when made already
    (`traced_model`)."""
    if graph.training.get("mode", "supervised") == "gan":
        raise TraceError("a GAN has two networks and no targets to trace against: open its "
                         "generator or discriminator as a design of its own to trace it")
    if backend not in ("numpy", "keras"):
        raise TraceError(f"unknown backend {backend!r}: choose numpy or keras")
    prepared = prepared if prepared is not None else prepare(graph, base_dir)
    xs, ys = sample_for(prepared, split, index, given)
    model = model if model is not None else traced_model(prepared, weights)
    result = _numpy_trace(model, xs, ys, prepared.settings)
    if backend == "keras":
        result = _keras_trace(model, prepared.network, xs, result)
    dataset = prepared.split.dataset
    classes = list(dataset.classes) if dataset.task == "classification" else []
    # one output: its target; several: a list, one per output
    target = None if ys is None else ys[0][0] if len(ys) == 1 else [y[0] for y in ys]
    return Trace(backend, split, index, [x[0] for x in xs], target,
                 result["prediction"], result["loss"], result["layers"], classes,
                 attention_weights(model), "" if given is None else given.label)


#: where each attention kernel keeps its softmax weights in its forward cache (see
#: backends/numpy/layers/attention.py): the index of `attend`'s cache, whose [1] they are
ATTENDED_AT = {"Attention": 4, "AdditiveAttention": 2, "MultiHeadAttention": 7}


def attention_weights(model) -> dict:
    """{attention node: (heads, query steps, key steps)} of the last forward pass, sample 0."""
    out = {}
    for n, step in model.step.items():
        kind = model.graph.node(n).type
        if kind in ATTENDED_AT and isinstance(step.cache, tuple):
            weights = np.asarray(step.cache[ATTENDED_AT[kind]][1])[0]
            out[n] = weights[None] if weights.ndim == 2 else weights
    return out


def traced_model(prepared, weights):
    """The NumPy model a trace runs: the design's seeded initial weights, or the .npz given."""
    return model_with_weights("numpy", prepared, weights, TraceError)


def _numpy_trace(model, xs: list, ys: list | None, settings: dict) -> dict:
    outs = model.forward(list(xs), training=False)
    # no target (a sample the user gave): no loss, and no gradients; several outputs: the sum
    # of their losses, as training has it
    loss_value, douts = float("nan"), [None] * len(outs)
    if ys is not None:
        loss = from_settings(settings)
        loss_value = 0.0
        for k, (out, y) in enumerate(zip(outs, ys)):
            value, douts[k] = loss.value_and_grad(out, y)
            loss_value += float(value)
    output_grads: dict = {}
    with np.errstate(all="ignore"):
        model.backward(douts, output_grads=output_grads)
    layers = {}
    for n in model.graph.topological_order():
        acts = model.activations.get(n)
        if acts is None:
            continue
        grads = output_grads.get(n) or [None] * len(acts)
        layers[n] = LayerTrace(n, model.graph.node(n).type, [np.array(a[0]) for a in acts],
                               [None if g is None else np.array(g[0]) for g in grads])
    return {"prediction": [np.array(o[0]) for o in outs], "loss": float(loss_value),
            "layers": layers, "douts": douts}


def _keras_trace(model, flat, xs: list, reference: dict) -> dict:
    """The same trace on Keras: the NumPy model's weights, every layer's output through a
    probe model, and the output gradients from a tape over the loss gradient NumPy found at
    the outputs (the chain rule from there on is Keras's own)."""
    import tensorflow as tf

    from .keras.compiler import build_model
    from .numpy.weights import to_keras
    from .parity import probe_model
    k_model = build_model(flat)
    to_keras(model, k_model)
    nodes = [n for n in reference["layers"] if flat.node(n).type != "Input"]
    probe, taps, slots = probe_model(k_model, nodes)
    tensors = [tf.constant(x) for x in xs]
    with tf.GradientTape(persistent=True) as tape:
        for tensor in tensors:
            if tensor.dtype.is_floating:
                tape.watch(tensor)
        values = probe(tensors, training=False)
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        final = values[len(taps):]
        terms = [tf.reduce_sum(tf.cast(f, tf.float64) * d.astype(np.float64))
                 for f, d in zip(final, reference["douts"]) if d is not None]
        loss = tf.add_n(terms) if terms else None
    grads = tape.gradient(loss, values[:len(taps)]) if loss is not None else [None] * len(taps)
    input_grads = [tape.gradient(loss, t) if loss is not None and t.dtype.is_floating
                   else None for t in tensors]
    del tape
    position = {n: k for k, n in enumerate(model.inputs)}       # graph.inputs() order
    layers = {}
    for n, ref in reference["layers"].items():
        if n not in slots:           # an Input: its part of the sample itself
            k = position[n]
            layers[n] = LayerTrace(n, ref.type, [np.array(xs[k][0])],
                                   [None if input_grads[k] is None
                                    else np.asarray(input_grads[k])[0]])
            continue
        start, count = slots[n]
        layers[n] = LayerTrace(n, ref.type,
                               [np.asarray(v)[0] for v in values[start:start + count]],
                               [None if g is None else np.asarray(tf.convert_to_tensor(g))[0]
                                for g in grads[start:start + count]])
    return {"prediction": [np.asarray(f)[0] for f in final], "loss": reference["loss"],
            "layers": layers, "douts": reference["douts"]}


# -- how one value was computed --------------------------------------------------------------
@dataclass
class Explanation:
    """One output value of a Dense or Conv2D layer, worked out with the real numbers:
    sum(inputs * weights) + bias = z, activation(z) = value."""
    node: str
    type: str
    position: tuple
    inputs: np.ndarray                # the input values the value is made from (a patch)
    weights: np.ndarray               # the matching weights, same shape
    bias: float
    activation: str
    z: float
    value: float

    @property
    def weighted_sum(self) -> float:
        return float((self.inputs.astype(np.float64) * self.weights).sum())

    def text(self) -> str:
        pairs = list(zip(self.inputs.ravel(), self.weights.ravel()))
        shown = " + ".join(f"{x:.3g}×{w:.3g}" for x, w in pairs[:8])
        more = f" + … ({len(pairs) - 8} more)" if len(pairs) > 8 else ""
        if self.activation in ("linear", None):
            act = ""
        elif self.activation == "softmax":      # of the whole vector, not of z alone
            act = f"\nsoftmax over the layer's outputs: {self.value:.6g}"
        else:
            act = f"\n{self.activation}({self.z:.6g}) = {self.value:.6g}"
        return (f"{self.node} ({self.type}) output {self.position}:\n"
                f"{shown}{more} = {self.weighted_sum:.6g}\n"
                f"+ bias {self.bias:.6g} = {self.z:.6g}{act}")

    def to_dict(self) -> dict:
        return {"node": self.node, "type": self.type, "position": list(self.position),
                "inputs": self.inputs.tolist(), "weights": self.weights.tolist(),
                "weighted_sum": self.weighted_sum, "bias": self.bias,
                "activation": self.activation, "z": self.z, "value": self.value}


def explain(graph: Graph, traced: Trace, weights: dict, node: str, position) -> Explanation:
    """How output `position` (without the batch axis) of `node` came about. `weights`: the
    traced model's weights ({node: {name: array}}, `trace_weights`)."""
    from .numpy.layers.activations import activate
    from .numpy.im2col import paddings
    if node not in traced.layers:
        raise TraceError(f"there is no layer {node!r} in the trace")
    layer = traced.layers[node]
    if layer.type not in ("Dense", "Conv2D"):
        raise TraceError(f"{node} is a {layer.type}: the worked-out value is shown for Dense "
                         f"and Conv2D layers")
    params = graph.node(node).params
    out = layer.outputs[0]
    position = tuple(int(p) for p in position)
    if len(position) != out.ndim or any(not 0 <= p < s for p, s in zip(position, out.shape)):
        raise TraceError(f"{node}'s output has shape {tuple(out.shape)}: position {position} "
                         f"is outside it")
    source = graph.in_edges(node)[0]
    x = np.asarray(traced.layers[source.source].outputs[source.source_port])
    kernel = weights[node]["kernel"]
    bias_all = weights[node].get("bias")
    unit = position[-1]
    if layer.type == "Dense":
        inputs = x[position[:-1]] if x.ndim > 1 else x
        w = kernel[:, unit]
    else:
        if tuple(params.get("dilation_rate", (1, 1))) != (1, 1) or params.get("groups", 1) != 1:
            raise TraceError(f"{node}: the worked-out value is shown for undilated, ungrouped "
                             f"convolutions")
        (top, _), (left, _) = paddings(params["padding"], x.shape[:2], kernel.shape[:2],
                                       params["strides"])
        padded = np.pad(x, ((top, kernel.shape[0]), (left, kernel.shape[1]), (0, 0)))
        r, c = position[0] * params["strides"][0], position[1] * params["strides"][1]
        inputs = padded[r:r + kernel.shape[0], c:c + kernel.shape[1], :]
        w = kernel[:, :, :, unit]
    bias = float(bias_all[unit]) if bias_all is not None else 0.0
    z = float((inputs.astype(np.float64) * w).sum() + bias)
    activation = params.get("activation", "linear")
    value = float(activate(activation, np.array([z], dtype=np.float64))[0]) \
        if activation not in ("linear", "softmax") else z
    if activation == "softmax":       # depends on the whole vector: from the layer's output
        value = float(out[position])
    return Explanation(node, layer.type, position, inputs, w, bias, activation, z, value)


def trace_weights(graph: Graph, base_dir, weights=None, prepared=None, model=None) -> dict:
    """{node: {name: array}} of the model a trace runs (the design's seeded initial weights,
    or the .npz given)."""
    if model is None:
        model = traced_model(prepared if prepared is not None else prepare(graph, base_dir),
                             weights)
    return {n: {k: np.array(v) for k, v in ws.items()} for n, ws in model.weights.items()}


# -- a picture of the trace ------------------------------------------------------------------
def heat(values: np.ndarray) -> np.ndarray:
    """Values as 8-bit grey levels, the layer's own range from black to white."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(v.min()) if v.size else 0.0, float(v.max()) if v.size else 0.0
    scaled = np.zeros_like(v) if hi == lo else (v - lo) / (hi - lo)
    return (scaled * 255).astype(np.uint8)


def preview(values: np.ndarray, max_maps: int = 16, columns: int | None = None) -> np.ndarray:
    """A 2-D grey image of one layer's output for a sample: an image's channels as tiles (at
    most `max_maps`; in one row, or `columns` to a row, one white pixel apart), a sequence as
    steps x features, a vector as one row."""
    v = np.asarray(values)
    if v.ndim == 0:
        v = v.reshape(1, 1)
    if v.ndim == 1:
        return heat(v[None, :])
    if v.ndim == 2:
        return heat(v.T if v.shape[0] > v.shape[1] * 4 else v)
    maps = v.reshape(v.shape[0], v.shape[1], -1)[:, :, :max_maps]
    h, w, c = maps.shape
    per_row = c if columns is None else max(1, min(columns, c))
    rows = -(-c // per_row)
    grid = np.full((rows * (h + 1) - 1, per_row * (w + 1) - 1), 255, dtype=np.uint8)
    for i in range(c):
        r, k = divmod(i, per_row)
        grid[r * (h + 1):r * (h + 1) + h, k * (w + 1):k * (w + 1) + w] = heat(maps[:, :, i])
    return grid


def tile_at(values: np.ndarray, row: int, col: int, max_maps: int = 16,
            columns: int | None = None) -> tuple | None:
    """The output index shown at pixel (row, col) of `preview(values, max_maps, columns)`
    (None on a gap or outside)."""
    v = np.asarray(values)
    if v.ndim == 1:
        return (col,) if row == 0 and 0 <= col < v.shape[0] else None
    if v.ndim == 2:
        transposed = v.shape[0] > v.shape[1] * 4
        index = (col, row) if transposed else (row, col)
        return index if all(0 <= i < n for i, n in zip(index, v.shape)) else None
    if v.ndim != 3:
        return None
    h, w, c = v.shape[0], v.shape[1], min(v.shape[2], max_maps)
    per_row = c if columns is None else max(1, min(columns, c))
    r, y = divmod(row, h + 1)
    k, x = divmod(col, w + 1)
    channel = r * per_row + k
    if y >= h or x >= w or k >= per_row or channel >= c:
        return None
    return (y, x, channel)


def write_png(traced: Trace, path, *, layers=None, scale_to: int = 48) -> None:
    """One row per layer: its name, type and shape, and its output as a grey preview."""
    from PIL import Image, ImageDraw
    names = [n for n in traced.layers if layers is None or n in layers]
    rows = []
    for n in names:
        t = traced.layers[n]
        img = preview(t.outputs[0])
        factor = max(1, min(scale_to // max(img.shape[0], 1), 12))
        rows.append((f"{n} ({t.type}) {tuple(np.shape(t.outputs[0]))}",
                     np.kron(img, np.ones((factor, factor), dtype=np.uint8))))
    label_w, pad = 300, 6
    width = label_w + max((r[1].shape[1] for r in rows), default=1) + 2 * pad
    width = min(width, 4000)
    height = sum(max(r[1].shape[0], 16) + pad for r in rows) + 30
    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    predicted = traced.predicted_class()
    title = (f"{traced.name()} ({traced.backend}); loss "
             f"{traced.loss:.4g}" + (f"; predicted {traced.classes[predicted]}"
                                     if predicted is not None else ""))
    draw.text((pad, 8), title, fill=0)
    y = 30
    for label, img in rows:
        draw.text((pad, y + 2), label, fill=0)
        canvas.paste(Image.fromarray(img[:, :width - label_w - pad]), (label_w, y))
        y += max(img.shape[0], 16) + pad
    canvas.save(path)


def run_trace(graph_text: str, base_dir: str, index: int, split: str, weights, backend: str,
              given: Given | None = None):
    """A trace for a worker process (the designer runs traces off its GUI thread, and a Keras
    trace must not load TensorFlow into the GUI): the design as .graph text in; the Trace and
    the traced model's weights out, or a TraceError's sentence."""
    try:
        graph = fileformat.loads(graph_text, "<project>")
        prepared = prepare(graph, base_dir)          # the data read once for all three
        # and the model made once (its initial weights can take a while: orthogonal ones)
        model = traced_model(prepared, weights) if graph.training.get("mode") != "gan" else None
        traced = trace(graph, base_dir, index=index, split=split, weights=weights,
                       backend=backend, prepared=prepared, given=given, model=model)
        try:
            why = attribution(graph, base_dir, index=index, split=split, weights=weights,
                              prepared=prepared, given=given, model=model)
        except TraceError:
            why = None                     # not a classifier of numbers: nothing to show
        return {"trace": traced, "why": why,
                "weights": trace_weights(graph, base_dir, weights, prepared, model)}
    except ValueError as e:                        # TraceError, data faults, design problems
        return {"error": str(e)}


# -- why this prediction ---------------------------------------------------------------------
@dataclass
class Attribution:
    """Why the network predicted `class_index` for the sample: a saliency map (the size of the
    gradient of that class's score — its logit, before a softmax — with respect to each input
    pixel, the largest over channels) and Grad-CAM on the last convolution (its feature maps
    weighted by the mean gradient of the class score over each map, ReLU, resized to the
    input)."""
    class_index: int
    class_name: str
    saliency: np.ndarray              # input height x width (or the input's shape, flattened)
    gradcam: np.ndarray | None        # input height x width, in [0, 1]; None without a conv
    conv_layer: str | None


def attribution(graph: Graph, base_dir, *, index: int = 0, split: str = "test",
                weights=None, class_index: int | None = None, prepared=None,
                given: Given | None = None, model=None) -> Attribution:
    """Saliency and Grad-CAM of a sample's predicted class (or `class_index`), from the exact
    NumPy backward pass of that class's output score."""
    if graph.training.get("mode", "supervised") == "gan":
        raise TraceError("a GAN has two networks and no classes to explain")
    prepared = prepared if prepared is not None else prepare(graph, base_dir)
    dataset = prepared.split.dataset
    if dataset.task != "classification":
        raise TraceError("saliency and Grad-CAM explain a class: this design does not "
                         "classify")
    xs, _ = sample_for(prepared, split, index, given)
    if len(xs) > 1:
        raise TraceError(f"saliency and Grad-CAM show which values of one Input mattered: "
                         f"this design has {len(xs)} Inputs")
    x = xs[0]
    model = model if model is not None else traced_model(prepared, weights)
    outs = model.forward([x], training=False)
    scores = np.asarray(outs[0])[0]
    if scores.ndim != 1:
        raise TraceError("saliency and Grad-CAM need one score per class at the output")
    c = int(np.argmax(scores)) if class_index is None else int(class_index)
    if not 0 <= c < scores.shape[0]:
        raise TraceError(f"class {c} does not exist: the output has {scores.shape[0]} "
                         f"classes")
    one_hot = np.zeros_like(outs[0])
    one_hot[0, c] = 1.0
    grads: dict = {}
    douts = [one_hot] + [None] * (len(outs) - 1)
    with np.errstate(all="ignore"):
        try:        # the class's score before the softmax (its logit), as Grad-CAM has it
            model.backward(douts, logits=[True] + [False] * (len(outs) - 1),
                           output_grads=grads)
        except ValueError:                  # no softmax / sigmoid head: the output itself
            grads.clear()
            model.backward(douts, output_grads=grads)
    input_id = model.inputs[0]
    dx = grads.get(input_id, [None])[0]
    if dx is None:
        raise TraceError("the input is not a number (token ids): there is no gradient to "
                         "show for it")
    g = np.abs(np.asarray(dx[0], dtype=np.float64))
    saliency = g.max(axis=-1) if g.ndim == 3 else g
    conv = [n for n in model.graph.topological_order()
            if model.graph.node(n).type in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")
            and np.ndim(model.activations[n][0]) == 4]
    cam = None
    if conv and np.ndim(x) == 4:
        a = np.asarray(model.activations[conv[-1]][0][0], dtype=np.float64)    # H x W x K
        da = grads.get(conv[-1], [None])[0]
        if da is not None:
            alpha = np.asarray(da[0], dtype=np.float64).mean(axis=(0, 1))       # K
            raw = np.maximum((a * alpha).sum(axis=-1), 0.0)
            cam = resize_nearest(raw, x.shape[1:3])
            cam = cam / cam.max() if cam.max() > 0 else cam
    names = list(dataset.classes)
    return Attribution(c, str(names[c]) if c < len(names) else str(c), saliency, cam,
                       conv[-1] if conv and cam is not None else None)


def resize_nearest(a: np.ndarray, shape) -> np.ndarray:
    """A map resized to `shape` (height, width) by repeating its cells (nearest neighbour)."""
    rows = (np.arange(shape[0]) * a.shape[0] // shape[0]).astype(int)
    cols = (np.arange(shape[1]) * a.shape[1] // shape[1]).astype(int)
    return a[np.ix_(rows, cols)]


def write_attribution_png(traced: Trace, why: Attribution, path, scale: int = 24) -> None:
    """The input, its saliency map and Grad-CAM over it, side by side (grey, white = most)."""
    from PIL import Image, ImageDraw
    image = np.asarray(traced.inputs[0], dtype=np.float64)
    image = image.mean(axis=-1) if image.ndim == 3 else image
    panels = [("input", heat(image)), ("saliency", heat(why.saliency))]
    if why.gradcam is not None:
        # Grad-CAM over the image: the image dimmed where the convolution did not look
        panels.append((f"Grad-CAM ({why.conv_layer})",
                       (heat(image) * (0.25 + 0.75 * why.gradcam)).astype(np.uint8)))
    tiles = [np.kron(p, np.ones((scale, scale), dtype=np.uint8)) for _, p in panels]
    h = max(t.shape[0] for t in tiles)
    width = sum(t.shape[1] for t in tiles) + 10 * (len(tiles) + 1)
    canvas = Image.new("L", (max(width, 360), h + 50), 255)
    draw = ImageDraw.Draw(canvas)
    draw.text((10, 6), f"why '{why.class_name}' ({traced.name()})", fill=0)
    x = 10
    for (label, _), tile in zip(panels, tiles):
        canvas.paste(Image.fromarray(tile), (x, 40))
        draw.text((x, 24), label, fill=0)
        x += tile.shape[1] + 10
    canvas.save(path)
