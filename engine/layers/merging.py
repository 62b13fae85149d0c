"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot (``keras/src/layers/merging``).

Element-wise merges follow Keras's broadcast rule (``base_merge.py``): the non-batch shapes are aligned on
their trailing axes and each pair of sizes must be equal or 1; a lower-rank input gets size-1 axes inserted
right after the batch axis.  The numerics live in ``engine.numerics.merging``.
"""
from __future__ import annotations

from engine.layers.base import Field, Layer, Numerics, register_layer
from engine.numerics import merging as num
from engine.shapes import Shape, broadcast_shapes, fmt_shape


def _keras_broadcast(a: Shape, b: Shape) -> Shape | None:
    """``broadcast_shapes``, except that an axis stays unknown when either side is (Keras's rule)."""
    merged = broadcast_shapes(a, b)
    if merged is None:
        return None
    k = len(merged)
    pa, pb = (1,) * (k - len(a)) + tuple(a), (1,) * (k - len(b)) + tuple(b)
    return tuple(None if x is None or y is None else d for x, y, d in zip(pa, pb, merged))


class BaseMerge(Layer):
    """Shared shape rule, input arity and broadcasting of the element-wise merge layers."""

    family = "merging"
    mask_rule = "merge"   # Keras: the OR of the inputs' masks, none when an input has none

    def mask_numerics(self):
        return num.merge_mask, {}
    min_inputs = 2
    max_inputs = None
    fields = ()

    # ----- shapes --------------------------------------------------------------------------------------
    def check_arity(self, input_shapes: list[Shape]) -> None:
        n = len(input_shapes)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (f"exactly {self.min_inputs}" if self.max_inputs == self.min_inputs
                    else f"at least {self.min_inputs}")
            raise self.shape_error(f"merges {want} inputs but gets {n}; connect {want} branches to it.")

    def _batch(self, input_shapes: list[Shape]) -> int | None:
        sizes = {s[0] for s in input_shapes if s} - {None}
        if len(sizes) > 1:
            shapes = ", ".join(fmt_shape(s) for s in input_shapes)
            raise self.shape_error(f"cannot merge inputs with different batch sizes ({shapes}); "
                                   "leave the batch size unspecified on the Inputs.")
        return next(iter(sizes), None)

    def _mismatch(self, a: Shape, b: Shape, labels: tuple[str, str]) -> Exception:
        """The sentence for two full shapes that cannot be merged, naming the axis and the fix."""
        fa, fb = a[1:], b[1:]
        k = min(len(fa), len(fb))
        axis = next(i for i in range(1, k + 1) if fa[-i] is not None and fb[-i] is not None
                    and fa[-i] != fb[-i] and 1 not in (fa[-i], fb[-i]))
        da, db = fa[-axis], fb[-axis]
        head = f"cannot merge {labels[0]}{fmt_shape(a)} with {labels[1]}{fmt_shape(b)}"
        if axis == 1:
            why = (f"the last dimensions differ; make both branches end with {max(da, db)} units "
                   "or use Concatenate.")
        else:
            why = (f"dimension {-axis} differs ({da} vs {db}); sizes must match or be 1 on every axis, so "
                   "reshape or resize one branch, or use Concatenate.")
        return self.shape_error(f"{head}: {why}")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        self.check_arity(input_shapes)
        batch = self._batch(input_shapes)
        out: Shape = tuple(input_shapes[0][1:])
        for j in range(1, len(input_shapes)):
            s = tuple(input_shapes[j][1:])
            merged = _keras_broadcast(out, s)
            if merged is None:
                self._raise_pair(input_shapes, j)
            out = merged
        return (batch, *out)

    def _raise_pair(self, input_shapes: list[Shape], j: int) -> None:
        many = len(input_shapes) > 2
        for i in range(j):
            if broadcast_shapes(tuple(input_shapes[i][1:]), tuple(input_shapes[j][1:])) is None:
                labels = (f"input {i} ", f"input {j} ") if many else ("", "")
                raise self._mismatch(input_shapes[i], input_shapes[j], labels)
        acc = self.output_shape(list(input_shapes[:j]))
        raise self._mismatch(acc, input_shapes[j], (f"inputs 0-{j - 1} combined ", f"input {j} "))


@register_layer
class Add(BaseMerge):
    """Adds a list of inputs element-wise (with Keras broadcasting); all inputs must have compatible shapes.

    Input shape: two or more tensors.  Output shape: their broadcast shape.
    """

    class_name = "Add"

    def numerics(self) -> Numerics:
        return Numerics(num.add_forward, num.add_backward)


@register_layer
class Subtract(BaseMerge):
    """Subtracts the second input from the first, element-wise: ``inputs[0] - inputs[1]``.

    Input shape: exactly two tensors.  Output shape: their broadcast shape.
    """

    class_name = "Subtract"
    max_inputs = 2

    def numerics(self) -> Numerics:
        return Numerics(num.subtract_forward, num.subtract_backward)


@register_layer
class CustomScaleLayer(BaseMerge):
    """``inputs[0] + scale * inputs[1]``: the scaled residual that closes every InceptionResNetV2 block.

    Keras's internal layer of ``keras.applications.InceptionResNetV2``
    (``keras/src/applications/inception_resnet_v2.py``), read and written under that module.

    Args:
        scale: the factor of the second input (InceptionResNetV2 uses 0.17, 0.1 and 0.2 by block type).

    Input shape: exactly two tensors (the shortcut, then the residual).  Output shape: their broadcast shape.
    """

    class_name = "CustomScaleLayer"
    keras_module = "keras.src.applications.inception_resnet_v2"
    keras_required_args = ("scale",)
    mask_rule = "drop"   # a plain Keras Layer: supports_masking is False
    max_inputs = 2
    fields = (Field("scale", "float", doc="Factor of the second input (the residual branch).", starter=0.17),)

    def summary_args(self) -> str:
        return f"x0 + {self.config['scale']:g} * x1"

    def numerics(self) -> Numerics:
        return Numerics(num.scaled_sum_forward, num.scaled_sum_backward, args={"scale": self.config["scale"]})


@register_layer
class Multiply(BaseMerge):
    """Multiplies a list of inputs element-wise (with Keras broadcasting).

    Input shape: two or more tensors.  Output shape: their broadcast shape.
    """

    class_name = "Multiply"

    def numerics(self) -> Numerics:
        return Numerics(num.multiply_forward, num.multiply_backward)


@register_layer
class Average(BaseMerge):
    """Averages a list of inputs element-wise (with Keras broadcasting).

    Input shape: two or more tensors.  Output shape: their broadcast shape.
    """

    class_name = "Average"

    def numerics(self) -> Numerics:
        return Numerics(num.average_forward, num.average_backward)


@register_layer
class Maximum(BaseMerge):
    """Element-wise maximum of a list of inputs (with Keras broadcasting).

    Input shape: two or more tensors.  Output shape: their broadcast shape.
    """

    class_name = "Maximum"
    mask_rule = "refuse"
    mask_refusal = ("the engine does not apply Keras's masked maximum (masked entries replaced by the other "
                    "inputs'); put the mask after the merge or use Add.")
    def numerics(self) -> Numerics:
        return Numerics(num.maximum_forward, num.maximum_backward)


@register_layer
class Minimum(BaseMerge):
    """Element-wise minimum of a list of inputs (with Keras broadcasting).

    Input shape: two or more tensors.  Output shape: their broadcast shape.
    """

    class_name = "Minimum"
    mask_rule = "refuse"
    mask_refusal = ("the engine does not apply Keras's masked minimum (masked entries replaced by the other "
                    "inputs'); put the mask after the merge or use Add.")
    def numerics(self) -> Numerics:
        return Numerics(num.minimum_forward, num.minimum_backward)


@register_layer
class Concatenate(BaseMerge):
    """Joins a list of inputs along ``axis``; every other dimension must match.

    Args:
        axis: the axis to concatenate along (default -1, the features).  The batch axis is not allowed.

    Input shape: two or more tensors of the same rank.  Output shape: the inputs' shape with the ``axis``
    sizes summed.
    """

    class_name = "Concatenate"

    def output_carries_mask(self, carries: list[bool]) -> bool:
        return any(carries)  # Keras: an unmasked input counts as all true

    def mask_numerics(self):
        return num.concatenate_mask, self.config_args("axis")
    fields = (Field("axis", "int", -1, "Axis to join the inputs along, usually -1 (the features)."),)

    def summary_args(self) -> str:
        return f"axis {self.config['axis']}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        self.check_arity(input_shapes)
        self._batch(input_shapes)
        ranks = {len(s) for s in input_shapes}
        shapes = ", ".join(fmt_shape(s) for s in input_shapes)
        if len(ranks) > 1:
            raise self.shape_error(f"needs inputs of the same rank but gets {shapes}; add a Reshape or Flatten "
                                   "so the branches have the same number of axes.")
        rank = ranks.pop()
        a = self.config["axis"]
        if not -rank <= a < rank:
            raise self.shape_error(f"joins along axis {a}, which does not exist in inputs of rank {rank} "
                                   f"({shapes}); pick an axis between 1 and {rank - 1} or -1.")
        ax = a % rank
        if ax == 0:
            raise self.shape_error(f"cannot join along the batch axis (axis {a}); use axis=-1 to join features.")
        first = input_shapes[0]
        for j, s in enumerate(input_shapes[1:], start=1):
            for i in range(1, rank):
                if i != ax and first[i] is not None and s[i] is not None and first[i] != s[i]:
                    raise self.shape_error(
                        f"cannot join {fmt_shape(first)} with {fmt_shape(s)} along axis {a}: dimension {i} "
                        f"differs ({first[i]} vs {s[i]}); only the joined axis may differ, so resize one "
                        f"branch or join along axis {i}.")
        sizes = [s[ax] for s in input_shapes]
        out = list(first)
        out[ax] = None if None in sizes else sum(sizes)
        return tuple(out)

    def numerics(self) -> Numerics:
        return Numerics(num.concatenate_forward, num.concatenate_backward, args=self.config_args("axis"))


@register_layer
class Dot(BaseMerge):
    """Dot product of two inputs per sample, summing over ``axes[0]`` of the first and ``axes[1]`` of the second.

    Args:
        axes: one axis for both inputs, or a pair ``(axis of input 0, axis of input 1)``; not the batch axis.
        normalize: L2-normalize both inputs along their axis first, so the output is the cosine similarity.

    Input shape: exactly two tensors of rank >= 2 whose ``axes`` sizes match.
    Output shape: the first input's other axes followed by the second's (without the batch), e.g.
    ``(batch, 3, 5)`` and ``(batch, 4, 5)`` with ``axes=2`` give ``(batch, 3, 4)``; ``(batch, 1)`` for two vectors.
    """

    class_name = "Dot"
    mask_rule = "drop"    # Keras's Dot.compute_mask returns None
    max_inputs = 2
    fields = (
        Field("axes", "ints", doc="Axis to sum over: one for both inputs or (axis of input 0, axis of input 1).",
              length=2),
        Field("normalize", "bool", False, "L2-normalize each input along its axis first (cosine similarity)."),
    )

    def summary_args(self) -> str:
        a, b = self.config["axes"]
        text = f"axes {a}" if a == b else f"axes ({a}, {b})"
        return text + (", normalized" if self.config["normalize"] else "")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        self.check_arity(input_shapes)
        batch = self._batch(input_shapes)
        a, b = input_shapes
        for s in (a, b):
            if len(s) < 2:
                raise self.shape_error(f"needs inputs with a feature axis but gets {fmt_shape(s)}.")
        axes = []
        for i, (s, ax) in enumerate(zip(input_shapes, self.config["axes"])):
            if not -len(s) <= ax < len(s) or ax % len(s) == 0:
                raise self.shape_error(f"sums over axis {ax} of input {i} {fmt_shape(s)}, which is "
                                       f"{'the batch axis' if -len(s) <= ax < len(s) else 'not an axis'}; pick an "
                                       f"axis between 1 and {len(s) - 1} or -1.")
            axes.append(ax % len(s))
        da, db = a[axes[0]], b[axes[1]]
        if da is not None and db is not None and da != db:
            raise self.shape_error(f"multiplies axis {axes[0]} of {fmt_shape(a)} (size {da}) with axis {axes[1]} "
                                   f"of {fmt_shape(b)} (size {db}); the summed axes must have the same size.")
        out = [d for i, d in enumerate(a[1:], 1) if i != axes[0]] + [d for i, d in enumerate(b[1:], 1) if i != axes[1]]
        return (batch, *(out or [1]))

    def numerics(self) -> Numerics:
        return Numerics(num.dot_forward, num.dot_backward, args=self.config_args("axes", "normalize"))
