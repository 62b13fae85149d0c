"""Run a validated ``LayerGraph``: weights in a ``ParamStore``, forward and backward over a compiled plan.

The executor is micrograd's algorithm at layer granularity: forward in topological order, backward in
reverse order with ``+=`` accumulation where one output feeds several layers (fan-out).  Layers hold no
data state; weights live in the ``ParamStore`` (node id -> weight name -> array) and caches live in the
``ForwardPass`` returned by ``forward``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from engine.runtime import with_blas_threads
from engine.errors import GraphError, TrainingError
from engine.graph import LayerGraph
from engine.layers import Layer, WeightSpec
from engine.memory import check_allocation, estimate, init_bytes
from engine.shapes import Shape, fmt_shape
from engine.validation import ValidationResult, infer_shapes
from engine.weight_coverage import split_usable

Weights = dict[str, dict[str, np.ndarray]]


class WeightsMismatchWarning(UserWarning):
    """Saved weights did not fit a node's current shapes, so that node was re-initialised."""


# ----- the compiled plan ------------------------------------------------------------------------------
class CompiledGraph:
    """A valid graph frozen into an execution plan: order, layers, input/output ids and shapes.

    Args:
        graph: the document model; it must validate without problems.
        result: a ``ValidationResult`` for ``graph`` if the caller already has one.

    Raises:
        GraphError: listing every problem, when the graph is not valid.
    """

    def __init__(self, graph: LayerGraph, result: ValidationResult | None = None) -> None:
        result = result if result is not None else infer_shapes(graph)
        if not result.ok:
            lines = []
            for p in result.problems:
                where = f"{graph.node(p.node_id).name}: " if p.node_id in graph else ""
                lines.append(f"  - {where}{p.message}")
            raise GraphError("The graph cannot run until its problems are fixed:\n" + "\n".join(lines))
        self.graph = graph
        self.order: list[str] = graph.topological_order()
        self.layers: dict[str, Layer] = {nid: graph.layer(nid) for nid in self.order}
        self.sources: dict[str, list[str]] = {nid: graph.inputs_of(nid) for nid in self.order}
        self.shapes: dict[str, Shape] = {nid: tuple(result.node_shapes[nid]) for nid in self.order}
        self.in_shapes: dict[str, list[Shape]] = {nid: [self.shapes[s] for s in self.sources[nid]]
                                                  for nid in self.order}
        self.input_ids: list[str] = graph.input_nodes()
        self.output_ids: list[str] = graph.output_nodes()
        #: nodes whose output carries a mask (``ValidationResult.mask_sources``)
        self.masked: frozenset[str] = frozenset(result.mask_sources)
        self.names: dict[str, str] = {nid: graph.node(nid).name for nid in self.order}
        self.ids_by_name: dict[str, str] = {name: nid for nid, name in self.names.items()}

    def weight_specs(self, nid: str) -> list[WeightSpec]:
        return self.layers[nid].weight_specs(list(self.in_shapes[nid]))

    def owner(self, nid: str) -> str:
        return self.layers[nid].owner

    @property
    def input_names(self) -> list[str]:
        return [self.names[n] for n in self.input_ids]

    @property
    def output_names(self) -> list[str]:
        return [self.names[n] for n in self.output_ids]

    # ----- data checks ----------------------------------------------------------------------------
    def prepare_inputs(self, x: Any, dtype: Any = np.float32) -> dict[str, np.ndarray]:
        """Map user data to ``{input node id: array}`` and check shapes and dtypes.

        ``x`` is an array (single-input graphs), a list in input order, or a dict keyed by Input layer
        name (or node id).  Float inputs are cast to ``dtype``; ``int32`` Inputs need integer data.
        """
        if isinstance(x, Mapping):
            out = {}
            for key, arr in x.items():
                nid = key if key in self.input_ids else self.ids_by_name.get(key)
                if nid not in self.input_ids:
                    raise TrainingError(f"The data has an array named '{key}' but the graph's inputs are "
                                        f"{', '.join(repr(n) for n in self.input_names)}; rename the array.")
                out[nid] = arr
            missing = [self.names[n] for n in self.input_ids if n not in out]
            if missing:
                raise TrainingError(f"No data for Input '{missing[0]}'; give one array per Input layer name "
                                    f"({', '.join(self.input_names)}).")
        elif isinstance(x, (list, tuple)):
            if len(x) != len(self.input_ids):
                raise TrainingError(f"The graph has {len(self.input_ids)} input(s) "
                                    f"({', '.join(self.input_names)}) but {len(x)} arrays were given.")
            out = dict(zip(self.input_ids, x))
        else:
            if len(self.input_ids) != 1:
                raise TrainingError(f"The graph has {len(self.input_ids)} inputs ({', '.join(self.input_names)}); "
                                    "give a dict with one array per Input layer name.")
            out = {self.input_ids[0]: x}
        checked = {nid: self._check_input(nid, arr, dtype) for nid, arr in out.items()}
        sizes = {len(a) for a in checked.values()}
        if len(sizes) > 1:
            desc = ", ".join(f"'{self.names[n]}' has {len(a)}" for n, a in checked.items())
            raise TrainingError(f"The inputs have different numbers of samples ({desc}); give every input "
                                "the same number of samples.")
        return checked

    def _check_input(self, nid: str, arr: Any, dtype: Any) -> np.ndarray:
        layer = self.layers[nid]
        name = self.names[nid]
        want = tuple(layer.config["shape"])
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biuf":
            raise TrainingError(f"Input '{name}' needs numbers but the data has dtype {arr.dtype}; convert it "
                                "to float32 (or int32 for token ids).")
        got = arr.shape[1:]
        if arr.ndim != len(want) + 1 or any(w is not None and w != -1 and w != g for w, g in zip(want, got)):
            raise TrainingError(f"Input '{name}' expects samples of shape {fmt_shape(want)} but the data has "
                                f"{fmt_shape(got)}; reshape the data or change the Input shape.")
        if layer.config["dtype"] == "int32":
            if arr.dtype.kind == "f":
                if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                    raise TrainingError(f"Input '{name}' has dtype int32 (token ids) but the data has "
                                        "non-integer values; give integer ids or change the Input dtype.")
            return arr.astype(np.int32, copy=False)
        return arr.astype(dtype, copy=False)


