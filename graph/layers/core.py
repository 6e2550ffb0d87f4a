"""Core layers: inputs, dense layers, activations, noise, and reshaping."""
from __future__ import annotations

from ..catalog import declare
from ..params import (ACTIVATIONS, BOOL, CHOICE, FLOAT, INT, INT_TUPLE, SHAPE, REGULARIZER_PARAMS,
                      Param, activation_param)
from ..shapes import ShapeError, fmt, known, prod, require_known, require_rank, size

# -- Input ------------------------------------------------------------------------------------

declare(
    "Input", category="Input / Output",
    description="Where data enters the network. Its shape leaves out the batch dimension.",
    params=[
        Param("shape", SHAPE, (8,), "Size of one sample, without the batch dimension: (64,) for "
              "a vector, (28, 28, 1) for a grey image, (None, 8) for sequences of any length."),
        Param("dtype", CHOICE, "float32", "Number type: float32 for measurements and pixels, "
              "int32 for token ids fed to an Embedding.", choices=("float32", "int32")),
    ],
    input_names=(), min_inputs=0, max_inputs=0,
    shape=lambda p, inputs: [tuple(p["shape"])],
    flops=lambda p, i, o: 0,
)

# -- Dense ------------------------------------------------------------------------------------


def _dense_shape(p, inputs):
    (x,) = inputs
    require_rank("Dense", x, range(1, 16), "")
    require_known("Dense", x, -1, "last (features)")
    return [x[:-1] + (p["units"],)]


def _dense_advice(p, inputs, outputs):
    (x,) = inputs
    if len(x) >= 3:
        positions = " x ".join("?" if d is None else str(d) for d in x[:-1])
        values = f"{x[-1]} value{'s' if x[-1] != 1 else ''}"
        return [f"Dense works on the last axis only: it maps the {values} at each of the "
                f"{positions} positions to {p['units']} values on its own, so {fmt(x)} becomes "
                f"{fmt(outputs[0])} and no output sees the whole image. To use every value of "
                f"the image as one feature vector, add a Flatten before it."]
    return []


def _dense_params(p, inputs, outputs):
    return inputs[0][-1] * p["units"] + (p["units"] if p["use_bias"] else 0)


declare(
    "Dense", category="Core",
    description="Fully connected layer: every output is a weighted sum of all inputs plus a bias.",
    params=[
        Param("units", INT, 32, "Number of output neurons.", min=1, max=1_000_000),
        activation_param(),
        Param("use_bias", BOOL, True, "Add a learned bias to each output."),
        *REGULARIZER_PARAMS,
    ],
    shape=_dense_shape, param_count=_dense_params, advice=_dense_advice, has_weights=True,
    flops=lambda p, i, o: 2 * known(size(i[0])) * p["units"],
)

# -- Activation -------------------------------------------------------------------------------


def _activation_params(p, inputs, outputs):
    if p["activation"] != "prelu":
        return 0
    n = size(inputs[0])
    if n is None:
        raise ShapeError(f"PReLU learns one slope per input value, so it needs a fully known "
                         f"input shape, but gets {fmt(inputs[0])}.")
    return n


declare(
    "Activation", category="Activation",
    description="Applies a non-linearity element by element (ReLU, sigmoid, tanh, softmax, ...).",
    params=[
        Param("activation", CHOICE, "relu", "The function applied to every value.",
              choices=ACTIVATIONS[:4] + ("prelu",) + ACTIVATIONS[4:]),
        Param("negative_slope", FLOAT, 0.2, "Slope for negative inputs (leaky_relu).", min=0),
        Param("alpha", FLOAT, 1.0, "Scale of the negative part (elu).", min=0),
    ],
    shape=lambda p, inputs: [inputs[0]],
    param_count=_activation_params, has_weights=True,
)

# -- Rescaling ----------------------------------------------------------------------------------

declare(
    "Rescaling", category="Core",
    description="Multiplies every value by a fixed number and adds another: y = x * scale + "
                "offset. Nothing is learned. Maps pixels 0..255 to 0..1 (scale 1/255), or to "
                "-1..1 (scale 1/127.5, offset -1); the importer also turns arithmetic with a "
                "constant in a Keras model (y * 2.0, z - 1.0) into this layer.",
    params=[
        Param("scale", FLOAT, 1.0, "The factor every value is multiplied by."),
        Param("offset", FLOAT, 0.0, "The number added after scaling."),
    ],
    shape=lambda p, inputs: [inputs[0]], flops=lambda p, i, o: 2 * known(size(i[0])),
)

# -- Regularisation by noise ------------------------------------------------------------------

declare(
    "Dropout", category="Regularization",
    description="During training, sets a random fraction of values to zero (and scales the rest) "
                "so the network cannot rely on any single unit.",
    params=[Param("rate", FLOAT, 0.5, "Fraction of the inputs to drop.", min=0, max=1,
                  max_exclusive=True)],
    shape=lambda p, inputs: [inputs[0]],
)

