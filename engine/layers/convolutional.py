"""Convolution layers in 1, 2 and 3 spatial dimensions (``keras/src/layers/convolutional``).

Four kinds (regular, transposed, depthwise, separable) each declare their arguments, shape rule and
weights once for every rank; a concrete layer such as ``Conv3D`` only states its ``rank``.  The
numbers come from ``engine.numerics.conv``, which is rank-generic like Keras's own ops.
"""
from __future__ import annotations

from typing import ClassVar

from engine.errors import ConfigError
from engine.layers.base import PENALTY_DOC, Field, Numerics, WeightSpec, activation_fn, register_layer
from engine.layers.spatial import AXIS_NAMES, SpatialLayer, compact, data_format_field
from engine.numerics import conv as num
from engine.shapes import Shape, conv_output_length, deconv_output_length, fmt_shape



def _passthrough(*names: str) -> tuple[Field, ...]:
    """Regularizer and constraint arguments (applied in training, see ``Layer._parse_penalties``)."""
    return tuple(Field(n, "json", None, PENALTY_DOC) for n in names)


def _window_fields(rank: int, paddings: tuple[str, ...]) -> tuple[Field, ...]:
    pad_doc = ("'valid' uses only full windows; 'same' pads so that output = ceil(input / strides)"
               + ("; 'causal' pads on the left only, so no output sees the future." if "causal" in paddings else "."))
    return (
        Field("kernel_size", "ints", doc="Size of the convolution window, e.g. 3 or (3, 3).", length=rank, min=1),
        Field("strides", "ints", (1,) * rank, "Step of the window along each axis.", length=rank, min=1),
        Field("padding", "choice", "valid", pad_doc, choices=paddings),
    )


def _dilation(rank: int) -> Field:
    return Field("dilation_rate", "ints", (1,) * rank, "Spacing between kernel taps (atrous convolution).",
                 length=rank, min=1)


FILTERS = Field("filters", "int", doc="Number of output channels (filters).", min=1)
ACTIVATION = Field("activation", "activation", None, "Activation applied to the output (None = linear).",
                   optional=True)
USE_BIAS = Field("use_bias", "bool", True, "Whether to add a learned bias vector.")
DEPTH_MULTIPLIER = Field("depth_multiplier", "int", 1, "Output channels per input channel in the depthwise step.",
                         min=1)
GROUPS = Field("groups", "int", 1, "Split input and filters into this many independent groups "
               "(both channel counts must be divisible by it).", min=1)
