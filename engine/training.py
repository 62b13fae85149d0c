"""``fit`` / ``evaluate`` / ``predict`` over a ``LayerGraph``, Keras-style, with callbacks and run control.

A run can be stopped, paused and single-stepped between batches through a ``RunControl`` (or any
``threading.Event``-like ``stop_event``), which is how the designer's worker thread drives it.
Callbacks see a ``TrainingContext``: the current weights, the last batch's activations per node and the
gradient norms per node.  The arrays in the context belong to the run; copy what you keep.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from engine.runtime import with_blas_threads
from engine.errors import TrainingError
from engine.executor import CompiledGraph, Executor, ForwardPass, ParamStore, Weights, first_nonfinite
from engine.graph import LayerGraph
from engine.losses import Loss, default_loss, get_loss
from engine.memory import check_memory, estimate
from engine.metrics import MeanTracker, accuracy_matches
from engine.optimizers import Optimizer, get_optimizer


# ----- run control and callbacks ------------------------------------------------------------------------
class RunControl:
    """Stop / pause / resume / single-step, consulted by ``fit`` between batches (thread-safe).

    ``is_set()`` reports a stop request, so a ``RunControl`` can stand wherever a ``threading.Event`` is
    expected as a stop flag.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._paused = False
        self._credits = 0
        self._waiting = False

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._credits = 0
            self._cond.notify_all()

    def step(self, n: int = 1) -> None:
        """Run ``n`` more batches, then stay paused."""
        with self._cond:
            self._paused = True
            self._credits += n
            self._cond.notify_all()

    def is_set(self) -> bool:
        return self._stop

    def nap(self, seconds: float) -> None:
        """Sleep up to ``seconds``; a stop or pause request ends the nap at once (pacing a run)."""
        with self._cond:
            self._cond.wait_for(lambda: self._stop or (self._paused and self._credits == 0), timeout=seconds)

    @property
    def stopped(self) -> bool:
        return self._stop

    @property
    def waiting(self) -> bool:
        """True while the training thread is parked in ``wait_turn``: it touches no weights until a
        resume, step or stop (the only calls that wake it) arrives."""
        return self._waiting

    @property
    def paused(self) -> bool:
        return self._paused and self._credits == 0

    def wait_turn(self, on_pause: Callable[[], None] | None = None) -> bool:
        """Block while paused; True when the next batch may run, False when a stop was requested.

        ``on_pause`` is called once, outside the lock, whenever this call is about to block, so a
        pause requested at any moment (even just after the last batch's callbacks ran) is announced
        before the worker sleeps.
        """
        announced = on_pause is None
        while True:
            with self._cond:
                if self._stop:
                    return False
                if not self._paused:
                    return True
                if self._credits > 0:
                    self._credits -= 1
                    return True
                if announced:
                    self._waiting = True
                    self._cond.wait()
                    self._waiting = False
                    continue
            on_pause()
            announced = True


@dataclass
class TrainingContext:
    """What callbacks can read during a run (live arrays: copy what you keep)."""

    plan: CompiledGraph
    params: ParamStore
    optimizer: Optimizer
    losses: dict[str, Loss]
    epochs: int
    steps_per_epoch: int
    control: RunControl | None = None
    epoch: int = 0
    batch: int = 0
    step: int = 0
    activations: dict[str, np.ndarray] = field(default_factory=dict)
    gradients: Weights = field(default_factory=dict)
    logs: dict[str, float] = field(default_factory=dict)
    #: set by a callback that wants ``val_outputs`` (the model's validation outputs of the last epoch)
    keep_val_outputs: bool = False
    val_outputs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def grad_norms(self) -> dict[str, float]:
        """L2 norm of each node's weight gradients for the last batch (computed on demand: the
        training loop itself never needs it, so it costs nothing when no callback asks)."""
        return {nid: float(np.sqrt(sum(float(np.vdot(g, g)) for g in gw.values())))
                for nid, gw in self.gradients.items()}

    def weights(self) -> Weights:
        """A copy of the current weights (node id -> weight name -> array)."""
        return self.params.snapshot()

    def node_name(self, node_id: str) -> str:
        return self.plan.names[node_id]


class Callback:
    """Base callback; override what you need.  ``context`` is set before ``on_train_begin``."""

    context: TrainingContext | None = None

    def set_context(self, context: TrainingContext) -> None:
        self.context = context

    def on_train_begin(self, logs: dict | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_batch_end(self, step: int, logs: dict) -> None: ...

    def on_pause(self, step: int) -> None:
        """The run is paused (or finished a single step) and is about to wait; ``step`` batches ran."""

    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, logs: dict | None = None) -> None: ...