declare(
    "GaussianNoise", category="Regularization",
    description="During training, adds zero-mean Gaussian noise: a simple data augmentation.",
    params=[Param("stddev", FLOAT, 0.1, "Standard deviation of the noise (Keras allows 0 to "
                  "1; scale the data if you need more).", min=0, max=1)],
    shape=lambda p, inputs: [inputs[0]],
)


def _spatial_dropout_shape(rank):
    type_id = f"SpatialDropout{rank}D"
    what = "(steps, channels)" if rank == 1 else "(height, width, channels)"

    def shape(p, inputs):
        (x,) = inputs
        require_rank(type_id, x, rank + 1, what,
                     "it drops whole channels, so it follows a Conv1D / Conv2D." if rank == 1
                     else "it drops whole feature maps, so it follows a Conv2D.")
        return [x]
    return shape


for _rank, _what in ((1, "sequence"), (2, "image")):
    declare(
        f"SpatialDropout{_rank}D", category="Regularization",
        description=f"During training, drops whole channels (feature maps) of a {_what} rather "
                    f"than single values, and scales the rest: neighbouring values of a channel "
                    f"are alike, so dropping them one by one regularises little.",
        params=[Param("rate", FLOAT, 0.5, "Fraction of the channels to drop.", min=0, max=1,
                      max_exclusive=True)],
        shape=_spatial_dropout_shape(_rank),
    )

# -- Reshaping --------------------------------------------------------------------------------


def _flatten_shape(p, inputs):
    (x,) = inputs
    if len(x) == 0:
        raise ShapeError("Flatten needs an input with at least one dimension.")
    return [(size(x),)]


declare(
    "Flatten", category="Reshape",
    description="Unrolls every sample into one long vector, e.g. (28, 28, 1) into (784,).",
    shape=_flatten_shape, flops=lambda p, i, o: 0,
)


