"""Training settings stored in a `.graph` file, declared like layer parameters.

Losses and optimizers are declared here once (name, description, parameters); both backends
register how to compute them, as they do for layers.
"""
from __future__ import annotations

from dataclasses import dataclass

from .params import BOOL, CHOICE, FLOAT, INT, TEXT, Param, ParamSet


@dataclass(frozen=True)
class Choice:
    """A named option (a loss, an optimizer) with a description and its own parameters."""
    name: str
    description: str
    params: ParamSet = ParamSet()


LOSSES = {c.name: c for c in [
    Choice("mse", "Mean squared error: the average of (prediction - target)^2. For regression."),
    Choice("mae", "Mean absolute error: less sensitive to outliers than MSE."),
    Choice("huber", "Squared error for small errors, absolute error for large ones.",
           ParamSet((Param("delta", FLOAT, 1.0, "Where the loss turns from squared to linear.",
                           min=0, min_exclusive=True),))),
    Choice("binary_crossentropy", "For yes/no targets (0 or 1) with a sigmoid output."),
    Choice("categorical_crossentropy", "For one-hot class targets with a softmax output."),
    Choice("sparse_categorical_crossentropy", "For integer class targets with a softmax output."),
    Choice("hinge", "Margin loss of support vector machines; targets are -1 or 1."),
]}

LR = Param("learning_rate", FLOAT, 0.01, "Step size of each update.", min=0, min_exclusive=True,
           max=10)
OPTIMIZERS = {c.name: c for c in [
    Choice("sgd", "Stochastic gradient descent, optionally with momentum (Nesterov or not).",
           ParamSet((LR, Param("momentum", FLOAT, 0.0, "Fraction of the last step kept.", min=0,
                               max=1, max_exclusive=True),
                     Param("nesterov", BOOL, False, "Look ahead before taking the gradient.")))),
    Choice("adagrad", "Per-weight step sizes that shrink with the sum of past squared gradients.",
           ParamSet((LR, Param("epsilon", FLOAT, 1e-7, "Added to the denominator.", min=0,
                               min_exclusive=True)))),
    Choice("rmsprop", "Per-weight step sizes from a moving average of squared gradients.",
           ParamSet((Param("learning_rate", FLOAT, 0.001, LR.help, min=0, min_exclusive=True,
                           max=10),
                     Param("rho", FLOAT, 0.9, "Decay of the moving average.", min=0, max=1),
                     Param("momentum", FLOAT, 0.0, "Momentum.", min=0, max=1,
                           max_exclusive=True),
                     Param("epsilon", FLOAT, 1e-7, "Added to the denominator.", min=0,
                           min_exclusive=True)))),
    Choice("adam", "Momentum plus RMSProp-style step sizes, with bias correction: the usual "
                   "first choice.",
           ParamSet((Param("learning_rate", FLOAT, 0.001, LR.help, min=0, min_exclusive=True,
                           max=10),
                     Param("beta_1", FLOAT, 0.9, "Decay of the gradient average.", min=0, max=1,
                           max_exclusive=True),
                     Param("beta_2", FLOAT, 0.999, "Decay of the squared-gradient average.",
                           min=0, max=1, max_exclusive=True),
                     Param("epsilon", FLOAT, 1e-7, "Added to the denominator.", min=0,
                           min_exclusive=True)))),
    Choice("adamw", "Adam with weight decay applied directly to the weights.",
           ParamSet((Param("learning_rate", FLOAT, 0.001, LR.help, min=0, min_exclusive=True,
                           max=10),
                     Param("weight_decay", FLOAT, 0.004, "Fraction of each weight removed per "
                           "step (times the learning rate).", min=0),
                     Param("beta_1", FLOAT, 0.9, "Decay of the gradient average.", min=0, max=1,
                           max_exclusive=True),
                     Param("beta_2", FLOAT, 0.999, "Decay of the squared-gradient average.",
                           min=0, max=1, max_exclusive=True),
                     Param("epsilon", FLOAT, 1e-7, "Added to the denominator.", min=0,
                           min_exclusive=True)))),
]}

METRICS = ("accuracy", "mse", "mae")