class _Callbacks:
    def __init__(self, callbacks: Iterable[Any], ctx: TrainingContext) -> None:
        self.items = list(callbacks or ())
        for cb in self.items:
            if hasattr(cb, "set_context"):
                cb.set_context(ctx)
            else:
                try:
                    cb.context = ctx
                except AttributeError:
                    pass

    def __call__(self, hook: str, *args: Any) -> None:
        for cb in self.items:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(*args)


@dataclass
class History:
    """``history`` maps a log name (``loss``, ``accuracy``, ``val_loss``, ...) to one value per epoch."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    params: ParamStore | None = None
    stopped: bool = False


@dataclass
class StepResult:
    loss: float
    output_losses: dict[str, float]
    forward: ForwardPass
    gradients: Weights


# ----- the trainer --------------------------------------------------------------------------------------
class Trainer:
    """One graph, its weights, losses and optimizer; ``train_step`` is one forward/backward/update.

    Args:
        graph: a valid ``LayerGraph`` (or an already compiled one).
        params: a ``ParamStore``, saved weights (node id -> name -> array) or None (fresh, from ``seed``).
        loss: a loss name for every output, a dict keyed by output layer name, or None (chosen from the
            output layer and the labels, see ``engine.losses.default_loss``).
        optimizer: a name (``"adam"``), a config dict or an ``Optimizer``.
        learning_rate: overrides the optimizer's default.
        metrics: ``None`` (accuracy for crossentropy losses), ``[]`` or ``["accuracy"]``.
    """

    def __init__(self, graph: LayerGraph | CompiledGraph, *, params: ParamStore | Weights | None = None,
                 loss: Any = None, optimizer: Any = "adam", learning_rate: float | None = None,
                 seed: int | None = None, dtype: Any = np.float32, metrics: list[str] | None = None) -> None:
        self.plan = graph if isinstance(graph, CompiledGraph) else CompiledGraph(graph)
        self.executor = Executor(self.plan)
        self.dtype = np.dtype(dtype)
        if isinstance(params, ParamStore):
            self.params = params
        else:
            self.params = ParamStore(self.plan, seed=seed, weights=params, dtype=self.dtype)
        self.optimizer = get_optimizer(optimizer, learning_rate)
        self.loss_spec = loss
        self.losses: dict[str, Loss] = {}
        self.metrics = metrics

    # ----- data -------------------------------------------------------------------------------------
    def prepare(self, x: Any, y: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Check the data against the graph; resolve the losses on first use."""
        xs = self.plan.prepare_inputs(x, self.dtype)
        ys = self._targets(y)
        n = len(next(iter(xs.values())))
        for nid, arr in ys.items():
            if len(arr) != n:
                raise TrainingError(f"The inputs have {n} samples but the labels for '{self.plan.names[nid]}' "
                                    f"have {len(arr)}; give one label per sample.")
        if not self.losses:
            self.losses = self._resolve_losses(ys)
        for nid, loss in self.losses.items():
            if not loss.sparse:
                ys[nid] = ys[nid].astype(self.dtype, copy=False)
        return xs, ys

    def _targets(self, y: Any) -> dict[str, np.ndarray]:
        outs = self.plan.output_ids
        names = self.plan.names
        if isinstance(y, Mapping):
            res = {}
            for key, arr in y.items():
                nid = key if key in outs else self.plan.ids_by_name.get(key)
                if nid not in outs:
                    raise TrainingError(f"Labels named '{key}' match no output; the outputs are "
                                        f"{', '.join(names[o] for o in outs)}.")
                res[nid] = np.asarray(arr)
            missing = [names[o] for o in outs if o not in res]
            if missing:
                raise TrainingError(f"No labels for output '{missing[0]}'; give one label array per output.")
            return res
        if isinstance(y, (list, tuple)) and len(outs) > 1:
            if len(y) != len(outs):
                raise TrainingError(f"The graph has {len(outs)} outputs but {len(y)} label arrays were given.")
            return {o: np.asarray(a) for o, a in zip(outs, y)}
        if len(outs) != 1:
            raise TrainingError(f"The graph has {len(outs)} outputs ({', '.join(names[o] for o in outs)}); "
                                "give a dict of labels keyed by output layer name.")
        return {outs[0]: np.asarray(y)}

    def _resolve_losses(self, ys: dict[str, np.ndarray]) -> dict[str, Loss]:
        spec = self.loss_spec
        res = {}
        for nid in self.plan.output_ids:
            name = self.plan.names[nid]
            s = spec.get(name, spec.get(nid)) if isinstance(spec, Mapping) else spec
            if s is None:
                s = default_loss(output_activation(self.plan, nid), ys[nid], self.plan.shapes[nid])
            res[nid] = get_loss(s)
        return res

    def _wants_accuracy(self, nid: str) -> bool:
        if self.metrics is None:
            return self.losses[nid].classification
        return any(str(m).lower() in ("accuracy", "acc") for m in self.metrics)

    def _log_key(self, nid: str, what: str) -> str:
        return what if len(self.plan.output_ids) == 1 else f"{self.plan.names[nid]}_{what}"

    # ----- steps ------------------------------------------------------------------------------------
    def compute_loss(self, fwd: ForwardPass, yb: dict[str, np.ndarray]) -> tuple[float, dict, dict]:
        total, per, grads = 0.0, {}, {}
        for nid, loss in self.losses.items():
            v, g = loss(yb[nid], fwd.activations[nid], fwd.masks.get(nid))
            per[nid] = v
            grads[nid] = g
            total += v
        return total + self.executor.added_loss(self.params, fwd), per, grads

    def train_step(self, xb: dict[str, np.ndarray], yb: dict[str, np.ndarray],
                   rng: np.random.Generator | None = None) -> StepResult:
        """Forward (training mode), loss, NaN/Inf guard, backward, optimizer update, moving stats."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the guard below reports it
            fwd = self.executor.forward(self.params, xb, training=True, rng=rng)
            total, per, gout = self.compute_loss(fwd, yb)
            bad = first_nonfinite(self.plan, fwd.activations)
            if bad is not None or not np.isfinite(total):
                raise nonfinite_error(self.plan, bad, per, yb)
            wgrads, _ = self.executor.backward(self.params, fwd, gout)
        keys = self.params.trainable_keys()
        self.optimizer.apply(((nid, k), self.params.values[nid][k], wgrads[nid][k])
                             for nid, k in keys if nid in wgrads and k in wgrads[nid])
        self.executor.apply_constraints(self.params)
        self.executor.apply_state_updates(self.params, fwd)
        return StepResult(total, per, fwd, wgrads)

    def evaluate_arrays(self, xs: dict[str, np.ndarray], ys: dict[str, np.ndarray], batch_size: int = 32,
                        outputs: dict[str, list[np.ndarray]] | None = None) -> dict[str, float]:
        """Inference-mode loss and metrics over prepared data, averaged over samples like Keras.

        With ``outputs`` given, each output node's batches are appended to ``outputs[node_id]``.
        """
        n = len(next(iter(xs.values())))
        trackers: dict[str, MeanTracker] = {}
        for start in range(0, n, batch_size):
            xb = {k: v[start:start + batch_size] for k, v in xs.items()}
            yb = {k: v[start:start + batch_size] for k, v in ys.items()}
            fwd = self.executor.forward(self.params, xb, training=False)
            total, per, _ = self.compute_loss(fwd, yb)
            self._track(trackers, total, per, fwd, yb, len(yb[next(iter(yb))]))
            if outputs is not None:
                for nid in self.plan.output_ids:
                    outputs.setdefault(nid, []).append(fwd.activations[nid])
        return {k: t.result for k, t in trackers.items()}

    def _track(self, trackers, total, per, fwd, yb, count) -> None:
        trackers.setdefault("loss", MeanTracker()).update(total, count)
        multi = len(self.plan.output_ids) > 1
        for nid in self.plan.output_ids:
            if multi:
                trackers.setdefault(self._log_key(nid, "loss"), MeanTracker()).update(per[nid], count)
            if self._wants_accuracy(nid):
                m = accuracy_matches(yb[nid], fwd.activations[nid])
                mask = fwd.masks.get(nid)
                if mask is not None:   # Keras weights its compile metrics by the output mask
                    w = np.broadcast_to(mask.reshape(mask.shape + (1,) * (m.ndim - mask.ndim)), m.shape)
                    if w.sum():
                        trackers.setdefault(self._log_key(nid, "accuracy"), MeanTracker()).update(
                            float((m * w).sum() / w.sum()), float(w.sum()))
                    continue
                trackers.setdefault(self._log_key(nid, "accuracy"), MeanTracker()).update(m.mean(), m.size)


def output_activation(plan: CompiledGraph, nid: str) -> str | None:
    """The activation that produces an output node's values, as its layer declares it (``Layer.output_activation``)."""
    return plan.layers[nid].output_activation()