# ----- parameters ---------------------------------------------------------------------------------------
class ParamStore:
    """Every node's weights (node id -> weight name -> array), created or loaded for a compiled graph.

    Args:
        plan: the compiled graph whose shapes decide the weight shapes.
        seed: seed of the initialisers (``None`` draws fresh randomness).
        weights: previously saved weights; arrays that fit are used.  A node without saved weights, or
            whose shapes changed (``WeightsMismatchWarning``, also kept in ``self.warnings``), starts from
            fresh weights and is listed in ``self.fresh`` (``engine.weight_coverage``: the rule).
        dtype: float dtype of the weights (float32; float64 for gradient checks).

    Raises:
        TrainingError: when the weights would not fit under the memory limit (checked before any is made).
    """

    def __init__(self, plan: CompiledGraph, seed: int | None = None, weights: Weights | None = None,
                 dtype: Any = np.float32) -> None:
        self.plan = plan
        self.dtype = np.dtype(dtype)
        self.values: Weights = {}
        self.specs: dict[str, list[WeightSpec]] = {nid: specs for nid in plan.order
                                                  if (specs := plan.weight_specs(nid))}
        self.warnings: list[str] = []
        #: nodes that started from initial weights although saved weights were given
        self.fresh: list[str] = []
        check_allocation(init_bytes(self.specs, self.dtype), "The weights of this graph", TrainingError,
                         "make the layers smaller")
        usable, fresh = self._usable(weights) if weights else ({}, [])
        rng = np.random.default_rng(seed)
        for nid, specs in self.specs.items():
            # one child stream per node, so loading one node's weights does not shift the others
            child = np.random.default_rng(rng.integers(2**63))
            if nid in usable:
                self.values[nid] = {s.name: np.array(usable[nid][s.name], dtype=self.dtype, copy=True) for s in specs}
            else:
                self.values[nid] = plan.layers[nid].init_weights(list(plan.in_shapes[nid]), child, self.dtype)
        self.fresh = fresh

    def _usable(self, weights: Weights) -> tuple[Weights, list[str]]:
        usable, fresh, messages = split_usable(self.plan, weights)
        for msg in messages:
            warnings.warn(msg, WeightsMismatchWarning, stacklevel=3)
        self.warnings.extend(messages)
        return usable, fresh

    def load(self, weights: Weights) -> list[str]:
        """Copy saved arrays in, node by node; returns the messages for nodes whose saved shapes no longer fit."""
        before = len(self.warnings)
        usable, _fresh = self._usable(weights)
        for nid, ws in usable.items():
            for s in self.specs[nid]:
                self.values[nid][s.name] = np.array(ws[s.name], dtype=self.dtype, copy=True)
        return self.warnings[before:]

    def is_trainable(self, nid: str, name: str) -> bool:
        if not self.plan.layers[nid].config.get("trainable", True):
            return False
        return next(s.trainable for s in self.specs[nid] if s.name == name)

    def trainable_keys(self) -> list[tuple[str, str]]:
        """``(node id, weight name)`` of every weight the optimizer updates, in graph order."""
        return [(nid, s.name) for nid, specs in self.specs.items() for s in specs if self.is_trainable(nid, s.name)]

    def snapshot(self) -> Weights:
        """A deep copy, safe to hand to another thread or to save."""
        return {nid: {k: v.copy() for k, v in ws.items()} for nid, ws in self.values.items()}

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for ws in self.values.values() for v in ws.values())

    def count(self, trainable: bool | None = None) -> int:
        return sum(v.size for nid, ws in self.values.items() for k, v in ws.items()
                   if trainable is None or self.is_trainable(nid, k) == trainable)


