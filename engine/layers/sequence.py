"""Sequence wrappers: TimeDistributed and RNN with cells (``keras/src/layers/rnn``).

Neither computes anything of its own: TimeDistributed runs the wrapped layer's numerics over the
``(batch * time, ...)`` view of its input, and ``RNN(LSTMCell(u))`` builds the ``LSTM(u)`` it is and
runs its numerics (a ``StackedRNNCells`` runs one such layer per cell, see ``engine/numerics/sequence.py``).
The cells are not catalog layers (a cell alone cannot be a node); they live in ``CELLS``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import ConfigError, ShapeError
from engine.layers.base import LAYERS, Field, Fn, Layer, Numerics, WeightSpec, register_layer, to_snake_case
from engine.layers.recurrent import GRU, LSTM, BaseRNN, SimpleRNN, _non_default_args, forward_with_buffers
from engine.numerics import sequence as num
from engine.shapes import Shape, fmt_shape

#: Arguments of a recurrent layer that belong to the RNN wrapper, not to its cell.
_SEQUENCE_ONLY = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask",
                  "activity_regularizer", "use_cudnn")


def _rnn_flags() -> tuple[Field, ...]:
    return (
        Field("return_sequences", "bool", False, "Return the full sequence (batch, timesteps, units) instead "
              "of the last output (batch, units)."),
        Field("return_state", "bool", False, "Keras option returning the final states as extra outputs; the "
              "engine's layers have one output, so only false."),
        Field("go_backwards", "bool", False, "Process the sequence backwards and return the reversed sequence."),
        Field("stateful", "bool", False, "Keras option carrying states across batches; the engine supports "
              "only false."),
        Field("unroll", "bool", False, "Keras speed option; the result is the same either way."),
        Field("zero_output_for_mask", "bool", False, "Keras masking option; the engine does not use masks."),
    )


def _cell_class(layer_cls: type[BaseRNN], cell_name: str) -> type[Layer]:
    """A cell class with the recurrent layer's arguments minus the sequence ones (Keras's ``LSTMCell``...)."""
    fields = tuple(f for f in layer_cls.fields if f.name not in _SEQUENCE_ONLY)
    doc = f"One step of {layer_cls.class_name}, for ``RNN(cell)``; its arguments are {layer_cls.class_name}'s."
    return type(cell_name, (Layer,), {"class_name": cell_name, "family": "recurrent", "fields": fields,
                                      "layer_class": layer_cls, "__doc__": doc})


SimpleRNNCell = _cell_class(SimpleRNN, "SimpleRNNCell")
LSTMCell = _cell_class(LSTM, "LSTMCell")
GRUCell = _cell_class(GRU, "GRUCell")


class StackedRNNCells(Layer):
    """Cells run one after the other at every time step (``RNN([cell, cell])`` in Keras)."""

    class_name = "StackedRNNCells"
    family = "recurrent"
    fields = (Field("cells", "json", doc="The cells, first to last: [{'class_name': 'LSTMCell', 'config': {...}}]."),)


CELLS: dict[str, type[Layer]] = {c.class_name: c for c in (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells)}


def _cell_specs(owner: str, spec: Any) -> list[tuple[str, dict]]:
    """``(cell class name, cell config)`` for every cell of an RNN's ``cell`` (one, or a StackedRNNCells)."""
    if not isinstance(spec, dict) or spec.get("class_name") not in CELLS:
        raise ConfigError(f"{owner}: 'cell' must be one of {', '.join(CELLS)}, got "
                          f"{spec.get('class_name') if isinstance(spec, dict) else spec!r}.", "cell")
    cfg = spec.get("config") or {}
    if spec["class_name"] != "StackedRNNCells":
        return [(spec["class_name"], dict(cfg))]
    cells = cfg.get("cells")
    if not isinstance(cells, list) or not cells:
        raise ConfigError(f"{owner}: a StackedRNNCells needs a non-empty list 'cells'.", "cell")
    out = []
    for c in cells:
        if not isinstance(c, dict) or c.get("class_name") not in CELLS or c["class_name"] == "StackedRNNCells":
            raise ConfigError(f"{owner}: every stacked cell must be a SimpleRNNCell, LSTMCell or GRUCell.", "cell")
        out.append((c["class_name"], dict(c.get("config") or {})))
    return out