def nonfinite_error(plan: CompiledGraph, bad: str | None, losses: dict[str, float] | None = None,
                    labels: dict[str, np.ndarray] | None = None) -> TrainingError:
    if bad is None and losses and labels is not None:
        # finite outputs, finite labels, infinite loss: the output values grew so large the loss overflowed
        nid = next((n for n, v in losses.items() if not np.isfinite(v) and np.all(np.isfinite(labels[n]))), None)
        if nid is not None:
            return TrainingError(f"The loss on the output of {plan.owner(nid)} overflowed to infinity: its values "
                                 "grew too large; lower the learning rate or normalise the targets.", nid)
    if bad is None:
        return TrainingError("The loss became NaN or infinite although every layer output is finite; check the "
                             "labels for NaN/Inf values and that they suit the loss.")
    owner = plan.owner(bad)
    if not plan.sources[bad]:
        return TrainingError(f"The data fed to {owner} contains NaN or infinite values; clean the data.", bad)
    return TrainingError(f"The output of {owner} became NaN or infinite (the first layer to do so); lower the "
                         "learning rate, normalise the inputs or add BatchNormalization.", bad)


# ----- fit / evaluate / predict -------------------------------------------------------------------------
def validation_cut(n: int, validation_split: float) -> int:
    """Index of the first validation sample: Keras keeps the *last* ``validation_split`` of the data
    (before shuffling) for validation; ``n`` when there is no split."""
    return int(np.floor(n * (1.0 - validation_split))) if validation_split else n


