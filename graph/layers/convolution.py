"""Convolutional layers and the spatial helpers that go with them (padding, up-sampling)."""
from __future__ import annotations

from ..catalog import declare
from ..params import BOOL, CHOICE, INT, INT_TUPLE, REGULARIZER_PARAMS, Param, activation_param
from ..shapes import (ShapeError, conv_length, deconv_length, fmt, known, prod, require_known,
                      require_rank)

SPATIAL_RANK = {1: "(steps, channels)", 2: "(height, width, channels)",
                3: "(depth, height, width, channels)"}
HINTS = {
    1: "a 1-D convolution slides along sequences; use Reshape to add a channels axis, "
       "e.g. (100,) -> (100, 1).",
    2: "a 2-D convolution slides over images; use Reshape to make one, e.g. (784,) -> "
       "(28, 28, 1).",
    3: "a 3-D convolution slides through volumes (a video's frames, a scan's slices); use "
       "Reshape to make one, e.g. (4096,) -> (16, 16, 16, 1).",
}


def _as_tuple(value, rank):
    return tuple(value) if isinstance(value, tuple) else (value,) * rank


def _conv_input(layer, x, rank):
    require_rank(layer, x, rank + 1, SPATIAL_RANK[rank], HINTS[rank])
    return require_known(layer, x, -1, "last (channels)")


def _no_strided_dilation(layer, p):
    strides = _as_tuple(p["strides"], 1)
    dilation = _as_tuple(p.get("dilation_rate", 1), 1)
    if max(strides) > 1 and max(dilation) > 1:
        raise ShapeError(f"{layer} cannot combine strides > 1 with dilation_rate > 1; set one "
                         f"of them to 1.")


def _spatial_out(layer, x, rank, p, length_rule):
    kernels = _as_tuple(p["kernel_size"], rank)
    strides = _as_tuple(p["strides"], rank)
    dilation = _as_tuple(p.get("dilation_rate", 1), rank)
    out = tuple(length_rule(n, k, s, p["padding"], d)
                for n, k, s, d in zip(x[:rank], kernels, strides, dilation))
    if any(n is not None and n < 1 for n in out):
        raise ShapeError(
            f"{layer} with kernel {fmt(kernels)} and padding '{p['padding']}' does not fit in "
            f"the input {fmt(x)}: the output would be empty. Use a smaller kernel, "
            f"padding='same', or remove a pooling layer before it.")
    return out


def _conv_params(rank, p, channels, depthwise=False):
    kernel = prod(_as_tuple(p["kernel_size"], rank))
    if depthwise:
        out = channels * p["depth_multiplier"]
        return kernel * out + (out if p["use_bias"] else 0)
    return kernel * channels * p["filters"] + (p["filters"] if p["use_bias"] else 0)


def _declare_conv(type_id, rank, description, paddings=("valid", "same")):
    kernel_kind = INT if rank == 1 else INT_TUPLE
    default = 3 if rank == 1 else (3,) * rank
    one = 1 if rank == 1 else (1,) * rank

    def shape(p, inputs):
        (x,) = inputs
        _conv_input(type_id, x, rank)
        _no_strided_dilation(type_id, p)
        return [_spatial_out(type_id, x, rank, p, conv_length) + (p["filters"],)]

    def flops(p, inputs, outputs):
        positions = prod(known(n) for n in outputs[0][:-1])
        return 2 * positions * prod(_as_tuple(p["kernel_size"], rank)) * inputs[0][-1] * p["filters"]

    declare(
        type_id, category="Convolution", description=description,
        params=[
            Param("filters", INT, 16, "Number of filters (output channels).", min=1,
                  max=100_000),
            Param("kernel_size", kernel_kind, default, "Size of the sliding window.", min=1,
                  max=1024, length=None if rank == 1 else rank),
            Param("strides", kernel_kind, one, "Step between window positions.", min=1,
                  max=1024, length=None if rank == 1 else rank),
            Param("padding", CHOICE, "valid", "'valid': no padding, the output shrinks; "
                  "'same': pad so the output keeps the input's size (for stride 1)"
                  + ("; 'causal': pad only on the left, so no step sees the future."
                     if "causal" in paddings else "."), choices=paddings),
            Param("dilation_rate", kernel_kind, one, "Spacing between kernel taps (atrous "
                  "convolution).", min=1, max=1024, length=None if rank == 1 else rank),
            activation_param(),
            Param("use_bias", BOOL, True, "Add a learned bias per filter."),
            *REGULARIZER_PARAMS,
        ],
        shape=shape, has_weights=True, flops=flops,
        param_count=lambda p, i, o: _conv_params(rank, p, i[0][-1]),
    )


_declare_conv("Conv1D", 1, "Slides learned filters along a sequence (time series, text).",
              paddings=("valid", "same", "causal"))
_declare_conv("Conv2D", 2, "Slides learned filters over an image: each filter detects one "
              "local pattern (an edge, a texture) everywhere in the image.")