_BIAS_INIT = Field("bias_initializer", "initializer", "zeros", "Initializer of the bias vector.")
_CONV_TAIL = (
    ACTIVATION, USE_BIAS,
    Field("kernel_initializer", "initializer", "glorot_uniform", "Initializer of the kernel."), _BIAS_INIT,
    *_passthrough("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                  "bias_constraint"),
)


class BaseConv(SpatialLayer):
    """Shared machinery of the convolution layers: arguments, shape rule, bias, activation."""

    family = "convolutional"
    paddings: ClassVar[tuple[str, ...]] = ("valid", "same")
    #: Keras rejects ``strides > 1`` together with ``dilation_rate > 1`` for these layers.
    no_strided_dilation: ClassVar[bool] = True
    #: The numerics function pair and the weights it takes.
    forward_fn: ClassVar = None
    backward_fn: ClassVar = None
    weight_names: ClassVar[tuple[str, ...]] = ("kernel", "bias")

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "fields" not in cls.__dict__:
            cls.fields = cls.declare_fields(cls.rank)

    @classmethod
    def declare_fields(cls, rank: int) -> tuple[Field, ...]:
        return ()

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

    def _window_summary(self) -> str:
        cfg = self.config
        parts = []
        if max(cfg["strides"]) > 1:
            parts.append(f"stride {'×'.join(map(str, cfg['strides']))}")
        if cfg["padding"] != "valid":
            parts.append(cfg["padding"])
        if max(cfg["dilation_rate"]) > 1:
            parts.append(f"dilation {'×'.join(map(str, cfg['dilation_rate']))}")
        if cfg.get("groups", 1) > 1:
            parts.append(f"{cfg['groups']} groups")
        act = cfg["activation"]
        if act and act != "linear":
            parts.append(act)
        return "".join(f", {p}" for p in parts)

    def _kernel_text(self) -> str:
        return "×".join(map(str, self.config["kernel_size"]))

    def summary_args(self) -> str:
        return f"{self.config['filters']} filters {self._kernel_text()}" + self._window_summary()

    # ----- shapes -----------------------------------------------------------------------------------
    def _channels(self, shape: Shape) -> int:
        """Validate the rank and return the (known) channel count of ``shape``."""
        if len(shape) != self.rank + 2:
            fix = "add a Reshape before it" if len(shape) < self.rank + 2 else "use a matching layer or a Reshape"
            if self.rank == 2 and len(shape) == 2:
                fix = "add a Reshape to (height, width, channels) before it"
            self.expect_spatial(shape, fix)
        _, c = self.split(shape)
        if c is None:
            raise self.shape_error(f"needs a known channel dimension but gets {fmt_shape(shape)}; "
                                   "give the Input a full shape.")
        return c

    def _conv_spatial(self, shape: Shape) -> list[int | None]:
        """Output spatial sizes of the forward convolution, with a readable error when the input is too small."""
        cfg = self.config
        out = []
        for axis, n, k, s, d in zip(AXIS_NAMES[self.rank], self.split(shape)[0], cfg["kernel_size"],
                                    cfg["strides"], cfg["dilation_rate"]):
            o = conv_output_length(n, k, cfg["padding"], s, d)
            if o is not None and o <= 0:
                span = d * (k - 1) + 1
                window = f"kernel_size {k}" + (f" with dilation_rate {d} spans {span}" if d > 1 else "")
                raise self.shape_error(
                    f"needs at least {span} input {axis} for its {window} but the input {fmt_shape(shape)} has "
                    f"{axis} {n}; use padding='same', a smaller kernel_size, or a larger input.")
            out.append(o)
        return out

    def _bias_spec(self, n: int) -> list[WeightSpec]:
        return [WeightSpec("bias", (n,), self.config["bias_initializer"])] if self.config["use_bias"] else []

    # ----- numerics ---------------------------------------------------------------------------------
    def numerics_args(self) -> dict:
        cfg = self.config
        args = {"strides": compact(cfg["strides"]), "padding": cfg["padding"],
                "dilation_rate": compact(cfg["dilation_rate"])}
        if cfg["activation"] not in (None, "linear"):
            args["activation"] = activation_fn(cfg["activation"])
        return {**args, **self.format_args()}

    def numerics(self) -> Numerics:
        return Numerics(type(self).forward_fn, type(self).backward_fn, self.weight_names, self.numerics_args())


class Conv(BaseConv):
    """Regular (optionally grouped) convolution."""

    forward_fn = num.conv_forward
    backward_fn = num.conv_backward

    @classmethod
    def declare_fields(cls, rank: int) -> tuple[Field, ...]:
        return (FILTERS, *_window_fields(rank, cls.paddings), data_format_field(), _dilation(rank), GROUPS,
                *_CONV_TAIL)

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        c = self._channels(shape)
        groups = self.config["groups"]
        if c % groups:
            raise self.shape_error(
                f"has groups={groups} but its input {fmt_shape(shape)} has {c} channels; the channel count must "
                f"be divisible by groups (use groups=1 or change the previous layer's channels).")
        return self.join(shape[0], self._conv_spatial(shape), self.config["filters"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        cin = self.split(input_shapes[0])[1]
        k = WeightSpec("kernel", (*self.config["kernel_size"], cin // self.config["groups"], self.config["filters"]),
                       self.config["kernel_initializer"])
        return [k, *self._bias_spec(self.config["filters"])]


class ConvTranspose(BaseConv):
    """Transposed convolution ("deconvolution"): upsamples by ``strides`` with a learned kernel."""

    forward_fn = num.conv_transpose_forward
    backward_fn = num.conv_transpose_backward

    @classmethod
    def declare_fields(cls, rank: int) -> tuple[Field, ...]:
        return (FILTERS, *_window_fields(rank, cls.paddings),
                Field("output_padding", "ints", None, "Extra output positions at the end of each axis, each "
                      "smaller than strides (None = inferred).", length=rank, min=0, optional=True),
                data_format_field(), _dilation(rank), *_CONV_TAIL)

    def check_config(self) -> None:
        super().check_config()
        op = self.config["output_padding"]
        if op is not None:
            for axis, p, s in zip(AXIS_NAMES[self.rank], op, self.config["strides"]):
                if p >= s:
                    raise ConfigError(
                        f"{self.owner}: output_padding {p} along {axis} must be smaller than the stride {s}; "
                        f"lower output_padding or leave it empty.", "output_padding")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self._channels(shape)
        cfg = self.config
        ops = cfg["output_padding"] or (None,) * self.rank
        out = []
        for axis, n, k, s, d, op in zip(AXIS_NAMES[self.rank], self.split(shape)[0], cfg["kernel_size"],
                                        cfg["strides"], cfg["dilation_rate"], ops):
            o = deconv_output_length(n, k, cfg["padding"], s, d, op)
            if o is not None and o <= 0:
                raise self.shape_error(
                    f"would produce an empty output along {axis} from the input {fmt_shape(shape)}; use "
                    f"padding='valid', an odd kernel_size, or a larger output_padding.")
            out.append(o)
        return self.join(shape[0], out, cfg["filters"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        cin = self.split(input_shapes[0])[1]
        k = WeightSpec("kernel", (*self.config["kernel_size"], self.config["filters"], cin),
                       self.config["kernel_initializer"])
        return [k, *self._bias_spec(self.config["filters"])]

    def numerics_args(self) -> dict:
        args = super().numerics_args()
        op = self.config["output_padding"]
        return args if op is None else {**args, "output_padding": compact(op)}


class DepthwiseConv(BaseConv):
    """Depthwise convolution: each input channel is convolved with its own ``depth_multiplier`` filters."""

    no_strided_dilation = False
    forward_fn = num.depthwise_conv_forward
    backward_fn = num.depthwise_conv_backward

    @classmethod
    def declare_fields(cls, rank: int) -> tuple[Field, ...]:
        return (*_window_fields(rank, cls.paddings), DEPTH_MULTIPLIER, data_format_field(), _dilation(rank),
                ACTIVATION, USE_BIAS,
                Field("depthwise_initializer", "initializer", "glorot_uniform", "Initializer of the depthwise "
                      "kernel."), _BIAS_INIT,
                *_passthrough("depthwise_regularizer", "bias_regularizer", "activity_regularizer",
                              "depthwise_constraint", "bias_constraint"))

    def summary_args(self) -> str:
        m = self.config["depth_multiplier"]
        return f"{self._kernel_text()} depthwise" + (f" ×{m}" if m > 1 else "") + self._window_summary()

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        c = self._channels(shape)
        return self.join(shape[0], self._conv_spatial(shape), c * self.config["depth_multiplier"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        c, m = self.split(input_shapes[0])[1], self.config["depth_multiplier"]
        k = WeightSpec("kernel", (*self.config["kernel_size"], c, m), self.config["depthwise_initializer"])
        return [k, *self._bias_spec(c * m)]


class SeparableConv(BaseConv):
    """Depthwise-separable convolution: a depthwise convolution followed by a pointwise (1×…×1) one."""

    no_strided_dilation = False
    forward_fn = num.separable_conv_forward
    backward_fn = num.separable_conv_backward
    weight_names = ("depthwise_kernel", "pointwise_kernel", "bias")

    @classmethod
    def declare_fields(cls, rank: int) -> tuple[Field, ...]:
        return (FILTERS, *_window_fields(rank, cls.paddings), data_format_field(), _dilation(rank),
                DEPTH_MULTIPLIER, ACTIVATION, USE_BIAS,
                Field("depthwise_initializer", "initializer", "glorot_uniform", "Initializer of the depthwise "
                      "kernel."),
                Field("pointwise_initializer", "initializer", "glorot_uniform", "Initializer of the 1×1 kernel."),
                _BIAS_INIT,
                *_passthrough("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
                              "activity_regularizer", "depthwise_constraint", "pointwise_constraint",
                              "bias_constraint"))

    def summary_args(self) -> str:
        return f"{self.config['filters']} filters {self._kernel_text()} separable" + self._window_summary()

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self._channels(shape)
        return self.join(shape[0], self._conv_spatial(shape), self.config["filters"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        c, m, f = self.split(input_shapes[0])[1], self.config["depth_multiplier"], self.config["filters"]
        return [WeightSpec("depthwise_kernel", (*self.config["kernel_size"], c, m),
                           self.config["depthwise_initializer"]),
                WeightSpec("pointwise_kernel", ((1,) * self.rank + (c * m, f)), self.config["pointwise_initializer"]),
                *self._bias_spec(f)]


# ----- the catalog: one declaration per (kind, rank) -------------------------------------------------------------
@register_layer
class Conv1D(Conv):
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
    paddings = ("valid", "same", "causal")


@register_layer
class Conv2D(Conv):
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


@register_layer
class Conv3D(Conv):
    """3-D convolution over volumes (e.g. video or scans): ``activation(conv3d(x, kernel) + bias)``.

    Args:
        filters: number of output channels.
        kernel_size: depth, height and width of the convolution window, e.g. 3 or (3, 3, 3).
        strides: step of the window along each axis.
        padding: 'valid' (no padding) or 'same' (output = ceil(input / strides)).
        dilation_rate: spacing between kernel taps.
        groups: number of channel groups (grouped convolution).
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, depth, height, width, channels)``.
    Output shape: ``(batch, new_depth, new_height, new_width, filters)``.
    """

    class_name = "Conv3D"
    rank = 3


@register_layer
class Conv1DTranspose(ConvTranspose):
    """Transposed 1-D convolution: upsamples sequences by ``strides`` with a learned kernel.

    Args:
        filters: number of output channels.
        kernel_size: length of the convolution window.
        strides: upsampling factor.
        padding: 'valid' or 'same' ('same' gives output = input * strides).
        output_padding: extra steps added at the end (smaller than strides); None infers it.
        dilation_rate: spacing between kernel taps.
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, steps, channels)``.  Output shape: ``(batch, new_steps, filters)``.
    """

    class_name = "Conv1DTranspose"
    rank = 1


@register_layer
class Conv2DTranspose(ConvTranspose):
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


@register_layer
class Conv3DTranspose(ConvTranspose):
    """Transposed 3-D convolution: upsamples volumes by ``strides`` with a learned kernel.

    Args:
        filters: number of output channels.
        kernel_size: depth, height and width of the convolution window.
        strides: upsampling factor along each axis.
        padding: 'valid' or 'same' ('same' gives output = input * strides).
        output_padding: extra positions at the end of each axis (each < strides); None infers it.
        dilation_rate: spacing between kernel taps.
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, depth, height, width, channels)``.
    Output shape: ``(batch, new_depth, new_height, new_width, filters)``.
    """

    class_name = "Conv3DTranspose"
    rank = 3


@register_layer
class DepthwiseConv1D(DepthwiseConv):
    """Depthwise 1-D convolution: each input channel is convolved with its own ``depth_multiplier`` filters.

    Args:
        kernel_size: length of the convolution window.
        strides: step of the window.
        padding: 'valid' or 'same'.
        depth_multiplier: output channels per input channel.
        dilation_rate: spacing between kernel taps.
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, steps, channels)``.
    Output shape: ``(batch, new_steps, channels * depth_multiplier)``.
    """

    class_name = "DepthwiseConv1D"
    rank = 1


@register_layer
class DepthwiseConv2D(DepthwiseConv):
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


@register_layer
class SeparableConv1D(SeparableConv):
    """Depthwise-separable 1-D convolution: a depthwise convolution followed by a pointwise one.

    Args:
        filters: number of output channels.
        kernel_size: length of the depthwise window.
        strides: step of the window.
        padding: 'valid' or 'same'.
        dilation_rate: spacing between kernel taps.
        depth_multiplier: depthwise output channels per input channel.
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, steps, channels)``.  Output shape: ``(batch, new_steps, filters)``.
    """

    class_name = "SeparableConv1D"
    rank = 1


@register_layer
class SeparableConv2D(SeparableConv):
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