# The settings themselves: every field with its type, default and range.
SETTINGS = ParamSet((
    Param("dataset", TEXT, "", "Built-in data set name (digits, iris, xor, ...) or a path to "
          "a CSV / NPZ file or an image folder, relative to the project file."),
    Param("streaming", CHOICE, "auto", "Read a CSV file or an image folder from disk batch "
          "by batch while training (on), load it into memory (off), or stream it when its "
          "decoded size is over 512 MB (auto).", choices=("auto", "on", "off")),
    Param("loss", CHOICE, "categorical_crossentropy", "What training minimises.",
          choices=tuple(LOSSES)),
    Param("from_logits", BOOL, False, "The output layer has no softmax/sigmoid; the loss "
          "applies it (numerically safer)."),
    Param("optimizer", CHOICE, "adam", "How the weights are updated.", choices=tuple(OPTIMIZERS)),
    Param("batch_size", INT, 32, "Samples per update: 1 is stochastic, the whole set is batch "
          "gradient descent, in between is mini-batch.", min=1, max=1_000_000),
    Param("epochs", INT, 10, "Passes over the training set.", min=1, max=1_000_000),
    Param("seed", INT, 0, "Seed for weight initialisation, shuffling and the data split.",
          min=0, max=2**31 - 1),
    Param("validation_split", FLOAT, 0.15, "Fraction of the data kept for validation.", min=0,
          max=1, max_exclusive=True),
    Param("test_split", FLOAT, 0.15, "Fraction of the data kept for the final test.", min=0,
          max=1, max_exclusive=True),
    Param("normalize", CHOICE, "none", "Input scaling: min-max to [0, 1] or standardise to "
          "mean 0, std 1.", choices=("none", "minmax", "standard")),
    Param("augment_copies", INT, 0, "Image augmentation: how many randomly flipped / shifted / "
          "rotated copies of each training image to add (0: none).", min=0, max=20),
    Param("augment_flip", BOOL, False, "Augmented copies may be mirrored left-right (not for "
          "digits or text, whose meaning changes)."),
    Param("augment_shift", INT, 1, "Augmented copies are shifted by up to this many pixels.",
          min=0, max=64),
    Param("augment_rotate", FLOAT, 10.0, "Augmented copies are rotated by up to this many "
          "degrees.", min=0, max=180),
    Param("one_hot", BOOL, True, "Turn integer class labels into one-hot vectors."),
    Param("early_stopping_patience", INT, 0, "Stop after this many epochs without a better "
          "validation loss (0: never stop early).", min=0, max=100_000),
    Param("restore_best_weights", BOOL, True, "On early stopping, go back to the best weights."),
    Param("l1", FLOAT, 0.0, "L1 penalty for every layer with weights (a layer's own l1, if "
          "larger, wins): pushes weights to exactly zero.", min=0),
    Param("l2", FLOAT, 0.0, "L2 penalty (weight decay) for every layer with weights (a layer's "
          "own l2, if larger, wins).", min=0),
    Param("clip_norm", FLOAT, 0.0, "Clip each gradient to this norm (0: no clipping).", min=0),
    Param("backend", CHOICE, "numpy", "Which engine trains the network.",
          choices=("numpy", "keras")),
    Param("device", CHOICE, "auto", "Keras backend: a GPU when TensorFlow sees one (auto), or "
          "force the CPU or the GPU.", choices=("auto", "cpu", "gpu")),
    Param("mode", CHOICE, "supervised", "What the network learns: targets from labels, to "
          "reconstruct its input (autoencoder), a VAE, or a GAN.",
          choices=("supervised", "autoencoder", "vae", "gan")),
    Param("input_noise", FLOAT, 0.0, "Autoencoder and VAE modes: standard deviation of the "
          "Gaussian noise added to the inputs (not to the targets), so the network learns to "
          "remove it (a denoising autoencoder; 0: none).", min=0, max=100),
    Param("arrays", TEXT, "", "Several Inputs or outputs: which array of the data set feeds "
          "which node, as node=array pairs (e.g. input_1=encoder_in, input_2=decoder_in); a "
          "node not named here takes the array named after its id (x / y: a lone Input / "
          "output)."),
))


def default_settings() -> dict:
    return {**SETTINGS.defaults(), "optimizer_params": dict(OPTIMIZERS["adam"].params.defaults()),
            "loss_params": {}, "metrics": ["accuracy"]}


def settings_problems(settings: dict) -> list[tuple[str, str]]:
    """(key, sentence) for every training setting that is not allowed."""
    out = []
    for key, value in settings.items():
        if key in SETTINGS:
            problem = SETTINGS[key].check(value)
            if problem:
                out.append((key, problem))
    # Settings come from files: a list or an object where a name belongs must be a problem,
    # not a TypeError from using it as a key.
    optimizer, loss = settings.get("optimizer"), settings.get("loss")
    out += _option_problems("optimizer_params",
                            OPTIMIZERS.get(optimizer) if isinstance(optimizer, str) else None,
                            settings.get("optimizer_params", {}))
    out += _option_problems("loss_params", LOSSES.get(loss) if isinstance(loss, str) else None,
                            settings.get("loss_params", {}))
    metrics = settings.get("metrics", [])
    if not isinstance(metrics, list) or any(not isinstance(m, str) or m not in METRICS
                                            for m in metrics):
        out.append(("metrics", f"must be a list of {', '.join(METRICS)}"))
    splits = [settings.get("validation_split", 0), settings.get("test_split", 0)]
    if (all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in splits)
            and sum(splits) >= 1):
        out.append(("test_split", "validation and test together must leave data for training"))
    return out


def _option_problems(prefix: str, choice: Choice | None, values: dict) -> list[tuple[str, str]]:
    if choice is None:
        return []
    if not isinstance(values, dict):
        return [(prefix, "must be a mapping of parameter names to values")]
    out = []
    for key, value in values.items():
        if key not in choice.params:
            out.append((f"{prefix}.{key}", f"{choice.name} has no parameter {key!r}"))
        else:
            problem = choice.params[key].check(value)
            if problem:
                out.append((f"{prefix}.{key}", problem))
    return out
