"""Keras is the oracle for the catalog's shape rules and parameter counts.

For every layer type (Block aside: it is expanded into its layers), Hypothesis draws parameter
values allowed by the type's declarations and input shapes, mostly valid and some likely
invalid. The layer is built with the Keras registry and called on symbolic `keras.Input`s and,
when every size is known, once more on a small batch of zeros (Keras checks some things, e.g.
attention feature sizes, only when it computes). Then:

* Keras refuses  -> the catalog's `infer` must raise a ShapeError;
* Keras accepts  -> the catalog must accept, with the same output shapes (batch axis left
  out), the same `count_params()` and the same number of trainable weights.

Where Keras accepts what its own documentation rules out, the strategy below does not draw it,
and a comment says why.
"""
from __future__ import annotations

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from netdesigner.backends.keras.layers import build_layer, call_layer  # noqa: E402
from netdesigner.graph import CATALOG, ShapeError  # noqa: E402
from netdesigner.graph.layers.recurrent import INITIAL_STATES  # noqa: E402
from netdesigner.graph.params import BOOL, CHOICE, FLOAT, INT, INT_TUPLE, TEXT  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")

EXAMPLES = 30
EAGER_BATCH = 2       # > 1, so that a batch axis of 1 cannot hide a broadcasting mistake

# -- parameter values from the declarations ---------------------------------------------------

# Small bounds for integer parameters (and entries of integer tuples), intersected with the
# declared range, so that Keras builds quickly.
SMALL_INT = {
    "units": (1, 16), "filters": (1, 8), "kernel_size": (1, 5), "strides": (1, 3),
    "dilation_rate": (1, 3), "pool_size": (1, 4), "depth_multiplier": (1, 3),
    "num_heads": (1, 4), "key_dim": (1, 8), "value_dim": (1, 8), "input_dim": (1, 50),
    "output_dim": (1, 8), "n": (1, 6), "padding": (0, 3), "size": (1, 3), "cropping": (0, 3),
}
SMALL_FLOAT_MAX = 2.0


def _int_bounds(spec):
    lo, hi = SMALL_INT.get(spec.name, (0, 8))
    if spec.min is not None:
        lo = max(lo, math.floor(spec.min) + 1 if spec.min_exclusive else math.ceil(spec.min))
    if spec.max is not None:
        hi = min(hi, math.ceil(spec.max) - 1 if spec.max_exclusive else math.floor(spec.max))
    assert lo <= hi, f"no small value allowed for {spec.name}"
    return lo, hi


def param_values(spec):
    """Values allowed by one parameter declaration (kept small)."""
    kind = spec.kind
    if kind == BOOL:
        values = st.booleans()
    elif kind == CHOICE:
        values = st.sampled_from(spec.choices)
    elif kind == INT:
        values = st.integers(*_int_bounds(spec))
    elif kind == FLOAT:
        lo = 0.0 if spec.min is None else float(spec.min)
        hi = min(float(spec.max) if spec.max is not None else lo + SMALL_FLOAT_MAX,
                 lo + SMALL_FLOAT_MAX)
        floats = st.floats(lo, hi, exclude_min=spec.min_exclusive,
                           exclude_max=spec.max_exclusive and hi == spec.max)
        # the bounds themselves are interesting (l1 = l2 = 0 means no regulariser)
        edges = [v for v in (lo, hi) if spec.check(v) is None]
        values = st.one_of(st.sampled_from(edges), floats) if edges else floats
    elif kind == INT_TUPLE:
        lengths = (spec.length,) if isinstance(spec.length, int) else (spec.length or (1, 2, 3))
        entries = st.integers(*_int_bounds(spec))
        values = st.sampled_from(lengths).flatmap(
            lambda n: st.tuples(*[entries] * n))
    elif kind == TEXT:
        values = st.text(max_size=8)
    else:
        raise AssertionError(f"{spec.name}: draw {kind} parameters in the type's own strategy")
    if spec.optional:
        values = st.one_of(st.none(), values)
    return values