def _split(xs, ys, validation_split):
    n = len(next(iter(xs.values())))
    if not 0.0 <= validation_split < 1.0:
        raise TrainingError(f"validation_split must be in [0, 1), got {validation_split}.")
    cut = validation_cut(n, validation_split)
    if cut < 1 or (validation_split > 0 and cut >= n):
        raise TrainingError(f"validation_split={validation_split} leaves {cut} training and {n - cut} validation "
                            f"samples out of {n}; choose a split that leaves some of each.")
    take = lambda d, sl: {k: v[sl] for k, v in d.items()}  # noqa: E731
    return take(xs, slice(0, cut)), take(ys, slice(0, cut)), take(xs, slice(cut, None)), take(ys, slice(cut, None))


@with_blas_threads
def fit(graph: LayerGraph | CompiledGraph, x: Any, y: Any, *, params: ParamStore | Weights | None = None,
        loss: Any = None, optimizer: Any = "adam", learning_rate: float | None = None, epochs: int = 1,
        batch_size: int = 32, validation_split: float = 0.0, validation_data: tuple | None = None,
        shuffle: bool = True, seed: int | None = None, callbacks: Iterable[Any] = (), stop_event: Any = None,
        control: RunControl | None = None, metrics: list[str] | None = None, dtype: Any = np.float32,
        memory_available: int | None = None) -> History:
    """Train ``graph`` on ``(x, y)`` like ``keras.Model.fit``; returns a ``History`` (with ``params``).

    Args:
        x: an array (single input), a list in input order, or a dict keyed by Input layer name.
        y: an array (single output), a list in output order, or a dict keyed by output layer name.
        params: weights to start from (a ``ParamStore`` is updated in place).
        validation_split: fraction of the *last* samples held out (as Keras, before shuffling).
        validation_data: ``(x_val, y_val)``, used instead of ``validation_split``.
        seed: makes initialisation, shuffling and Dropout repeatable.
        stop_event: any object with ``is_set()``, checked between batches.
        control: a ``RunControl`` for stop / pause / single-step.
        memory_available: bytes available (default: read from the system), for the memory guard.

    Raises:
        TrainingError: bad data, a run that would not fit in memory, or NaN/Inf (naming the first layer).
    """
    if epochs < 0 or batch_size < 1:
        raise TrainingError(f"epochs must be >= 0 and batch_size >= 1, got {epochs} and {batch_size}.")
    tr = Trainer(graph, params=params, loss=loss, optimizer=optimizer, learning_rate=learning_rate, seed=seed,
                 dtype=dtype, metrics=metrics)
    xs, ys = tr.prepare(x, y)
    if validation_data is not None:
        vx, vy = tr.prepare(*validation_data)
    elif validation_split:
        xs, ys, vx, vy = _split(xs, ys, validation_split)
    else:
        vx = vy = None
    est = estimate(tr.plan, tr.dtype.itemsize, tr.params.count(), batch_size,
                   optimizer_slots=tr.optimizer.slots_per_weight)
    check_memory(est, batch_size, memory_available)
    n = len(next(iter(xs.values())))
    steps = -(-n // batch_size)
    ctx = TrainingContext(tr.plan, tr.params, tr.optimizer, tr.losses, epochs, steps, control)
    settings = {"epochs": epochs, "batch_size": batch_size, "samples": n, "steps": steps,
                "optimizer": tr.optimizer.get_config(),
                "loss": {tr.plan.names[k]: v.name for k, v in tr.losses.items()}}
    hist = History(settings=settings, params=tr.params)
    cbs = _Callbacks(callbacks, ctx)
    rng = np.random.default_rng(None if seed is None else [seed, 1])
    cbs("on_train_begin", {})

    def announce_pause() -> None:
        cbs("on_pause", ctx.step)

    for epoch in range(epochs):
        ctx.epoch = epoch
        cbs("on_epoch_begin", epoch, {})
        order = rng.permutation(n) if shuffle else np.arange(n)
        trackers: dict[str, MeanTracker] = {}
        for b in range(steps):
            if (stop_event is not None and stop_event.is_set()) or (
                    control is not None and not control.wait_turn(announce_pause)):
                hist.stopped = True
                break
            idx = order[b * batch_size:(b + 1) * batch_size]
            if shuffle:
                idx = np.sort(idx)  # same samples per batch, cache-friendly gather
            xb = {k: v[idx] for k, v in xs.items()}
            yb = {k: v[idx] for k, v in ys.items()}
            try:
                res = tr.train_step(xb, yb, rng)
            except TrainingError as exc:
                raise TrainingError(f"Epoch {epoch + 1}, batch {b + 1}: {exc}", exc.node_id) from None
            tr._track(trackers, res.loss, res.output_losses, res.forward, yb, len(idx))
            ctx.batch, ctx.step = b, ctx.step + 1
            ctx.activations = res.forward.activations
            ctx.gradients = res.gradients
            logs = {k: t.result for k, t in trackers.items()}
            logs["batch_loss"] = res.loss
            ctx.logs = logs
            cbs("on_batch_end", ctx.step - 1, logs)
        if hist.stopped:
            break
        logs = {k: t.result for k, t in trackers.items()}
        if vx is not None:
            kept: dict[str, list[np.ndarray]] | None = {} if ctx.keep_val_outputs else None
            logs.update({f"val_{k}": v for k, v in tr.evaluate_arrays(vx, vy, batch_size, kept).items()})
            if kept is not None:
                ctx.val_outputs = {nid: np.concatenate(parts) for nid, parts in kept.items()}
        for k, v in logs.items():
            hist.history.setdefault(k, []).append(v)
        hist.epoch.append(epoch)
        ctx.logs = logs
        cbs("on_epoch_end", epoch, logs)
    cbs("on_train_end", dict(ctx.logs))
    return hist


@with_blas_threads
def evaluate(graph: LayerGraph | CompiledGraph, x: Any, y: Any, *, params: ParamStore | Weights, loss: Any = None,
             batch_size: int = 32, metrics: list[str] | None = None, dtype: Any = np.float32) -> dict[str, float]:
    """Loss and metrics in inference mode, averaged over all samples (``keras.Model.evaluate``)."""
    tr = Trainer(graph, params=params, loss=loss, dtype=dtype, metrics=metrics)
    xs, ys = tr.prepare(x, y)
    return tr.evaluate_arrays(xs, ys, batch_size)


@with_blas_threads
def predict(graph: LayerGraph | CompiledGraph, x: Any, *, params: ParamStore | Weights, batch_size: int = 32,
            dtype: Any = np.float32) -> np.ndarray | dict[str, np.ndarray]:
    """Outputs in inference mode: one array, or a dict keyed by output layer name for several outputs."""
    ex = Executor(graph if isinstance(graph, CompiledGraph) else CompiledGraph(graph))
    store = params if isinstance(params, ParamStore) else ParamStore(ex.plan, weights=params, dtype=dtype)
    return ex.predict(store, x, batch_size, dtype)
