"""``CustomLayer``: a layer whose math the user writes as a Keras ``call`` body over ``keras.ops``.

The node's config holds the definition (``engine.custom.definition``) and the argument values.  The code
runs only when trusted (``engine.custom.trusted_exec``); gradients come from ``autograd`` differentiating
the same code over the NumPy ``ops`` shim, so nothing is written twice and no backward is hand-written.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from autograd import make_vjp

from engine.custom import probe as shape_probe
from engine.custom import trusted_exec
from engine.custom.definition import STARTER_DEFINITION, CustomDefinition
from engine.custom.shape_expr import evaluate_shape
from engine.errors import ConfigError, ShapeError, shown
from engine.layers.base import REQUIRED, Field, Layer, WeightSpec, register_layer
from engine.shapes import Shape, fmt_shape

PROBE_BATCH = 2
PROBE_DIMS = (3, 4)
"""Sizes given to unknown dimensions when ``call`` runs once to find the output shape (two probes, so a
dimension that follows an unknown input dimension is reported unknown)."""


class CallSelf(SimpleNamespace):
    """``self`` inside the user's code: the arguments and weights as attributes."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"self.{name} is neither an argument nor a weight of this layer")


@register_layer
class CustomLayer(Layer):
    """A layer whose math you write: a Keras ``call(self, inputs)`` body over ``keras.ops``.

    Declare typed arguments, weights whose shapes are expressions of ``input_shape`` and the arguments,
    and the ``call`` body; the output shape comes from ``compute_output_shape`` or from running ``call`` on a
    small probe.  Gradients are automatic.  The code runs only when trusted on this machine.

    Args:
        definition: the layer's name, arguments, weights and code.
        arguments: values of the declared arguments (their defaults otherwise).
    """

    family = "core"
    gradient = "automatic"
    max_inputs = None
    fields = (
        Field("definition", "json", REQUIRED, "The layer's name, arguments, weights and code.",
              starter=STARTER_DEFINITION),
        Field("arguments", "json", None, "Values of the layer's declared arguments."),
    )

    def check_config(self) -> None:
        self.definition = CustomDefinition.from_dict(self.config["definition"])
        self.config["definition"] = self.definition.to_dict()
        given = self.config["arguments"] or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{self.owner}: 'arguments' must be an object, got {shown(given)}.", "arguments")
        fields = {f.name: f for f in self.definition.argument_fields()}
        unknown = sorted(set(given) - set(fields))
        if unknown:
            raise ConfigError(f"{self.owner}: unknown argument {unknown[0]!r}; {self.definition.name} accepts "
                              f"{', '.join(fields) or 'none'}.", "arguments")
        self.arguments = {n: f.validate(given.get(n, f.default), self.owner) for n, f in fields.items()}
        self.config["arguments"] = {n: self.arguments[n] for n in given} or None
        self._shapes: dict[tuple, Shape] = {}
        self.min_inputs = self.max_inputs = self.definition.inputs  # per instance: the definition says

    def summary_args(self) -> str:
        return self.definition.name

    def output_activation(self) -> str | None:
        """The code is the user's, so only the Keras convention is read: an ``activation`` argument of kind
        activation is taken to be what the output ends with."""
        spec = next((a for a in self.definition.arguments if a.name == "activation" and a.kind == "activation"), None)
        value = self.arguments.get("activation") if spec else None
        return None if value in (None, "linear") else value

    # ----- shapes and weights -------------------------------------------------------------------------
    def _self_for(self, weights: dict[str, Any]) -> CallSelf:
        values = {}
        for a in self.definition.arguments:
            v = self.arguments[a.name]
            values[a.name] = (trusted_exec.OPS.__dict__.get(v, lambda x: x) if a.kind == "activation" else v)
        return CallSelf(**values, **weights)

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        specs = []
        for w in self.definition.weights:
            try:
                shape = evaluate_shape(w.shape, self.arguments, [tuple(s) for s in input_shapes])
            except ConfigError as exc:
                raise self.shape_error(f"weight {w.name!r}: {exc}") from None
            specs.append(WeightSpec(w.name, shape, w.initializer, w.trainable))
        return [s for s in specs if s.trainable] + [s for s in specs if not s.trainable]

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        if len(input_shapes) != self.definition.inputs:
            raise self.shape_error(f"takes {self.definition.inputs} input(s) but gets {len(input_shapes)}.")
        key = tuple(tuple(s) for s in input_shapes)
        if key not in self._shapes:
            isolation = shape_probe.active()
            if isolation is not None:  # the designer: the code runs in a limited child process
                self._shapes[key] = shape_probe.infer_output_shape(self, list(key), isolation)
            elif self.definition.compute_output_shape:
                self._shapes[key] = self._declared_shape(input_shapes)
            else:
                self._shapes[key] = self._probed_shape(input_shapes)
        return self._shapes[key]

    def _declared_shape(self, input_shapes: list[Shape]) -> Shape:
        arg = tuple(input_shapes[0]) if len(input_shapes) == 1 else [tuple(s) for s in input_shapes]
        shape = trusted_exec.run(self.definition, "compute_output_shape", self._self_for({}), arg)
        if not isinstance(shape, (tuple, list)) or not all(
                d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape):
            raise self.shape_error(f"compute_output_shape must return a tuple of positive ints or None, "
                                   f"got {shown(shape)}.")
        return tuple(shape)

    def _probed_shape(self, input_shapes: list[Shape]) -> Shape:
        """Run ``call`` on small random inputs; dimensions that change with the unknown input sizes are None."""
        outs = []
        for size in PROBE_DIMS[:1 + any(d is None for s in input_shapes for d in s[1:])]:
            shapes = [(PROBE_BATCH, *(size if d is None else d for d in s[1:])) for s in input_shapes]
            rng = np.random.default_rng(0)
            xs = [rng.normal(size=s).astype(np.float32) for s in shapes]
            weights = self.init_weights(shapes, rng)
            outs.append(self._call(xs, weights).shape)
        first = outs[0]
        if not first or first[0] != PROBE_BATCH:
            raise self.shape_error(f"call must return a batch of outputs (batch first) but returns shape "
                                   f"{fmt_shape(first)} for inputs {', '.join(fmt_shape(s) for s in input_shapes)}.")
        return (None, *(d if all(len(o) == len(first) and o[i + 1] == d for o in outs) else None
                        for i, d in enumerate(first[1:])))

    # ----- computation --------------------------------------------------------------------------------
    def _call(self, inputs: list, weights: dict[str, Any]) -> Any:
        x = inputs[0] if self.definition.inputs == 1 else list(inputs)
        out = trusted_exec.run(self.definition, "call", self._self_for(weights), x)
        value = getattr(out, "_value", out)
        while hasattr(value, "_value"):
            value = value._value
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            raise ShapeError(f"{self.owner}: call must return one array, got {shown(type(value).__name__)}.")
        return out

    def _trainable(self) -> list[str]:
        return [w.name for w in self.definition.weights if w.trainable]

    def forward(self, inputs: list[np.ndarray], weights: dict[str, np.ndarray], *, training: bool = False,
                rng: np.random.Generator | None = None) -> tuple[np.ndarray, Any]:
        if not training:
            out = self._call(inputs, weights)
            return np.asarray(out, dtype=inputs[0].dtype), ("inputs", inputs, weights)
        vjp, out = self._vjp(inputs, weights)
        return np.asarray(out, dtype=inputs[0].dtype), ("vjp", vjp, inputs[0].dtype)

    def _vjp(self, inputs: list[np.ndarray], weights: dict[str, np.ndarray]):
        names = self._trainable()
        fixed = {k: v for k, v in weights.items() if k not in names}

        def of(packed):
            xs, ws = packed
            return self._call(list(xs), {**fixed, **dict(zip(names, ws))})

        return make_vjp(of)((tuple(inputs), tuple(weights[n] for n in names)))

    def backward(self, grad_out: np.ndarray, cache: Any,
                 weights: dict[str, np.ndarray]) -> tuple[list[np.ndarray | None], dict[str, np.ndarray]]:
        if cache[0] == "vjp":
            vjp, dtype = cache[1], cache[2]
        else:
            vjp, dtype = self._vjp(cache[1], cache[2])[0], cache[1][0].dtype
        grad_in, grad_w = vjp(grad_out)
        return ([np.asarray(g, dtype=dtype) for g in grad_in],
                {n: np.asarray(g, dtype=dtype) for n, g in zip(self._trainable(), grad_w)})