def params_of(type_id, **fixed):
    """All parameters of a type drawn from their declarations; `fixed` overrides some
    (with a value or a strategy)."""
    specs = list(CATALOG[type_id].params)
    return st.fixed_dictionaries({
        spec.name: (fixed[spec.name] if isinstance(fixed.get(spec.name), st.SearchStrategy)
                    else st.just(fixed[spec.name]) if spec.name in fixed
                    else param_values(spec))
        for spec in specs})


# -- shapes -----------------------------------------------------------------------------------

dims = st.integers(1, 12)
features = st.integers(1, 6)


def or_none(values, one_in):
    """`values`, or None (an unknown size) about one time in `one_in`."""
    return st.one_of(*[values] * (one_in - 1), st.none())


steps = or_none(st.integers(1, 10), 3)         # a sequence length, maybe unknown


def shapes_of_rank(ranks, dim=dims, last=features, unknown=True):
    """Shapes with a rank from `ranks`; inner sizes sometimes unknown, the last sometimes."""
    inner = or_none(dim, 4) if unknown else dim
    last_dim = or_none(last, 8) if unknown else last

    def build(rank):
        if rank == 0:
            return st.just(())
        return st.tuples(*[inner] * (rank - 1), last_dim)
    return st.sampled_from(tuple(ranks)).flatmap(build)


def one(shape_strategy):
    return shape_strategy.map(lambda s: [s])


def spatial(rank, dim=dims):
    """Inputs for a layer working on (steps, channels) or (height, width, channels): mostly of
    the right rank, sometimes not; sizes mostly known."""
    right = st.tuples(*[or_none(dim, 4)] * rank, features)
    no_channels = st.tuples(*[dim] * rank, st.none())
    wrong = shapes_of_rank([r for r in (1, 2, 3, 4) if r != rank + 1], unknown=False)
    return one(st.one_of(*[right] * 6, no_channels, wrong))


# -- cases: (params, input shapes, input dtype) per layer type ---------------------------------

CASES: dict = {}


def case(*type_ids):
    def register(fn):
        for t in type_ids:
            assert t not in CASES, t
            CASES[t] = fn(t)
        return fn
    return register


def simple(params, inputs, dtype="float32"):
    return st.tuples(params, inputs, st.just(dtype))


@case("Input")
def _input(t):
    shape = st.lists(st.one_of(dims, st.none()), min_size=1, max_size=4).map(tuple)
    return simple(params_of(t, shape=shape), st.just([]))


@case("Dense", "TimeDistributed")
def _dense(t):
    return simple(params_of(t), one(shapes_of_rank((1, 2, 2, 3, 3, 4))))


@case("Activation", "Dropout", "GaussianNoise", "Flatten", "BatchNormalization",
      "LayerNormalization", "ActivityRegularization", "Rescaling")
def _elementwise(t):
    return simple(params_of(t), one(shapes_of_rank((1, 2, 3))))


@case("RBF")
def _rbf(t):
    return simple(params_of(t), one(shapes_of_rank((1, 1, 2, 3))))


@case("Embedding")
def _embedding(t):
    return simple(params_of(t), one(shapes_of_rank((1, 1, 2, 3), last=dims)), "int32")


@case("RepeatVector")
def _repeat(t):
    return simple(params_of(t), one(shapes_of_rank((1, 1, 1, 2, 3))))


@case("Reshape")
def _reshape(t):
    @st.composite
    def draw(draw):
        shape = draw(shapes_of_rank((1, 2, 3), dim=st.integers(1, 6)))
        n = math.prod(d for d in shape if d is not None)
        how = draw(st.sampled_from(["factor", "factor", "minus_one", "random"]))
        if how == "random":        # most likely the wrong number of values
            target = draw(st.lists(st.integers(1, 8), min_size=1, max_size=3))
            if draw(st.booleans()):
                target[draw(st.integers(0, len(target) - 1))] = -1
        else:
            target, rest = [], n
            for _ in range(draw(st.integers(0, 2))):
                f = draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]))
                target.append(f)
                rest //= f
            target.append(rest)
            target = draw(st.permutations(target))
            if how == "minus_one":
                target[draw(st.integers(0, len(target) - 1))] = -1
        return draw(params_of(t, target_shape=tuple(target))), [shape], "float32"
    return draw()