@register_layer
class RNN(Layer):
    """Runs a recurrent cell over a sequence: ``RNN(LSTMCell(u))`` is ``LSTM(u)``.

    Args:
        cell: ``{"class_name": "LSTMCell" | "GRUCell" | "SimpleRNNCell", "config": {...}}``, or a
            ``StackedRNNCells`` whose ``cells`` run one after the other at every step.
        return_sequences: return every step's output instead of the last one.
        go_backwards: process the sequence in reverse.

    Input shape: ``(batch, timesteps, features)``, then optionally the cell's initial state (h, or h and c
    for an LSTMCell, each ``(batch, units)``).
    Output shape: ``(batch, timesteps, units)`` with return_sequences, else ``(batch, units)``
    (units of the last cell).
    """

    class_name = "RNN"
    family = "recurrent"
    max_inputs = 3
    takes_initial_state = True
    fields = (Field("cell", "layer", doc="The recurrent cell run at every time step.",
                    choices=("LSTMCell", "GRUCell", "SimpleRNNCell"),
                    starter={"class_name": "LSTMCell", "config": {"units": 32}}),) + _rnn_flags()

    def check_config(self) -> None:
        for name in ("return_state", "stateful"):
            if self.config[name]:
                raise ConfigError(f"{self.owner}: '{name}' = true is not supported by the engine (a layer here has "
                                  "one output and keeps no state between batches); set it to false.", name)
        specs = _cell_specs(self.owner, self.config["cell"])
        self.layers: list[BaseRNN] = []
        for k, (cname, cfg) in enumerate(specs):
            allowed = {f.name for f in CELLS[cname].all_fields()} | {"name", "dtype"}
            extra = sorted(set(cfg) - allowed)
            if extra:
                raise ConfigError(f"{self.owner}: {cname} has no argument {extra[0]!r}.", "cell")
            cfg.pop("dtype", None)
            last = k == len(specs) - 1
            cfg.update(name=f"{self.name}_cell_{k}", go_backwards=self.config["go_backwards"] and k == 0,
                       return_sequences=self.config["return_sequences"] or not last)
            try:
                self.layers.append(CELLS[cname].layer_class(cfg))
            except ConfigError as e:
                raise ConfigError(f"{self.owner}: in 'cell': {str(e).split(': ', 1)[-1]}", "cell") from None
        self.stacked = self.config["cell"]["class_name"] == "StackedRNNCells"

    def summary_args(self) -> str:
        names = "+".join(CELLS_BY_LAYER[type(layer)] for layer in self.layers)
        return f"{names} {self.layers[-1].config['units']} units" + (
            ", sequences" if self.config["return_sequences"] else "")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        shape, states = input_shapes[0], list(input_shapes[1:])
        if states and self.stacked:
            raise self.shape_error("takes no initial state with stacked cells in layergraph; remove the state "
                                   "inputs or use one cell.")
        for layer in self.layers:
            try:
                shape = layer.output_shape([shape] + states)
            except ShapeError as e:
                raise self.shape_error(str(e).replace(layer.owner, "").strip()) from None
        return shape

    def _cell_inputs(self, input_shapes: list[Shape]) -> list[list[Shape]]:
        self.output_shape(input_shapes)
        shapes, shape = [], input_shapes[0]
        for layer in self.layers:
            shapes.append([shape])
            shape = (shape[0], shape[1], layer.config["units"])
        return shapes

    def _prefix(self, k: int) -> str:
        return f"cell_{k}_" if self.stacked else ""

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        return [WeightSpec(self._prefix(k) + s.name, s.shape, s.initializer, s.trainable)
                for k, (layer, shapes) in enumerate(zip(self.layers, self._cell_inputs(input_shapes)))
                for s in layer.weight_specs(shapes)]

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        out = {}
        for k, (layer, shapes) in enumerate(zip(self.layers, self._cell_inputs(input_shapes))):
            out.update({self._prefix(k) + n: w for n, w in layer.init_weights(shapes, rng, dtype).items()})
        return out

    def keras_weight_groups(self, input_shapes: list[Shape]) -> list[tuple[str, int]]:
        counts = [len(layer.weight_specs(s)) for layer, s in zip(self.layers, self._cell_inputs(input_shapes))]
        if not self.stacked:
            return [("", 0), ("cell", counts[0])]
        return [("", 0), ("cell", 0)] + [(f"cell/cells/{g}", n) for g, n in zip(self.keras_cell_groups(), counts)]

    def keras_cell_groups(self) -> list[str]:
        """The groups of the stacked cells under ``cell/cells`` in ``model.weights.h5``, in cell order:
        Keras's ``saving_lib`` names a list's items by class, then ``_1``, ``_2``..."""
        used: dict[str, int] = {}
        out = []
        for layer in self.layers:
            base = to_snake_case(CELLS_BY_LAYER[type(layer)])
            out.append(base if base not in used else f"{base}_{used[base] + 1}")
            used[base] = used.get(base, -1) + 1
        return out

    def numerics_for(self, n_inputs: int) -> Numerics:
        return self.layers[0].numerics_for(n_inputs) if n_inputs > 1 else self.numerics()

    def numerics(self) -> Numerics:
        if not self.stacked:
            return self.layers[0].numerics()
        nums = [layer.numerics() for layer in self.layers]
        weights = tuple(self._prefix(k) + w for k, n in enumerate(nums) for w in n.weights)
        return Numerics(num.stacked_cells_forward, num.stacked_cells_backward, weights=weights, args={
            "cells": tuple(Fn(n.forward, n.backward) for n in nums),
            "cell_args": tuple(_non_default_args(n.forward, n.args) for n in nums),
            "cell_weights": tuple(len(n.weights) for n in nums)}, training_args=True)

    def forward(self, inputs, weights, *, training=False, rng=None):
        return forward_with_buffers(self, inputs, weights, training, rng)

    def output_activation(self) -> str | None:
        return self.layers[-1].output_activation()