_declare_conv("Conv3D", 3, "Slides learned filters through a volume (video frames, medical "
              "scans): each filter detects one local pattern in space and time.")


# -- transposed, depthwise and separable ------------------------------------------------------

def _conv_transpose_shape(p, inputs):
    (x,) = inputs
    _conv_input("Conv2DTranspose", x, 2)
    kernels, strides = p["kernel_size"], p["strides"]
    out = tuple(deconv_length(n, k, s, p["padding"]) for n, k, s in zip(x[:2], kernels, strides))
    return [out + (p["filters"],)]


declare(
    "Conv2DTranspose", category="Convolution",
    description="Transposed ('de-') convolution: learns to up-sample an image, as in the "
                "decoder of a convolutional autoencoder or a GAN generator.",
    params=[
        Param("filters", INT, 16, "Number of output channels.", min=1, max=100_000),
        Param("kernel_size", INT_TUPLE, (3, 3), "Size of the window.", min=1, max=1024,
              length=2),
        Param("strides", INT_TUPLE, (2, 2), "Up-sampling factor per axis.", min=1, max=1024,
              length=2),
        Param("padding", CHOICE, "same", "'same': output = input x strides; 'valid': a little "
              "larger.", choices=("valid", "same")),
        activation_param(),
        Param("use_bias", BOOL, True, "Add a learned bias per filter."),
        *REGULARIZER_PARAMS,
    ],
    shape=_conv_transpose_shape, has_weights=True,
    param_count=lambda p, i, o: _conv_params(2, p, i[0][-1]),
    flops=lambda p, i, o: 2 * prod(known(n) for n in i[0][:-1]) * prod(p["kernel_size"])
    * i[0][-1] * p["filters"],
)


def _conv1d_transpose_shape(p, inputs):
    (x,) = inputs
    _conv_input("Conv1DTranspose", x, 1)
    return [(deconv_length(x[0], p["kernel_size"], p["strides"], p["padding"]), p["filters"])]


declare(
    "Conv1DTranspose", category="Convolution",
    description="Transposed ('de-') convolution along a sequence: learns to up-sample a time "
                "series, as in the decoder of a Conv1D autoencoder.",
    params=[
        Param("filters", INT, 16, "Number of output channels.", min=1, max=100_000),
        Param("kernel_size", INT, 3, "Size of the window.", min=1, max=1024),
        Param("strides", INT, 2, "Up-sampling factor.", min=1, max=1024),
        Param("padding", CHOICE, "same", "'same': output = input x strides; 'valid': a little "
              "longer.", choices=("valid", "same")),
        activation_param(),
        Param("use_bias", BOOL, True, "Add a learned bias per filter."),
        *REGULARIZER_PARAMS,
    ],
    shape=_conv1d_transpose_shape, has_weights=True,
    param_count=lambda p, i, o: _conv_params(1, p, i[0][-1]),
    flops=lambda p, i, o: 2 * known(i[0][0]) * p["kernel_size"] * i[0][-1] * p["filters"],
)


def _depthwise_shape(p, inputs):
    (x,) = inputs
    channels = _conv_input("DepthwiseConv2D", x, 2)
    return [_spatial_out("DepthwiseConv2D", x, 2, p, conv_length)
            + (channels * p["depth_multiplier"],)]


_SPATIAL_PARAMS = [
    Param("kernel_size", INT_TUPLE, (3, 3), "Size of the sliding window.", min=1, max=1024,
          length=2),
    Param("strides", INT_TUPLE, (1, 1), "Step between window positions.", min=1, max=1024,
          length=2),
    Param("padding", CHOICE, "valid", "'valid': no padding; 'same': keep the size.",
          choices=("valid", "same")),
    Param("depth_multiplier", INT, 1, "Output channels per input channel.", min=1, max=1024),
    Param("dilation_rate", INT_TUPLE, (1, 1), "Spacing between kernel taps.", min=1, max=1024,
          length=2),
]

declare(
    "DepthwiseConv2D", category="Convolution",
    description="Convolves each channel with its own filter (no mixing across channels): the "
                "cheap first half of a separable convolution, as in MobileNet.",
    params=[*_SPATIAL_PARAMS, activation_param(),
            Param("use_bias", BOOL, True, "Add a learned bias per output channel."),
            *REGULARIZER_PARAMS],
    shape=_depthwise_shape, has_weights=True,
    param_count=lambda p, i, o: _conv_params(2, p, i[0][-1], depthwise=True),
    flops=lambda p, i, o: 2 * prod(known(n) for n in o[0]) * prod(p["kernel_size"]),
)


def _separable_shape(p, inputs):
    (x,) = inputs
    _conv_input("SeparableConv2D", x, 2)
    return [_spatial_out("SeparableConv2D", x, 2, p, conv_length) + (p["filters"],)]