# ----- running ------------------------------------------------------------------------------------------
@dataclass
class ForwardPass:
    """What one forward produced: every node's output (``activations``) and the caches for backward."""

    activations: dict[str, np.ndarray]
    caches: dict[str, Any]
    training: bool
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    #: the mask of every node output that carries one, ``(batch, ...)`` bool (Keras's ``_keras_mask``)
    masks: dict[str, np.ndarray] = field(default_factory=dict)


class Executor:
    """Forward and backward over a ``CompiledGraph`` with the weights of a ``ParamStore``."""

    def __init__(self, plan: CompiledGraph | LayerGraph) -> None:
        self.plan = plan if isinstance(plan, CompiledGraph) else CompiledGraph(plan)

    def forward(self, params: ParamStore | Weights, inputs: dict[str, np.ndarray], *, training: bool = False,
                rng: np.random.Generator | None = None) -> ForwardPass:
        """Run every node in topological order.  ``inputs`` come from ``CompiledGraph.prepare_inputs``."""
        values = params.values if isinstance(params, ParamStore) else params
        plan = self.plan
        acts: dict[str, np.ndarray] = {}
        caches: dict[str, Any] = {}
        if training and rng is None:
            rng = np.random.default_rng()
        masks: dict[str, np.ndarray] = {}
        for nid in plan.order:
            layer = plan.layers[nid]
            srcs = plan.sources[nid]
            xs = [inputs[nid]] if not srcs else [acts[s] for s in srcs]
            in_masks = [masks.get(s) for s in srcs]
            masked = any(m is not None for m in in_masks)
            try:
                if masked and layer.mask_args:
                    out, cache = layer.forward(xs, values.get(nid, {}), training=training, rng=rng, masks=in_masks)
                else:
                    out, cache = layer.forward(xs, values.get(nid, {}), training=training, rng=rng)
                if nid in plan.masked:
                    masks[nid] = layer.compute_mask(xs, in_masks)
            except (ValueError, IndexError) as exc:
                msg = str(exc) if str(exc).startswith(layer.owner) else f"{layer.owner} failed: {exc}"
                raise TrainingError(msg, nid) from exc
            acts[nid] = out
            caches[nid] = cache
        return ForwardPass(acts, caches, training, {nid: acts[nid] for nid in plan.output_ids}, masks)

    def added_loss(self, params: ParamStore | Weights, fwd: ForwardPass) -> float:
        """The losses layers add to the model's, summed: ``Layer.added_loss`` (ActivityRegularization), weight
        regularizers ``reg(w)`` of trainable weights and activity regularizers ``reg(output) / batch``."""
        values = params.values if isinstance(params, ParamStore) else params
        total = 0.0
        for nid, layer in self.plan.layers.items():
            if nid not in fwd.caches:
                continue
            total += layer.added_loss(fwd.caches[nid])
            pen = layer.penalties
            if not pen:
                continue
            for w, reg in self._weight_regularizers(params, nid):
                total += reg.penalty(values[nid][w])
            if pen.activity is not None:
                y = fwd.activations[nid]
                total += pen.activity.penalty(y) / max(len(y), 1)
        return total

    def _weight_regularizers(self, params: ParamStore | Weights, nid: str):
        """``(weight name, regularizer)`` for the trainable weights of node ``nid`` that have one."""
        pen = self.plan.layers[nid].penalties
        if not pen.weights:
            return []
        values = params.values if isinstance(params, ParamStore) else params
        names = set(values.get(nid, {}))
        out = []
        for prefix, reg in pen.weights.items():
            w = pen.weight_for(prefix, names)
            if w is not None and (not isinstance(params, ParamStore) or params.is_trainable(nid, w)):
                out.append((w, reg))
        return out

    def apply_constraints(self, params: ParamStore) -> None:
        """Project constrained weights after an optimizer step (Keras applies ``variable.constraint``)."""
        for nid, layer in self.plan.layers.items():
            for prefix, con in layer.penalties.constraints.items():
                w = layer.penalties.weight_for(prefix, set(params.values.get(nid, {})))
                if w is not None and params.is_trainable(nid, w):
                    params.values[nid][w][...] = con.apply(params.values[nid][w])

    def apply_state_updates(self, params: ParamStore, fwd: ForwardPass) -> None:
        """Write non-trainable state (BatchNormalization's moving stats) computed by a training forward."""
        for nid, layer in self.plan.layers.items():
            if nid in params.values:
                upd = layer.state_updates(fwd.caches[nid])
                for k, v in upd.items():
                    params.values[nid][k][...] = v

    def backward(self, params: ParamStore | Weights, fwd: ForwardPass, grad_outputs: dict[str, np.ndarray],
                 ) -> tuple[Weights, dict[str, np.ndarray]]:
        """Reverse-mode pass from ``dL/d output`` per output node.

        Returns ``(weight grads, input grads)``: trainable-weight gradients per node and the gradient
        of every float Input node.  Gradients of fan-out tensors are summed (``+=``).
        """
        values = params.values if isinstance(params, ParamStore) else params
        plan = self.plan
        grads: dict[str, np.ndarray] = {nid: g for nid, g in grad_outputs.items()}
        wgrads: Weights = {}
        in_grads: dict[str, np.ndarray] = {}
        for nid in reversed(plan.order):
            g = grads.pop(nid, None)
            if g is None:
                continue
            srcs = plan.sources[nid]
            if not srcs:
                in_grads[nid] = g
                continue
            layer = plan.layers[nid]
            if layer.penalties.activity is not None:
                y = fwd.activations[nid]
                g = g + layer.penalties.activity.grad(y) / max(len(y), 1)
            gin, gw = layer.backward(g, fwd.caches[nid], values.get(nid, {}))
            for w, reg in self._weight_regularizers(params, nid):
                gw = dict(gw)
                gw[w] = gw[w] + reg.grad(values[nid][w])
            if gw:
                wgrads[nid] = gw
            for src, gi in zip(srcs, gin):
                if gi is None:
                    continue
                if src in grads:
                    grads[src] = grads[src] + gi  # fan-out: never alias a layer's returned buffer
                else:
                    grads[src] = gi
        return wgrads, in_grads

    @with_blas_threads
    def predict(self, params: ParamStore | Weights, x: Any, batch_size: int = 32,
                dtype: Any = np.float32) -> np.ndarray | dict[str, np.ndarray]:
        """Inference in batches: one array for a single output, else a dict keyed by output layer name."""
        if batch_size < 1:
            raise TrainingError(f"batch_size must be at least 1, got {batch_size}.")
        inputs = self.plan.prepare_inputs(x, dtype)
        n = len(next(iter(inputs.values())))
        outputs = sum(math.prod(d or 1 for d in self.plan.shapes[nid][1:]) for nid in self.plan.output_ids)
        batch = estimate(self.plan, np.dtype(dtype).itemsize, 0, min(batch_size, max(n, 1)), training=False).total
        # the outputs in batches, then concatenated once
        check_allocation(2 * n * outputs * np.dtype(dtype).itemsize + batch, f"Predicting {n:,} samples",
                         TrainingError, "predict fewer samples at a time")
        chunks: dict[str, list[np.ndarray]] = {nid: [] for nid in self.plan.output_ids}
        for start in range(0, n, batch_size):
            batch = {k: v[start:start + batch_size] for k, v in inputs.items()}
            fwd = self.forward(params, batch, training=False)
            for nid in self.plan.output_ids:
                chunks[nid].append(fwd.activations[nid])
        outs = {self.plan.names[nid]: (np.concatenate(c) if c else
                                       np.zeros((0, *self.plan.shapes[nid][1:]), dtype))
                for nid, c in chunks.items()}
        return next(iter(outs.values())) if len(outs) == 1 else outs


def first_nonfinite(plan: CompiledGraph, activations: dict[str, np.ndarray]) -> str | None:
    """The first node (topological order) whose output holds NaN or Inf, or None."""
    for nid in plan.order:
        a = activations.get(nid)
        if a is None or a.dtype.kind != "f":
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            s = a.sum()
        if not np.isfinite(s) and not np.isfinite(a).all():
            return nid
    return None


def compile_graph(graph: LayerGraph, seed: int | None = None, weights: Weights | None = None,
                  dtype: Any = np.float32) -> tuple[Executor, ParamStore]:
    """Convenience: ``Executor`` plus a ``ParamStore`` for ``graph``."""
    ex = Executor(graph)
    return ex, ParamStore(ex.plan, seed=seed, weights=weights, dtype=dtype)


__all__ = ["CompiledGraph", "Executor", "ForwardPass", "ParamStore", "WeightsMismatchWarning", "compile_graph",
           "first_nonfinite"]