CELLS_BY_LAYER = {c.layer_class: n for n, c in CELLS.items() if n != "StackedRNNCells"}


def per_step_refusal(cls: type[Layer]) -> str | None:
    """Why a catalog layer cannot run inside TimeDistributed, or None when it can."""
    if cls.max_inputs == 0 or cls.min_inputs != 1 or (cls.max_inputs != 1 and not cls.takes_initial_state):
        return "it does not take exactly one input"     # (a recurrent layer's initial states are optional)
    if cls.composite:
        return "it is a group of layers"
    if cls.integer_inputs:
        return "it reads integer ids"
    if cls.gradient != "hand-written":
        return "it has no hand-written gradient"
    if cls.family == "augmentation":
        return "its random transformations are drawn per call, and Keras calls it once per time step"
    if cls.state_updates is not Layer.state_updates:
        return "its moving statistics would be taken over batch and time together, not per step as in Keras"
    return None


@register_layer
class TimeDistributed(Layer):
    """Applies a layer to every time step of its input with the same weights.

    Args:
        layer: the wrapped layer, ``{"class_name": "Dense", "config": {"units": 8}}``; any catalog layer
            with one input that treats the samples of a batch independently (Dense, Conv2D, pooling,
            Flatten, Dropout, LSTM...).

    Input shape: ``(batch, time, ...)``, at least 3-D.
    Output shape: ``(batch, time, *the wrapped layer's output shape without its batch axis)``.
    """

    class_name = "TimeDistributed"
    family = "recurrent"
    fields = (Field("layer", "layer", doc="The layer applied to every time step.",
                    starter={"class_name": "Dense", "config": {"units": 32}},
                    choices=tuple(sorted(n for n, c in LAYERS.items() if per_step_refusal(c) is None))),)

    def check_config(self) -> None:
        spec = self.config["layer"]
        cls = LAYERS.get(spec.get("class_name"))
        if cls is None:
            raise ConfigError(f"{self.owner}: 'layer' must be a catalog layer, got {spec.get('class_name')!r}.",
                              "layer")
        why = per_step_refusal(cls)
        if why:
            raise ConfigError(f"{self.owner}: {cls.class_name} cannot be applied per time step: {why}.", "layer")
        cfg = dict(spec.get("config") or {})
        cfg.pop("dtype", None)
        cfg["name"] = str(cfg.get("name") or cls.base_name())
        try:
            self.inner = cls(cfg)
        except ConfigError as e:
            raise ConfigError(f"{self.owner}: in 'layer': {e}", "layer") from None

    def summary_args(self) -> str:
        args = self.inner.summary_args()
        return f"{self.inner.class_name} {args}".strip()

    def _step_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        if len(shape) < 3:
            raise self.shape_error(f"expects an input with a time axis (batch, time, ...) of at least 3 "
                                   f"dimensions but gets {fmt_shape(shape)}; add a Reshape before it.")
        return (None, *shape[2:])

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        try:
            out = self.inner.output_shape([self._step_shape(input_shapes)])
        except ShapeError as e:  # the inner layer's error under this layer's name
            raise self.shape_error(f"(wrapping {self.inner.class_name}): "
                                   f"{str(e).replace(self.inner.owner, '').strip()}") from None
        return (input_shapes[0][0], input_shapes[0][1], *out[1:])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        self.output_shape(input_shapes)
        return self.inner.weight_specs([self._step_shape(input_shapes)])

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        self.output_shape(input_shapes)
        return self.inner.init_weights([self._step_shape(input_shapes)], rng, dtype)

    def keras_weight_groups(self, input_shapes: list[Shape]) -> list[tuple[str, int]]:
        return [("", 0)] + [(f"layer/{path}".rstrip("/"), n)
                            for path, n in self.inner.keras_weight_groups([self._step_shape(input_shapes)])]

    def numerics(self) -> Numerics:
        inner = self.inner.numerics()
        return Numerics(num.time_distributed_forward, num.time_distributed_backward, weights=inner.weights,
                        args={"layer": Fn(inner.forward, inner.backward),
                              "layer_args": _non_default_args(inner.forward, inner.args),
                              "layer_training": inner.training_args}, training_args=True)

    def added_loss(self, cache: Any) -> float:
        return self.inner.added_loss(cache[0])

    def output_activation(self) -> str | None:
        return self.inner.output_activation()
