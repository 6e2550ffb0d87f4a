"""Recurrent layers: SimpleRNN, LSTM, GRU, the Bidirectional wrapper and ConvLSTM2D."""
from __future__ import annotations

from ..catalog import declare
from ..params import (BOOL, CHOICE, FLOAT, INT, INT_TUPLE, REGULARIZER_PARAMS, Param,
                      activation_param)
from ..shapes import (MissingInput, ShapeError, conv_length, fmt, known, prod, require_known,
                      require_rank)

# gates per cell and states carried between time steps
GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
STATES = {"SimpleRNN": ("state",), "LSTM": ("state_h", "state_c"), "GRU": ("state",)}
DESCRIPTIONS = {
    "SimpleRNN": "The plainest recurrent layer: its state is tanh(W x_t + U h_(t-1) + b). "
                 "Forgets quickly: gradients vanish over long sequences.",
    "LSTM": "Long short-term memory: input, forget and output gates guard a cell state that "
            "can carry information over hundreds of steps.",
    "GRU": "Gated recurrent unit: like an LSTM with two gates and no separate cell state; "
           "fewer weights, often as good.",
}


def _sequence_input(layer, x):
    require_rank(layer, x, 2, "(time steps, features)",
                 "recurrent layers read sequences; use Reshape to make one, e.g. (30,) -> "
                 "(30, 1), or an Embedding for token ids.")
    return require_known(layer, x, -1, "last (features)")


def _cell_params(cell, p, features):
    units = p["units"]
    weights = units * (features + units)
    if not p["use_bias"]:
        bias = 0
    elif cell == "GRU" and p.get("reset_after", True):
        bias = 2 * units           # Keras keeps separate input and recurrent biases
    else:
        bias = units
    return GATES[cell] * (weights + bias)


def _cell_flops(cell, p, x):
    steps = known(x[0])
    return 2 * steps * GATES[cell] * p["units"] * (x[-1] + p["units"])


def _recurrent_params(cell, wrapped=False):
    params = [
        Param("units", INT, 32, "Size of the hidden state.", min=1, max=100_000),
        activation_param("tanh", help="Non-linearity of the state update."),
    ]
    if cell != "SimpleRNN":
        params.append(activation_param("sigmoid", "recurrent_activation",
                                       "Non-linearity of the gates."))
    params += [
        Param("use_bias", BOOL, True, "Learn biases."),
        Param("return_sequences", BOOL, False, "Output the state at every time step (for "
              "stacking recurrent layers) instead of only the last one."),
        Param("return_state", BOOL, False, "Also output the final state(s), e.g. to start a "
              "decoder (seq2seq)."),
    ]
    if not wrapped:
        params.append(Param("go_backwards", BOOL, False, "Read the sequence from the end."))
    params += [
        Param("dropout", FLOAT, 0.0, "Dropout on the inputs of each step.", min=0, max=1,
              max_exclusive=True),
        Param("recurrent_dropout", FLOAT, 0.0, "Dropout on the state between steps.", min=0,
              max=1, max_exclusive=True),
    ]
    if cell == "GRU" or wrapped:
        params.append(Param("reset_after", BOOL, True, "GRU only: apply the reset gate after "
                            "the matrix product (the Keras and cuDNN default)."))
    return params + list(REGULARIZER_PARAMS)


#: the optional input ports after the sequence: the state each layer starts from (zeros
#: when unwired), as Keras's `layer(x, initial_state=[...])`
INITIAL_STATES = {"SimpleRNN": ("initial_h",), "LSTM": ("initial_h", "initial_c"),
                  "GRU": ("initial_h",)}


def _initial_states(cell, units, states):
    """Check the shapes wired into the initial-state ports: each (units,), and an LSTM's
    h and c together (Keras takes both or neither)."""
    names = INITIAL_STATES[cell]
    for name, s in zip(names, states):
        if tuple(s) != (units,):
            raise ShapeError(f"{cell}'s {name} port needs the initial state, shaped "
                             f"({units},) for units={units}, but gets {fmt(s)}: wire a state "
                             f"output of a recurrent layer with {units} units (or a "
                             f"Dense({units})).")
    if 0 < len(states) < len(names):
        raise MissingInput(f"{cell} starts from {' and '.join(names)} together: its "
                           f"{names[len(states)]} port is not wired (wire both, or neither "
                           f"to start from zeros).")


def _declare_recurrent(cell):
    def output_names(p):
        return ["output", *STATES[cell]] if p["return_state"] else ["output"]

    def shape(p, inputs):
        x, *states = inputs
        _sequence_input(cell, x)
        _initial_states(cell, p["units"], states)
        out = (x[0], p["units"]) if p["return_sequences"] else (p["units"],)
        states = [(p["units"],)] * len(STATES[cell]) if p["return_state"] else []
        return [out, *states]

    declare(
        cell, category="Recurrent", description=DESCRIPTIONS[cell],
        params=_recurrent_params(cell),
        input_names=("input", *INITIAL_STATES[cell]), min_inputs=1,
        max_inputs=1 + len(INITIAL_STATES[cell]),
        shape=shape, outputs=lambda p: len(output_names(p)), output_names=output_names,
        param_count=lambda p, i, o: _cell_params(cell, p, i[0][-1]), has_weights=True,
        doc=f"Optional input ports {' and '.join(INITIAL_STATES[cell])}: the state(s) the "
            f"layer starts from, each (units,) (zeros when unwired), e.g. the state outputs "
            f"of an encoder with return_state (seq2seq).",
        flops=lambda p, i, o: _cell_flops(cell, p, i[0]),
    )