@case("Permute")
def _permute(t):
    @st.composite
    def draw(draw):
        shape = draw(shapes_of_rank((1, 2, 3, 4)))
        if draw(st.integers(0, 3)):
            dims_ = tuple(draw(st.permutations(range(1, len(shape) + 1))))
        else:                    # an arbitrary tuple: usually not a reordering of the axes
            dims_ = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=5)))
        return draw(params_of(t, dims=dims_)), [shape], "float32"
    return draw()


@case("Sampling")
def _sampling(t):
    @st.composite
    def draw(draw):
        mean = draw(shapes_of_rank((1, 2)))
        log_var = mean if draw(st.integers(0, 2)) else draw(shapes_of_rank((1, 2)))
        return draw(params_of(t)), [mean, log_var], "float32"
    return draw()


@case("MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D",
      "Cropping1D", "SpatialDropout1D", "Conv1DTranspose", "PositionEmbedding")
def _rank1(t):
    return simple(params_of(t), spatial(1))


@case("Conv2DTranspose", "ZeroPadding2D", "Cropping2D", "SpatialDropout2D", "UpSampling2D", "MaxPooling2D", "AveragePooling2D",
      "GlobalMaxPooling2D", "GlobalAveragePooling2D")
def _rank2(t):
    return simple(params_of(t), spatial(2))


@case("MaxPooling3D", "AveragePooling3D", "GlobalMaxPooling3D", "GlobalAveragePooling3D")
def _rank3(t):
    return simple(params_of(t), spatial(3, dim=st.integers(1, 6)))


@case("ConvLSTM2D")
def _conv_lstm(t):
    clip = st.tuples(steps, or_none(st.integers(1, 7), 4), or_none(st.integers(1, 7), 4),
                     features)
    no_channels = st.tuples(st.integers(1, 4), st.integers(1, 7), st.integers(1, 7), st.none())
    wrong = shapes_of_rank((2, 3, 5), dim=st.integers(1, 5), unknown=False)
    inputs = one(st.one_of(*[clip] * 6, no_channels, wrong))
    return simple(params_of(t, filters=st.integers(1, 4)), inputs)