def _separable_params(p, inputs, outputs):
    channels = inputs[0][-1]
    depthwise = prod(p["kernel_size"]) * channels * p["depth_multiplier"]
    pointwise = channels * p["depth_multiplier"] * p["filters"]
    return depthwise + pointwise + (p["filters"] if p["use_bias"] else 0)


def _separable_flops(p, inputs, outputs):
    positions = prod(known(n) for n in outputs[0][:-1])
    mid = inputs[0][-1] * p["depth_multiplier"]
    return 2 * positions * mid * (prod(p["kernel_size"]) + p["filters"])


declare(
    "SeparableConv2D", category="Convolution",
    description="A depthwise convolution followed by a 1x1 convolution that mixes channels: "
                "almost the power of Conv2D for a fraction of the weights.",
    params=[Param("filters", INT, 16, "Number of output channels.", min=1, max=100_000),
            *_SPATIAL_PARAMS, activation_param(),
            Param("use_bias", BOOL, True, "Add a learned bias per filter."),
            *REGULARIZER_PARAMS],
    shape=_separable_shape, has_weights=True, param_count=_separable_params,
    flops=_separable_flops,
)


# -- padding and up-sampling ------------------------------------------------------------------

def _pads(p):
    """(top, bottom, left, right) from a 2- or 4-entry padding parameter."""
    pad = tuple(p["padding"])
    return (pad[0], pad[0], pad[1], pad[1]) if len(pad) == 2 else pad


def _zero_padding_shape(p, inputs):
    (x,) = inputs
    require_rank("ZeroPadding2D", x, 3, SPATIAL_RANK[2], HINTS[2])
    top, bottom, left, right = _pads(p)
    h, w, c = x
    return [(None if h is None else h + top + bottom, None if w is None else w + left + right, c)]


declare(
    "ZeroPadding2D", category="Convolution",
    description="Adds rows and columns of zeros around an image.",
    params=[Param("padding", INT_TUPLE, (1, 1), "(rows, columns) added on each side, or (top, "
                  "bottom, left, right).", min=0, max=4096, length=(2, 4))],
    shape=_zero_padding_shape, flops=lambda p, i, o: 0,
)


def _cropping1d_shape(p, inputs):
    (x,) = inputs
    require_rank("Cropping1D", x, 2, SPATIAL_RANK[1], HINTS[1].replace("convolution", "crop"))
    start, end = p["cropping"]
    steps, c = x
    if steps is not None and steps - start - end < 1:
        raise ShapeError(f"Cropping1D removes {start} + {end} steps from an input of {steps}: "
                         f"nothing would be left. Crop less.")
    return [(None if steps is None else steps - start - end, c)]


declare(
    "Cropping1D", category="Convolution",
    description="Cuts steps off the start and the end of a sequence (the reverse of padding).",
    params=[Param("cropping", INT_TUPLE, (1, 1), "(start, end): steps removed at each end.",
                  min=0, max=4096, length=2)],
    shape=_cropping1d_shape, flops=lambda p, i, o: 0,
)


def _cropping2d_shape(p, inputs):
    (x,) = inputs
    require_rank("Cropping2D", x, 3, SPATIAL_RANK[2], HINTS[2].replace("convolution", "crop"))
    top, bottom, left, right = _pads({"padding": p["cropping"]})
    h, w, c = x
    for n, a, b, what in ((h, top, bottom, "rows"), (w, left, right, "columns")):
        if n is not None and n - a - b < 1:
            raise ShapeError(f"Cropping2D removes {a} + {b} {what} from an input of {n} "
                             f"{what} {fmt(x)}: nothing would be left. Crop less.")
    return [(None if h is None else h - top - bottom, None if w is None else w - left - right, c)]


declare(
    "Cropping2D", category="Convolution",
    description="Cuts rows and columns off the borders of an image (the reverse of padding; "
                "U-Nets use it to match a skip connection's size).",
    params=[Param("cropping", INT_TUPLE, (1, 1), "(rows, columns) removed on each side, or "
                  "(top, bottom, left, right).", min=0, max=4096, length=(2, 4))],
    shape=_cropping2d_shape, flops=lambda p, i, o: 0,
)


def _upsampling_shape(p, inputs):
    (x,) = inputs
    require_rank("UpSampling2D", x, 3, SPATIAL_RANK[2], HINTS[2])
    h, w, c = x
    sh, sw = p["size"]
    return [(None if h is None else h * sh, None if w is None else w * sw, c)]


declare(
    "UpSampling2D", category="Convolution",
    description="Enlarges an image by repeating (or interpolating) its pixels.",
    params=[Param("size", INT_TUPLE, (2, 2), "Factor for rows and columns.", min=1, max=1024,
                  length=2),
            Param("interpolation", CHOICE, "nearest", "How new pixels are filled in.",
                  choices=("nearest", "bilinear"))],
    shape=_upsampling_shape,
)