for _cell in GATES:
    _declare_recurrent(_cell)


# -- Bidirectional ----------------------------------------------------------------------------

MERGE_MODES = ("concat", "sum", "mul", "ave", "none")


def _bidirectional_names(p):
    outs = ["forward", "backward"] if p["merge_mode"] == "none" else ["output"]
    if p["return_state"]:
        states = STATES[p["layer"]]
        outs += [f"forward_{s}" for s in states] + [f"backward_{s}" for s in states]
    return outs


def _bidirectional_shape(p, inputs):
    (x,) = inputs
    _sequence_input("Bidirectional", x)
    units = p["units"]
    width = 2 * units if p["merge_mode"] == "concat" else units
    steps = (x[0],) if p["return_sequences"] else ()
    outs = [steps + (units,)] * 2 if p["merge_mode"] == "none" else [steps + (width,)]
    if p["return_state"]:
        outs += [(units,)] * (2 * len(STATES[p["layer"]]))
    return outs


declare(
    "Bidirectional", category="Recurrent",
    description="Runs a recurrent layer forwards and a copy backwards over the sequence and "
                "joins their outputs, so every step sees both its past and its future.",
    params=[
        Param("layer", CHOICE, "LSTM", "The recurrent layer to run in both directions.",
              choices=tuple(GATES)),
        Param("merge_mode", CHOICE, "concat", "How the two directions are joined ('none': "
              "two separate outputs).", choices=MERGE_MODES),
        *_recurrent_params("LSTM", wrapped=True),
    ],
    shape=_bidirectional_shape, has_weights=True,
    outputs=lambda p: len(_bidirectional_names(p)), output_names=_bidirectional_names,
    param_count=lambda p, i, o: 2 * _cell_params(p["layer"], p, i[0][-1]),
    flops=lambda p, i, o: 2 * _cell_flops(p["layer"], p, i[0]),
)


# -- ConvLSTM2D -------------------------------------------------------------------------------

def _conv_lstm_shape(p, inputs):
    (x,) = inputs
    require_rank("ConvLSTM2D", x, 4, "(time steps, height, width, channels)",
                 "a convolutional LSTM reads a sequence of images (video frames); use Reshape "
                 "to make one, e.g. (10, 784) -> (10, 28, 28, 1).")
    require_known("ConvLSTM2D", x, -1, "last (channels)")
    require_known("ConvLSTM2D", x, 1, "height (Keras's ConvLSTM needs fixed frame sizes)")
    require_known("ConvLSTM2D", x, 2, "width (Keras's ConvLSTM needs fixed frame sizes)")
    out = tuple(conv_length(n, k, s, p["padding"], 1)
                for n, k, s in zip(x[1:3], p["kernel_size"], p["strides"]))
    if any(n is not None and n < 1 for n in out):
        raise ShapeError(f"ConvLSTM2D with kernel {fmt(p['kernel_size'])} and padding "
                         f"'{p['padding']}' does not fit in the frames {fmt(x)}: the output "
                         f"would be empty. Use a smaller kernel or padding='same'.")
    frame = out + (p["filters"],)
    return [((x[0],) + frame) if p["return_sequences"] else frame]


def _conv_lstm_params(p, inputs, outputs):
    taps = prod(p["kernel_size"])
    channels, filters = inputs[0][-1], p["filters"]
    return 4 * (taps * (channels + filters) * filters + (filters if p["use_bias"] else 0))


def _conv_lstm_flops(p, inputs, outputs):
    frame = outputs[0][-3:]
    positions = prod(known(n) for n in frame[:2])
    taps = prod(p["kernel_size"])
    return (2 * known(inputs[0][0]) * positions * taps * 4 * p["filters"]
            * (inputs[0][-1] + p["filters"]))


declare(
    "ConvLSTM2D", category="Recurrent",
    description="An LSTM whose gates are convolutions: reads a sequence of images (video "
                "frames, radar maps) and keeps an image-shaped state, for predicting the next "
                "frame or classifying a clip.",
    params=[
        Param("filters", INT, 16, "Channels of the state (and of the output).", min=1,
              max=100_000),
        Param("kernel_size", INT_TUPLE, (3, 3), "Size of the window of the input and state "
              "convolutions.", min=1, max=1024, length=2),
        Param("strides", INT_TUPLE, (1, 1), "Step of the input convolution (the state "
              "convolution always steps by 1).", min=1, max=1024, length=2),
        Param("padding", CHOICE, "same", "Of the input convolution: 'same' keeps the frame "
              "size; 'valid' shrinks it (the state convolution is always 'same').",
              choices=("valid", "same")),
        activation_param("tanh", help="Non-linearity of the state update."),
        activation_param("sigmoid", "recurrent_activation", "Non-linearity of the gates."),
        Param("use_bias", BOOL, True, "Learn biases."),
        Param("return_sequences", BOOL, False, "Output the state at every time step instead "
              "of only the last one."),
        Param("go_backwards", BOOL, False, "Read the sequence from the end."),
        *REGULARIZER_PARAMS,
    ],
    shape=_conv_lstm_shape, has_weights=True, param_count=_conv_lstm_params,
    flops=_conv_lstm_flops,
)