@case("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "SeparableConv2D")
def _conv(t):
    rank = {"Conv1D": 1, "Conv3D": 3}.get(t, 2)

    @st.composite
    def draw(draw):
        (shape,) = draw(spatial(rank, dim=st.integers(1, 6) if rank == 3 else dims))
        p = draw(params_of(t))
        # strides and dilation drawn independently are both > 1 most of the time (which
        # Conv1D and Conv2D refuse): keep one of them at 1 in three cases out of four
        if draw(st.integers(0, 3)):
            one = 1 if rank == 1 else (1,) * rank
            p[draw(st.sampled_from(["strides", "dilation_rate"]))] = one
        if (t in ("DepthwiseConv2D", "SeparableConv2D") and None in shape
                and max(p["dilation_rate"]) == 1):
            # Keras accepts different strides along height and width when it builds the
            # layer, but TensorFlow's undilated depthwise kernel refuses them at the first
            # batch: only the eager call (every size known) shows it
            p["strides"] = (p["strides"][0],) * 2
        return p, [shape], "float32"
    return draw()


@case("SimpleRNN", "LSTM", "GRU", "Bidirectional")
def _recurrent(t):
    sequence = st.tuples(steps, features)
    no_features = st.tuples(steps, st.none())
    wrong = shapes_of_rank((1, 3), unknown=False)
    inputs = one(st.one_of(*[sequence] * 6, no_features, wrong))
    if t == "Bidirectional":
        return simple(params_of(t, units=st.integers(1, 8)), inputs)

    @st.composite
    def with_states(draw):
        """The sequence, then (mostly) nothing or the right initial states, sometimes a state
        of another size, or an LSTM's h without its c. Those wrong ones only with the length
        known: Keras's symbolic call lets them through, its computation refuses them. (A state
        of another rank is not drawn: Keras broadcasts (2, 1) against units=1; the catalog
        refuses every state but (units,).)"""
        p = draw(params_of(t, units=st.integers(1, 8)))
        (x,) = draw(inputs)
        n = len(INITIAL_STATES[t])
        kinds = ["none", "none", "right", "right"]
        if len(x) == 2 and None not in x:
            kinds += ["size"] + (["h only"] if n == 2 else [])
        how = draw(st.sampled_from(kinds))
        units = p["units"]
        if how == "none":
            return p, [x], "float32"
        if how == "right":
            return p, [x] + [(units,)] * n, "float32"
        if how == "h only":
            return p, [x, (units,)], "float32"
        other = (units + draw(st.integers(1, 3)),)
        states = [(units,)] * n
        states[draw(st.integers(0, n - 1))] = other
        return p, [x] + states, "float32"
    return with_states()


def _attention_inputs(draw):
    """query, value[, key]: sequences (time steps, features).

    Keras's Attention and AdditiveAttention are documented for (batch, steps, features) inputs
    only and do not check it: on 2-D inputs they silently attend across the batch, on 4-D
    inputs they batch the leading axes. So only sequences are drawn. A query/key feature
    mismatch, or key and value of different lengths, shows only when Keras computes (the eager
    call), which needs every size known: such mistakes are drawn only then."""
    has_key = draw(st.booleans())
    known = draw(st.integers(0, 2)) > 0
    step = st.integers(1, 6) if known else steps
    tq, tv = draw(step), draw(step)
    tk = tv
    dq, dv = draw(features), draw(features)
    dk = dq
    if known and draw(st.booleans()):
        if not has_key or draw(st.booleans()):
            # Keras's additive scores are tanh(query + key): with a size-1 side NumPy
            # broadcasting hides the mismatch (undocumented), so mismatches use sizes >= 2
            dq, dk = draw(st.lists(st.integers(2, 6), min_size=2, max_size=2, unique=True))
        else:
            tk = draw(st.integers(1, 6).filter(lambda n: n != tv))
    if has_key:
        return [(tq, dq), (tv, dv), (tk, dk)]
    return [(tq, dq), (tv, dk)]         # the value doubles as the key


@case("Attention", "AdditiveAttention")
def _attention(t):
    @st.composite
    def draw(draw):
        return draw(params_of(t)), _attention_inputs(draw), "float32"
    return draw()


@case("MultiHeadAttention")
def _mha(t):
    @st.composite
    def draw(draw):
        rank = draw(st.sampled_from([2, 2, 3]))        # sequences, and images (h, w, c)
        known = draw(st.integers(0, 2)) > 0
        size = st.integers(1, 4) if known else st.one_of(st.integers(1, 4), st.none())

        def positions():
            return tuple(draw(size) for _ in range(rank - 1))
        query = positions() + (draw(features),)
        value_steps = positions()
        key_steps = value_steps if draw(st.integers(0, 3)) else positions()
        value = value_steps + (draw(features),)
        key = key_steps + (draw(features),)
        has_key = key_steps != value_steps or draw(st.booleans())
        shapes = [query, value, key] if has_key else [query, value]
        if known and draw(st.integers(0, 4)) == 0:
            # other ranks: Keras's symbolic call accepts any, its computation only equal ranks
            # >= 2, so they are drawn with every size known (then the eager call runs)
            port = draw(st.integers(0, len(shapes) - 1))
            shapes[port] = draw(shapes_of_rank((1, 2, 3, 4), dim=st.integers(1, 4),
                                               unknown=False))
        return draw(params_of(t)), shapes, "float32"
    return draw()


@case("Add", "Subtract", "Multiply", "Average", "Maximum")
def _merge(t):
    @st.composite
    def draw(draw):
        base = draw(shapes_of_rank((1, 2, 3), dim=st.integers(1, 5), last=st.integers(1, 5)))
        n = 2 if t == "Subtract" else draw(st.integers(2, 3))
        shapes = []
        for _ in range(n):
            how = draw(st.sampled_from(["same", "same", "ones", "fewer_axes", "unknown",
                                        "other", "random"]))
            s = list(base)
            if how == "ones" and s:
                s[draw(st.integers(0, len(s) - 1))] = 1
            elif how == "other":            # one size changed: usually a mismatch
                s[draw(st.integers(0, len(s) - 1))] = draw(st.integers(2, 6))
            elif how == "fewer_axes":
                s = s[draw(st.integers(1, len(s))):] or [draw(st.integers(1, 5))]
            elif how == "unknown" and s:
                s[draw(st.integers(0, len(s) - 1))] = None
            elif how == "random":
                s = list(draw(shapes_of_rank((1, 2, 3), dim=st.integers(1, 5),
                                             last=st.integers(1, 5))))
            shapes.append(tuple(s))
        return {}, shapes, "float32"
    return draw()


@case("Concatenate")
def _concatenate(t):
    @st.composite
    def draw(draw):
        rank = draw(st.integers(1, 3))
        # Not drawn: the batch axis (0, or -(rank + 1)). Keras accepts joining along it, but
        # the model's batch then grows, which the catalog's batch-free shapes cannot say (and
        # no loss could use); the catalog refuses it with an explanation.
        axes = [a for a in range(-rank - 2, rank + 2) if a not in (0, -rank - 1)]
        axis = draw(st.sampled_from(axes))
        at = axis - 1 if axis > 0 else rank + axis
        known = draw(st.integers(0, 2)) > 0
        size = st.integers(1, 5) if known else or_none(st.integers(1, 5), 3)
        base = [draw(size) for _ in range(rank)]
        # Inputs of other ranks are drawn only with every size known: Keras's build check
        # compares known sizes only, so it lets e.g. (None, None) and (1,) through, and only
        # the computation (the eager call, which needs known sizes) refuses them
        kinds = ["same", "same", "same", "other"] + (["rank"] if known else [])
        shapes = []
        for _ in range(draw(st.integers(2, 3))):
            s = list(base)
            if 0 <= at < rank:
                s[at] = draw(size)
            how = draw(st.sampled_from(kinds))
            if how == "other":
                s[draw(st.integers(0, rank - 1))] = draw(st.integers(1, 5))
            elif how == "rank":
                s = list(draw(shapes_of_rank((1, 2, 3), dim=st.integers(1, 5),
                                             last=st.integers(1, 5), unknown=False)))
            shapes.append(tuple(s))
        return draw(params_of(t, axis=axis)), shapes, "float32"
    return draw()


@case("Normalization")
def _normalization(t):
    axis = st.one_of(st.none(), st.integers(-4, 4))
    return simple(params_of(t, axis=axis), one(shapes_of_rank((1, 2, 3))))


@case("RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom")
def _augmentation(t):
    # images (height, width, channels) only: Keras takes a rank-2 input as one unbatched
    # image, which a design (whose shapes leave the batch out) cannot mean
    image = st.tuples(or_none(dims, 4), or_none(dims, 4), features)
    return simple(params_of(t), one(image))


# -- the oracle -------------------------------------------------------------------------------

def keras_outcome(type_id, params, shapes, dtype):
    """(layer, output shapes without the batch axis, None) or (None, None, the exception)."""
    try:
        layer = build_layer(type_id, params, "node")     # with `trainable` applied
        symbolic = [keras.Input(shape=s, dtype=dtype) for s in shapes]
        outputs = call_layer(layer, type_id, symbolic)
        if shapes and all(None not in s for s in shapes):
            concrete = [keras.ops.zeros((EAGER_BATCH,) + tuple(s), dtype) for s in shapes]
            computed = call_layer(layer, type_id, concrete)
            assert [tuple(c.shape) for c in computed] == [(EAGER_BATCH,) + tuple(o.shape[1:])
                                                         for o in outputs], \
                "Keras's symbolic and computed shapes differ"
    except (NameError, AttributeError, ImportError, AssertionError):
        raise
    except Exception as e:      # Keras refuses (ValueError, TypeError, tf errors, ...)
        return None, None, e
    return layer, [tuple(o.shape[1:]) for o in outputs], None


def check_against_keras(type_id, params, shapes, dtype):
    layer_type = CATALOG[type_id]
    for spec in layer_type.params:
        assert spec.check(params[spec.name]) is None, (spec.name, params[spec.name])
    what = f"{type_id} {params} on {shapes}"
    try:
        ours, our_error = layer_type.infer(params, shapes), None
    except ShapeError as e:
        ours, our_error = None, e
    layer, keras_shapes, keras_error = keras_outcome(type_id, params, shapes, dtype)

    if keras_error is not None:
        assert our_error is not None, (
            f"Keras refuses {what} ({type(keras_error).__name__}: "
            f"{str(keras_error)[:400]}), but the catalog accepts it: {ours}")
        assert str(our_error).strip()
        return
    assert our_error is None, (
        f"Keras accepts {what} giving {keras_shapes}, but the catalog says: {our_error}")
    assert ours.outputs == keras_shapes, what
    assert len(ours.outputs) == layer_type.output_count(params)
    assert len(layer_type.output_port_names(params)) == len(ours.outputs)
    assert ours.params == layer.count_params(), what
    trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
    assert ours.trainable == trainable, what


def test_every_layer_type_has_a_strategy():
    assert set(CASES) == set(CATALOG.ids()) - {"Block"}


def _examples(type_id):
    """More examples for the types whose rules have many cases; fewer for the 3-D types and
    ConvLSTM2D (slower Keras builds; make test's time budget) and for the image-in, image-out
    augmentation layers (one shape rule each)."""
    if type_id in FEW_CASES:
        return FEW_CASES[type_id]
    return 2 * EXAMPLES if type_id in MANY_CASES else EXAMPLES


FEW_CASES = {"ConvLSTM2D": 8, "Conv3D": 12, "MaxPooling3D": 10, "AveragePooling3D": 10,
             "GlobalMaxPooling3D": 6, "GlobalAveragePooling3D": 6,
             **dict.fromkeys(("RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom"),
                             EXAMPLES // 5)}


MANY_CASES = {"Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D",
              "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "Reshape",
              "Permute", "Add", "Subtract", "Multiply", "Average", "Maximum", "Concatenate",
              "Attention", "AdditiveAttention", "MultiHeadAttention", "Bidirectional"}


# Hypothesis marks the tests that @given decorates; this one calls its @given function inside,
# so it carries the mark itself (`make test-long` selects property tests by it).
@pytest.mark.hypothesis
@pytest.mark.parametrize("type_id", sorted(CASES))
def test_catalog_agrees_with_keras(type_id):
    @settings(max_examples=_examples(type_id), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=CASES[type_id])
    def agrees(case):
        check_against_keras(type_id, *case)
    agrees()


# Mistakes every student makes once: Keras must refuse them, and so must the catalog (these
# make sure the 'Keras refuses' direction is exercised whatever Hypothesis draws).
KNOWN_MISTAKES = [
    ("Conv2D", {"kernel_size": (5, 5)}, [(4, 4, 3)]),
    ("Conv1D", {"kernel_size": 3, "dilation_rate": 3}, [(6, 2)]),
    ("Conv2D", {"strides": (2, 2), "dilation_rate": (2, 2)}, [(12, 12, 3)]),
    ("Conv1D", {"strides": 2, "dilation_rate": 2}, [(12, 3)]),
    ("MaxPooling2D", {"pool_size": (3, 3)}, [(2, 2, 1)]),
    ("Add", {}, [(4, 8), (4, 9)]),
    ("Concatenate", {"axis": -1}, [(4, 8), (5, 8)]),
    ("Reshape", {"target_shape": (5, 5)}, [(4, 6)]),
    ("Reshape", {"target_shape": (7, -1)}, [(4, 6)]),
    ("Attention", {}, [(3, 4), (5, 6)]),
    ("Attention", {}, [(3, 4), (5, 6), (5, 5)]),
    ("AdditiveAttention", {}, [(3, 4), (5, 6), (5, 3)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(3, 4), (5, 6), (4, 6)]),
    ("Dense", {}, [(None,)]),
    ("LSTM", {}, [(10,)]),
    ("RepeatVector", {}, [(3, 4)]),
    ("Sampling", {}, [(4,), (5,)]),
    ("RBF", {}, [(28, 28, 1)]),
]


@pytest.mark.parametrize("type_id, changes, shapes", KNOWN_MISTAKES,
                         ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(KNOWN_MISTAKES)])
def test_known_mistakes_are_refused_by_both(type_id, changes, shapes):
    params = {**CATALOG[type_id].default_params(), **changes}
    _, _, keras_error = keras_outcome(type_id, params, shapes, "float32")
    assert keras_error is not None, "Keras accepts it: the example is not a mistake"
    with pytest.raises(ShapeError):
        CATALOG[type_id].infer(params, shapes)
    check_against_keras(type_id, params, shapes, "float32")
