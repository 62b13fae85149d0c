"""Convolution layers: Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
(``keras/src/layers/convolutional``).

``BaseConv`` holds the shared arguments, validation, shape rule, bias and activation once; each
concrete layer states its rank and its weights and calls into ``engine.kernels.conv``.  1-D layers
run the 2-D kernels with a height-1 axis.  channels_last only.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from engine.activations import get_activation
from engine.errors import ConfigError
from engine.kernels import conv as kc
from engine.layers.base import Field, Layer, WeightSpec, register_layer
from engine.shapes import Shape, conv_output_length, deconv_output_length, fmt_shape

_RANK_TEXT = {1: "a 3-D input (batch, steps, channels)", 2: "a 4-D input (batch, height, width, channels)"}
_AXIS_NAMES = {1: ("steps",), 2: ("height", "width")}
_KEPT = "Kept for Keras round trips; not applied by the engine."


def _passthrough(*names: str) -> tuple[Field, ...]:
    return tuple(Field(n, "json", None, _KEPT) for n in names)


def _window_fields(rank: int, paddings: tuple[str, ...] = ("valid", "same")) -> tuple[Field, ...]:
    pad_doc = ("'valid' uses only full windows; 'same' pads so that output = ceil(input / strides)"
               + ("; 'causal' pads on the left only, so no output sees the future." if "causal" in paddings else "."))
    return (
        Field("kernel_size", "ints", doc="Size of the convolution window, e.g. 3 or (3, 3).", length=rank, min=1),
        Field("strides", "ints", (1,) * rank, "Step of the window along each axis.", length=rank, min=1),
        Field("padding", "choice", "valid", pad_doc, choices=paddings),
    )


DATA_FORMAT = Field("data_format", "choice", "channels_last",
                    "Axis order; the engine supports channels_last (batch, ..., channels) only.",
                    choices=("channels_last",), optional=True)


def _dilation(rank: int) -> Field:
    return Field("dilation_rate", "ints", (1,) * rank, "Spacing between kernel taps (atrous convolution).",
                 length=rank, min=1)


FILTERS = Field("filters", "int", doc="Number of output channels (filters).", min=1)
ACTIVATION = Field("activation", "activation", None, "Activation applied to the output (None = linear).",
                   optional=True)
USE_BIAS = Field("use_bias", "bool", True, "Whether to add a learned bias vector.")
DEPTH_MULTIPLIER = Field("depth_multiplier", "int", 1, "Output channels per input channel in the depthwise step.",
                         min=1)


class BaseConv(Layer):
    """Shared machinery of the convolution layers (arguments, shape rule, bias, activation)."""

    family = "convolutional"
    rank: ClassVar[int] = 2
    #: Keras rejects ``strides > 1`` together with ``dilation_rate > 1`` for these layers.
    no_strided_dilation: ClassVar[bool] = True

    # ----- configuration ----------------------------------------------------------------------------
    def check_config(self) -> None:
        cfg = self.config
        if self.no_strided_dilation and max(cfg["strides"]) > 1 and max(cfg["dilation_rate"]) > 1:
            raise ConfigError(
                f"{self.owner}: strides {cfg['strides']} cannot be combined with dilation_rate "
                f"{cfg['dilation_rate']}; set one of them to 1.", "dilation_rate")
        groups = cfg.get("groups", 1)
        if "filters" in cfg and cfg["filters"] % groups:
            raise ConfigError(
                f"{self.owner}: filters={cfg['filters']} is not divisible by groups={groups}; choose filters "
                f"as a multiple of groups.", "groups")

    def _size_text(self, sizes: tuple[int, ...]) -> str:
        return "×".join(map(str, sizes))

    def _window_summary(self) -> str:
        cfg = self.config
        parts = []
        if max(cfg["strides"]) > 1:
            parts.append(f"stride {self._size_text(cfg['strides'])}")
        if cfg["padding"] != "valid":
            parts.append(cfg["padding"])
        if max(cfg["dilation_rate"]) > 1:
            parts.append(f"dilation {self._size_text(cfg['dilation_rate'])}")
        if cfg.get("groups", 1) > 1:
            parts.append(f"{cfg['groups']} groups")
        act = cfg["activation"]
        if act and act != "linear":
            parts.append(act)
        return "".join(f", {p}" for p in parts)

    def summary_args(self) -> str:
        return f"{self.config['filters']} filters {self._size_text(self.config['kernel_size'])}" + \
            self._window_summary()

    # ----- shapes -----------------------------------------------------------------------------------
    def _channels(self, shape: Shape) -> int:
        """Validate the rank and return the (known) channel count of ``shape``."""
        if len(shape) != self.rank + 2:
            fix = "add a Reshape before it" if len(shape) < self.rank + 2 else "use a matching layer or a Reshape"
            if self.rank == 2 and len(shape) == 2:
                fix = "add a Reshape to (height, width, channels) before it"
            raise self.shape_error(f"expects {_RANK_TEXT[self.rank]} but gets {fmt_shape(shape)}; {fix}.")
        if shape[-1] is None:
            raise self.shape_error(f"needs a known channel dimension but gets {fmt_shape(shape)}; "
                                   "give the Input a full shape.")
        return shape[-1]

    def _conv_spatial(self, shape: Shape) -> list[int | None]:
        """Output spatial sizes of the forward convolution, with a readable error when the input is too small."""
        cfg = self.config
        out = []
        for axis, n, k, s, d in zip(_AXIS_NAMES[self.rank], shape[1:-1], cfg["kernel_size"], cfg["strides"],
                                    cfg["dilation_rate"]):
            o = conv_output_length(n, k, cfg["padding"], s, d)
            if o is not None and o <= 0:
                span = d * (k - 1) + 1
                window = f"kernel_size {k}" + (f" with dilation_rate {d} spans {span}" if d > 1 else "")
                raise self.shape_error(
                    f"needs at least {span} input {axis} for its {window} but the input {fmt_shape(shape)} has "
                    f"{axis} {n}; use padding='same', a smaller kernel_size, or a larger input.")
            out.append(o)
        return out

    # ----- 1-D as 2-D -------------------------------------------------------------------------------
    def _pair(self, key: str) -> tuple[int, int]:
        v = self.config[key]
        return (1, v[0]) if self.rank == 1 else tuple(v)

    def _lift(self, a: np.ndarray) -> np.ndarray:
        """``(batch, steps, c)`` -> ``(batch, 1, steps, c)`` for 1-D layers (a view)."""
        return a[:, None] if self.rank == 1 else a

    def _drop(self, a: np.ndarray) -> np.ndarray:
        return a[:, 0] if self.rank == 1 else a

    def _geometry(self, x2: np.ndarray, groups: int = 1) -> kc.ConvGeometry:
        return kc.conv_geometry(x2.shape, self._pair("kernel_size"), self._pair("strides"),
                                self._pair("dilation_rate"), self.config["padding"], groups)

    # ----- bias + activation ------------------------------------------------------------------------
    def _finish(self, z: np.ndarray, weights: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if self.config["use_bias"]:
            z += weights["bias"]
        return z, get_activation(self.config["activation"]).fn(z)

    def _pre_activation_grad(self, grad_out: np.ndarray, z: np.ndarray, y: np.ndarray,
                             grads: dict[str, np.ndarray]) -> np.ndarray:
        """dL/dz; also fills the bias gradient."""
        g = get_activation(self.config["activation"]).grad(z, y, grad_out)
        if self.config["use_bias"]:
            grads["bias"] = g.reshape(-1, g.shape[-1]).sum(axis=0)
        return g

    def _bias_spec(self, n: int) -> list[WeightSpec]:
        return [WeightSpec("bias", (n,), self.config["bias_initializer"])] if self.config["use_bias"] else []


class _Conv(BaseConv):
    """Regular (optionally grouped) convolution of rank 1 or 2."""

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        c = self._channels(shape)
        groups = self.config["groups"]
        if c % groups:
            raise self.shape_error(
                f"has groups={groups} but its input {fmt_shape(shape)} has {c} channels; the channel count must "
                f"be divisible by groups (use groups=1 or change the previous layer's channels).")
        return (shape[0], *self._conv_spatial(shape), self.config["filters"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        cin = input_shapes[0][-1]
        k = WeightSpec("kernel", (*self.config["kernel_size"], cin // self.config["groups"], self.config["filters"]),
                       self.config["kernel_initializer"])
        return [k, *self._bias_spec(self.config["filters"])]

    def forward(self, inputs, weights, *, training=False, rng=None):
        x2 = self._lift(inputs[0])
        kernel = weights["kernel"]
        geo = self._geometry(x2, self.config["groups"])
        z, cols = kc.conv2d_forward(x2, kernel.reshape(*self._pair("kernel_size"), *kernel.shape[-2:]), geo)
        z, y = self._finish(z, weights)
        return self._drop(y), (cols, geo, z, y)

    def backward(self, grad_out, cache, weights):
        cols, geo, z, y = cache
        grads: dict[str, np.ndarray] = {}
        g = self._pre_activation_grad(self._lift(grad_out), z, y, grads)
        kernel = weights["kernel"]
        dx, dk = kc.conv2d_backward(g, cols, kernel.reshape(*self._pair("kernel_size"), *kernel.shape[-2:]), geo)
        grads = {"kernel": dk.reshape(kernel.shape), **grads}
        return [self._drop(dx)], grads


_CONV_TAIL = (
    ACTIVATION, USE_BIAS,
    Field("kernel_initializer", "initializer", "glorot_uniform", "Initializer of the kernel."),
    Field("bias_initializer", "initializer", "zeros", "Initializer of the bias vector."),
    *_passthrough("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                  "bias_constraint"),
)
_GROUPS = Field("groups", "int", 1, "Split input and filters into this many independent groups "
                "(both channel counts must be divisible by it).", min=1)


@register_layer
class Conv1D(_Conv):
    """1-D convolution over steps (temporal convolution): ``activation(conv1d(x, kernel) + bias)``.

    Args:
        filters: number of output channels.
        kernel_size: length of the convolution window.
        strides: step of the window.
        padding: 'valid', 'same' or 'causal' (left padding only, for sequence models).
        dilation_rate: spacing between kernel taps.
        groups: number of channel groups (grouped convolution).
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, steps, channels)``.  Output shape: ``(batch, new_steps, filters)``.
    """

    class_name = "Conv1D"
    rank = 1
    fields = (FILTERS, *_window_fields(1, ("valid", "same", "causal")), DATA_FORMAT, _dilation(1), _GROUPS,
              *_CONV_TAIL)


@register_layer
class Conv2D(_Conv):
    """2-D convolution over images: ``activation(conv2d(x, kernel) + bias)``.

    Args:
        filters: number of output channels.
        kernel_size: height and width of the convolution window, e.g. 3 or (3, 3).
        strides: step of the window along height and width.
        padding: 'valid' (no padding) or 'same' (output = ceil(input / strides)).
        dilation_rate: spacing between kernel taps (atrous convolution).
        groups: number of channel groups (grouped convolution).
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, new_height, new_width, filters)``.
    """

    class_name = "Conv2D"
    rank = 2
    fields = (FILTERS, *_window_fields(2), DATA_FORMAT, _dilation(2), _GROUPS, *_CONV_TAIL)


@register_layer
class Conv2DTranspose(BaseConv):
    """Transposed 2-D convolution ("deconvolution"): upsamples by ``strides`` with a learned kernel.

    Args:
        filters: number of output channels.
        kernel_size: height and width of the convolution window.
        strides: upsampling factor along height and width.
        padding: 'valid' or 'same' ('same' gives output = input * strides).
        output_padding: extra rows/columns added at the bottom/right (each < strides); None infers it.
        dilation_rate: spacing between kernel taps.
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, new_height, new_width, filters)``.
    """

    class_name = "Conv2DTranspose"
    rank = 2
    fields = (FILTERS, *_window_fields(2),
              Field("output_padding", "ints", None, "Extra output rows/columns at the bottom/right, each smaller "
                    "than strides (None = inferred).", length=2, min=0, optional=True),
              DATA_FORMAT, _dilation(2), *_CONV_TAIL)

    def check_config(self) -> None:
        super().check_config()
        op = self.config["output_padding"]
        if op is not None:
            for axis, p, s in zip(("height", "width"), op, self.config["strides"]):
                if p >= s:
                    raise ConfigError(
                        f"{self.owner}: output_padding {p} along {axis} must be smaller than the stride {s}; "
                        f"lower output_padding or leave it empty.", "output_padding")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self._channels(shape)
        cfg = self.config
        ops = cfg["output_padding"] or (None, None)
        out = []
        for axis, n, k, s, d, op in zip(_AXIS_NAMES[2], shape[1:-1], cfg["kernel_size"], cfg["strides"],
                                        cfg["dilation_rate"], ops):
            o = deconv_output_length(n, k, cfg["padding"], s, d, op)
            if o is not None and o <= 0:
                raise self.shape_error(
                    f"would produce an empty output along {axis} from the input {fmt_shape(shape)}; use "
                    f"padding='valid', an odd kernel_size, or a larger output_padding.")
            out.append(o)
        return (shape[0], *out, cfg["filters"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        cin = input_shapes[0][-1]
        k = WeightSpec("kernel", (*self.config["kernel_size"], self.config["filters"], cin),
                       self.config["kernel_initializer"])
        return [k, *self._bias_spec(self.config["filters"])]

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        cfg = self.config
        geo = kc.transpose_geometry(x.shape, cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"],
                                    cfg["padding"], cfg["output_padding"])
        z = np.ascontiguousarray(kc.conv2d_transpose_forward(x, weights["kernel"], geo))
        z, y = self._finish(z, weights)
        return y, (x, geo, z, y)

    def backward(self, grad_out, cache, weights):
        x, geo, z, y = cache
        grads: dict[str, np.ndarray] = {}
        g = self._pre_activation_grad(grad_out, z, y, grads)
        dx, dk = kc.conv2d_transpose_backward(g, x, weights["kernel"], geo)
        return [dx], {"kernel": dk, **grads}


@register_layer
class DepthwiseConv2D(BaseConv):
    """Depthwise 2-D convolution: each input channel is convolved with its own ``depth_multiplier`` filters.

    Args:
        kernel_size: height and width of the convolution window.
        strides: step of the window along height and width.
        padding: 'valid' or 'same'.
        depth_multiplier: output channels per input channel.
        dilation_rate: spacing between kernel taps.
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, new_height, new_width, channels * depth_multiplier)``.
    """

    class_name = "DepthwiseConv2D"
    rank = 2
    no_strided_dilation = False
    fields = (*_window_fields(2), DEPTH_MULTIPLIER, DATA_FORMAT, _dilation(2), ACTIVATION, USE_BIAS,
              Field("depthwise_initializer", "initializer", "glorot_uniform", "Initializer of the depthwise kernel."),
              Field("bias_initializer", "initializer", "zeros", "Initializer of the bias vector."),
              *_passthrough("depthwise_regularizer", "bias_regularizer", "activity_regularizer",
                            "depthwise_constraint", "bias_constraint"))

    def summary_args(self) -> str:
        m = self.config["depth_multiplier"]
        return (f"{self._size_text(self.config['kernel_size'])} depthwise" + (f" ×{m}" if m > 1 else "")
                + self._window_summary())

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        c = self._channels(shape)
        return (shape[0], *self._conv_spatial(shape), c * self.config["depth_multiplier"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        c, m = input_shapes[0][-1], self.config["depth_multiplier"]
        k = WeightSpec("kernel", (*self.config["kernel_size"], c, m), self.config["depthwise_initializer"])
        return [k, *self._bias_spec(c * m)]

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        geo = self._geometry(x)
        z, xp = kc.depthwise_conv2d_forward(x, weights["kernel"], geo)
        z, y = self._finish(z, weights)
        return y, (xp, geo, z, y)

    def backward(self, grad_out, cache, weights):
        xp, geo, z, y = cache
        grads: dict[str, np.ndarray] = {}
        g = self._pre_activation_grad(grad_out, z, y, grads)
        dx, dk = kc.depthwise_conv2d_backward(g, xp, weights["kernel"], geo)
        return [dx], {"kernel": dk, **grads}


@register_layer
class SeparableConv2D(BaseConv):
    """Depthwise-separable 2-D convolution: a depthwise convolution followed by a 1×1 pointwise one.

    Args:
        filters: number of output channels.
        kernel_size: height and width of the depthwise window.
        strides: step of the window along height and width.
        padding: 'valid' or 'same'.
        dilation_rate: spacing between kernel taps.
        depth_multiplier: depthwise output channels per input channel.
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, new_height, new_width, filters)``.
    """

    class_name = "SeparableConv2D"
    rank = 2
    no_strided_dilation = False
    fields = (FILTERS, *_window_fields(2), DATA_FORMAT, _dilation(2), DEPTH_MULTIPLIER, ACTIVATION, USE_BIAS,
              Field("depthwise_initializer", "initializer", "glorot_uniform", "Initializer of the depthwise kernel."),
              Field("pointwise_initializer", "initializer", "glorot_uniform", "Initializer of the 1×1 kernel."),
              Field("bias_initializer", "initializer", "zeros", "Initializer of the bias vector."),
              *_passthrough("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
                            "activity_regularizer", "depthwise_constraint", "pointwise_constraint",
                            "bias_constraint"))

    def summary_args(self) -> str:
        return (f"{self.config['filters']} filters {self._size_text(self.config['kernel_size'])} separable"
                + self._window_summary())

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self._channels(shape)
        return (shape[0], *self._conv_spatial(shape), self.config["filters"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        c, m, f = input_shapes[0][-1], self.config["depth_multiplier"], self.config["filters"]
        return [WeightSpec("depthwise_kernel", (*self.config["kernel_size"], c, m),
                           self.config["depthwise_initializer"]),
                WeightSpec("pointwise_kernel", (1, 1, c * m, f), self.config["pointwise_initializer"]),
                *self._bias_spec(f)]

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        geo = self._geometry(x)
        d, xp = kc.depthwise_conv2d_forward(x, weights["depthwise_kernel"], geo)
        pk = weights["pointwise_kernel"]
        z = (d.reshape(-1, pk.shape[2]) @ pk[0, 0]).reshape(*d.shape[:-1], pk.shape[3])
        z, y = self._finish(z, weights)
        return y, (xp, geo, d, z, y)

    def backward(self, grad_out, cache, weights):
        xp, geo, d, z, y = cache
        grads: dict[str, np.ndarray] = {}
        g = self._pre_activation_grad(grad_out, z, y, grads)
        pk = weights["pointwise_kernel"]
        g2 = g.reshape(-1, pk.shape[3])
        dpk = (d.reshape(-1, pk.shape[2]).T @ g2).reshape(pk.shape)
        dd = (g2 @ pk[0, 0].T).reshape(d.shape)
        dx, ddk = kc.depthwise_conv2d_backward(dd, xp, weights["depthwise_kernel"], geo)
        return [dx], {"depthwise_kernel": ddk, "pointwise_kernel": dpk, **grads}