def _reshape_shape(p, inputs):
    (x,) = inputs
    target = tuple(p["target_shape"])
    if any(d is None for d in target):
        raise ShapeError("Reshape's target shape cannot contain None; use -1 for one size "
                         "that should be worked out.")
    n = size(x)
    if -1 in target:
        rest = prod(d for d in target if d != -1)
        if n is None:
            return [tuple(None if d == -1 else d for d in target)]
        if n % rest:
            raise ShapeError(f"Reshape cannot turn {fmt(x)} ({n} values) into {fmt(target)}: "
                             f"{n} is not a multiple of {rest}.")
        return [tuple(n // rest if d == -1 else d for d in target)]
    if n is not None and n != prod(target):
        raise ShapeError(f"Reshape cannot turn {fmt(x)} ({n} values) into {fmt(target)} "
                         f"({prod(target)} values): the number of values must stay the same.")
    return [target]


declare(
    "Reshape", category="Reshape",
    description="Rearranges the values of each sample into a new shape with the same size.",
    params=[Param("target_shape", SHAPE, (-1,), "New shape without the batch dimension; one "
                  "entry may be -1 to have it worked out.", allow_minus_one=True)],
    shape=_reshape_shape, flops=lambda p, i, o: 0,
)


def _permute_shape(p, inputs):
    (x,) = inputs
    dims = tuple(p["dims"])
    if sorted(dims) != list(range(1, len(x) + 1)):
        raise ShapeError(f"Permute's dims {fmt(dims)} must be a reordering of 1..{len(x)} for "
                         f"an input of shape {fmt(x)} (axes are counted from 1, the batch "
                         f"axis is left out).")
    return [tuple(x[d - 1] for d in dims)]


declare(
    "Permute", category="Reshape",
    description="Reorders the axes of each sample, e.g. (time, features) to (features, time).",
    params=[Param("dims", INT_TUPLE, (2, 1), "New order of the axes, counted from 1.", min=1,
                  length=(1, 2, 3, 4, 5))],
    shape=_permute_shape, flops=lambda p, i, o: 0,
)


def _repeat_shape(p, inputs):
    (x,) = inputs
    require_rank("RepeatVector", x, 1, "(a vector)", "add a Flatten or a Dense before it.")
    return [(p["n"],) + x]


declare(
    "RepeatVector", category="Reshape",
    description="Repeats a vector n times to make a sequence, e.g. to feed a decoder RNN.",
    params=[Param("n", INT, 4, "Number of repetitions (the sequence length).", min=1,
                  max=100_000)],
    shape=_repeat_shape, flops=lambda p, i, o: 0,
)

# -- Per-time-step and lookup layers ----------------------------------------------------------


def _time_distributed_shape(p, inputs):
    (x,) = inputs
    require_rank("TimeDistributed", x, range(2, 16), "(time steps, features)",
                 "it applies its Dense layer to every time step of a sequence.")
    require_known("TimeDistributed", x, -1, "last (features)")
    return [x[:-1] + (p["units"],)]


declare(
    "TimeDistributed", category="Recurrent",
    description="Applies the same Dense layer to every time step of a sequence.",
    params=[
        Param("units", INT, 32, "Number of output neurons per time step.", min=1,
              max=1_000_000),
        activation_param(),
        Param("use_bias", BOOL, True, "Add a learned bias to each output."),
        *REGULARIZER_PARAMS,
    ],
    shape=_time_distributed_shape, has_weights=True,
    param_count=lambda p, i, o: i[0][-1] * p["units"] + (p["units"] if p["use_bias"] else 0),
    flops=lambda p, i, o: 2 * known(size(i[0])) * p["units"],
)


declare(
    "Embedding", category="Embedding",
    description="Looks up a learned vector for each integer token id (word embeddings).",
    params=[
        Param("input_dim", INT, 1000, "Vocabulary size: token ids run from 0 to input_dim - 1.",
              min=1, max=10_000_000),
        Param("output_dim", INT, 16, "Length of each embedding vector.", min=1, max=100_000),
        Param("mask_zero", BOOL, False, "Treat id 0 as padding that later layers skip."),
        *REGULARIZER_PARAMS,
    ],
    shape=lambda p, inputs: [inputs[0] + (p["output_dim"],)],
    param_count=lambda p, i, o: p["input_dim"] * p["output_dim"], has_weights=True,
    flops=lambda p, i, o: 0,
)


def _position_shape(p, inputs):
    (x,) = inputs
    require_rank("PositionEmbedding", x, 2, "(steps, features)",
                 "it adds a position to each step of a sequence; put it after an Embedding.")
    require_known("PositionEmbedding", x, -1, "last (features)")
    if p["kind"] == "learned":
        require_known("PositionEmbedding", x, 0, "steps")
    return [x]


declare(
    "PositionEmbedding", category="Embedding",
    description="Adds to each step of a sequence a vector that says where the step is: a "
                "learned table, or the fixed sine/cosine table of the original Transformer.",
    params=[
        Param("kind", CHOICE, "learned", "'learned': a trainable (steps, features) table; "
              "'sinusoidal': fixed sines and cosines of different wavelengths (no weights, "
              "any length).", choices=("learned", "sinusoidal")),
        Param("max_wavelength", FLOAT, 10000.0, "Longest wavelength of the sinusoidal table "
              "(unused when learned).", min=1),
    ],
    shape=_position_shape, has_weights=True,
    param_count=lambda p, i, o: (known(i[0][0]) * i[0][1] if p["kind"] == "learned" else 0),
    flops=lambda p, i, o: known(size(i[0])),
    doc="Attention treats its inputs as a set: without positions a Transformer cannot tell "
        "'not good, bad' from 'not bad, good'. Put it after the token Embedding.",
)

# -- VAE --------------------------------------------------------------------------------------


def _sampling_shape(p, inputs):
    mean, log_var = inputs
    if mean != log_var:
        raise ShapeError(f"Sampling needs the mean and the log-variance to have the same shape, "
                         f"but gets {fmt(mean)} and {fmt(log_var)}: give both Dense layers the "
                         f"same number of units.")
    return [mean]


declare(
    "Sampling", category="Generative",
    description="VAE reparameterisation: draws z = mean + exp(log_var / 2) * noise, so the "
                "sampling step can be back-propagated through. Adds the KL divergence between "
                "N(mean, exp(log_var)) and N(0, 1) to the loss, which keeps the code space "
                "smooth and lets the decoder generate from random codes.",
    params=[
        Param("kl_weight", FLOAT, 1.0, "Weight of the KL-divergence term added to the loss "
              "(summed over the code, averaged over the batch; 0 turns it off). The "
              "reconstruction loss is averaged over the output values, so it is small: too "
              "large a weight pulls every code to N(0, 1) and the decoder can only give the "
              "average sample. Start small (0.005 for 64 outputs) and raise it.", min=0),
    ],
    input_names=("mean", "log_var"), min_inputs=2, max_inputs=2,
    shape=_sampling_shape, flops=lambda p, i, o: 4 * known(size(o[0])),
)


declare(
    "ActivityRegularization", category="Generative",
    description="Passes its input through unchanged and adds an L1 / L2 penalty on the input's "
                "values to the loss (averaged over the batch). After an autoencoder's code "
                "layer, an L1 penalty makes the code sparse: few units active per sample.",
    params=[
        Param("l1", FLOAT, 0.01, "L1 penalty on the values (pushes most of them to zero).",
              min=0),
        Param("l2", FLOAT, 0.0, "L2 penalty on the values (keeps them small).", min=0),
    ],
    shape=lambda p, inputs: [inputs[0]], flops=lambda p, i, o: 2 * known(size(i[0])),
)
