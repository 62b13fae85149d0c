"""The layer contract: a declaration (config fields, weights) plus pure shape/forward/backward methods.

Everything else (inspector, validator, file format, summary, exporters, importer) reads only what a
layer class declares here, so adding a layer touches one family module plus its tests.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from engine.activations import ACTIVATIONS, get_activation
from engine.errors import ConfigError, ShapeError, shown
from engine.initializers import INITIALIZERS, get_initializer
from engine.regularizers import Penalties, parse_constraint, parse_regularizer
from engine.keras_objects import check_keras_object, object_kind
from engine.shapes import Shape, fmt_shape

MAX_INT = 2**31 - 1
"""Largest integer argument (Keras sizes, seeds and indices are 32-bit; larger values are file damage)."""

REQUIRED = object()
"""Default of a field the user must give (Keras: a positional constructor argument)."""

FIELD_KINDS = ("int", "float", "bool", "choice", "ints", "shape", "activation", "initializer", "layer",
               "str", "json", "floats")


@dataclass(frozen=True)
class Field:
    """One constructor argument of a layer, declared once with Keras's name and default.

    kind:
      int / float / bool / str          scalar, with optional ``min``/``max`` (inclusive)
      choice                            one of ``choices``
      ints                              tuple of ``length`` ints (a single int is broadcast, like Keras)
      floats                            tuple of floats of any length
      shape                             tuple of ints, -1 or None allowed where ``allow_unknown``
      activation / initializer          a name from the engine's tables
      layer                             a nested ``{"class_name", "config"}`` (Bidirectional)
      json                              opaque JSON kept for round trips (regularizers, constraints)
    """

    name: str
    kind: str
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    length: int | None = None
    optional: bool = False
    allow_unknown: bool = False
    #: A value for a required argument when the layer is dropped from the palette (Keras has no default).
    starter: Any = None
    #: A call argument (``use_causal_mask``), not a constructor argument: Keras keeps it in the functional
    #: config's ``inbound_nodes`` kwargs, and the Keras exporter writes it into the layer's call.
    call_arg: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def validate(self, value: Any, owner: str) -> Any:
        """Return the normalised value or raise ``ConfigError`` naming the argument and what is allowed."""
        where = f"{owner}: argument '{self.name}'"
        if value is None:
            if self.optional or (self.kind == "json"):
                return None
            raise ConfigError(f"{where} must be given (it has no default).", self.name)
        k = self.kind
        if k == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"{where} must be true or false, got {shown(value)}.", self.name)
            return bool(value)
        if k == "int":
            return self._check_range(self._as_int(value, where), where)
        if k == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ConfigError(f"{where} must be a number, got {shown(value)}.", self.name)
            v = float(value)
            if not math.isfinite(v):
                raise ConfigError(f"{where} must be a finite number, got {shown(value)}.", self.name)
            return self._check_range(v, where)
        if k == "str":
            if not isinstance(value, str):
                raise ConfigError(f"{where} must be text, got {shown(value)}.", self.name)
            return value
        if k == "choice":
            if value not in self.choices:
                opts = ", ".join(repr(c) for c in self.choices)
                raise ConfigError(f"{where} must be one of {opts}, got {shown(value)}.", self.name)
            return value
        if k == "activation":
            if not isinstance(value, str) or value not in ACTIVATIONS:
                raise ConfigError(f"{where} must be an activation name ({', '.join(ACTIVATIONS)}), "
                                  f"got {shown(value)}.", self.name)
            return value
        if k == "initializer":
            if not isinstance(value, str) or value not in INITIALIZERS:
                raise ConfigError(f"{where} must be an initializer name ({', '.join(INITIALIZERS)}), "
                                  f"got {shown(value)}.", self.name)
            return value
        if k == "ints":
            items = [value] * (self.length or 1) if isinstance(value, (int, np.integer)) else value
            if not isinstance(items, (list, tuple)) or (self.length is not None and len(items) != self.length):
                n = self.length or "some"
                raise ConfigError(f"{where} must be an int or a tuple of {n} ints, got {shown(value)}.", self.name)
            return tuple(self._check_range(self._as_int(v, where), where) for v in items)
        if k == "floats":
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                value = (value,)  # one number broadcasts, as in Keras
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where} must be a tuple of numbers, got {shown(value)}.", self.name)
            return tuple(Field(self.name, "float").validate(v, owner) for v in value)
        if k == "shape":
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                value = (value,)
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where} must be a tuple of dimensions, got {shown(value)}.", self.name)
            out = []
            for v in value:
                if v is None and self.allow_unknown:
                    out.append(None)
                    continue
                iv = self._as_int(v, where)
                if iv < 1 and not (self.allow_unknown and iv == -1):
                    raise ConfigError(f"{where} dimensions must be positive integers, got {shown(value)}.", self.name)
                out.append(iv)
            return tuple(out)
        if k == "layer":
            if not isinstance(value, dict) or "class_name" not in value:
                raise ConfigError(f"{where} must be a layer {{'class_name': ..., 'config': ...}}.", self.name)
            return value
        if k == "json":
            kind = object_kind(self.name)
            try:
                return check_keras_object(kind, value, where) if kind else value
            except ConfigError as exc:
                raise ConfigError(str(exc), self.name) from None
        raise ConfigError(f"{where} has an unknown field kind {k!r}.", self.name)

    def _as_int(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)):
            raise ConfigError(f"{where} must be an integer, got {shown(value)}.", self.name)
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where} must be an integer, got {shown(value)}.", self.name)
        if not -MAX_INT <= value <= MAX_INT:
            raise ConfigError(f"{where} must be an integer of at most {MAX_INT:,} in size, got {shown(value)}.",
                              self.name)
        return int(value)

    def _check_range(self, v, where):
        if self.min is not None and v < self.min:
            raise ConfigError(f"{where} must be >= {self.min:g}, got {shown(v)}.", self.name)
        if self.max is not None and v > self.max:
            raise ConfigError(f"{where} must be <= {self.max:g}, got {shown(v)}.", self.name)
        return v


@dataclass(frozen=True)
class WeightSpec:
    """One weight variable in Keras's ``layer.weights`` order (trainable first, then non-trainable)."""

    name: str
    shape: tuple[int, ...]
    initializer: str
    trainable: bool = True

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Fn:
    """A numerics function given as an argument: ``forward`` in forward calls, ``backward`` in backward calls."""

    forward: Callable
    backward: Callable | None = None


def activation_fn(name: str | None) -> Fn:
    """An activation argument: the function forward, its derivative backward (``None`` = linear)."""
    a = get_activation(name)
    return Fn(a.fn, a.grad)


@dataclass(frozen=True)
class Numerics:
    """How a layer computes, declared once: functions of ``engine.numerics`` and their arguments.

    The engine calls ``forward(*inputs, *weights, **args)`` (plus ``training=`` and ``rng=`` when
    ``training_args``) and ``backward(grad_out, cache, *weights, **args)``; the NumPy exporter writes the
    same forward call into the generated module and copies the function's source.  ``weights`` are
    weight names in the order the functions take them (a weight the layer does not have is passed as
    ``None``); ``args`` are plain values or ``Fn`` (activations, inner layers' functions).
    """

    forward: Callable
    backward: Callable | None = None
    weights: tuple[str, ...] = ()
    args: Mapping[str, Any] = field(default_factory=dict)
    training_args: bool = False
    #: The number of input positions the functions take when some inputs are optional (an attention's key):
    #: a missing input is passed as ``None`` so the weights keep their positions.
    inputs: int | None = None


def resolve_args(args: Mapping[str, Any], backward: bool) -> dict[str, Any]:
    """``Fn`` markers (also inside tuples and dicts) become the forward or backward function."""
    def one(v):
        if isinstance(v, Fn):
            return v.backward if backward else v.forward
        if isinstance(v, dict):
            return {k: one(x) for k, x in v.items()}
        if isinstance(v, tuple):
            return tuple(one(x) for x in v)
        return v
    return {k: one(v) for k, v in args.items()}


GRADIENT_KINDS = ("hand-written", "automatic", "none")

#: How a layer treats masks (``Layer.mask_rule``), as Keras 3 propagates them:
#:   drop    the output carries no mask (Keras: a layer without masking support drops it; or one that consumes it)
#:   pass    the output carries its first input's mask unchanged (element-wise layers; Keras's default compute_mask)
#:   merge   the output carries the OR of the inputs' masks, and none when an input has none (Keras's merges)
#:   make    the layer makes a mask from its input (``mask_numerics``: Masking, Embedding with mask_zero)
#:   refuse  Keras fails or the engine cannot honour a masked input: the validator reports ``mask_refusal``
MASK_RULES = ("drop", "pass", "merge", "make", "refuse")

#: The doc of every ``*_regularizer`` / ``*_constraint`` argument (``engine/regularizers.py`` applies them).
PENALTY_DOC = ("A Keras regularizer (l1, l2, l1_l2, orthogonal_regularizer) or constraint (max_norm, non_neg, "
               "unit_norm, min_max_norm), applied in training like Keras.")


def to_snake_case(name: str) -> str:
    """Keras's default-name rule: ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


COMMON_FIELDS: tuple[Field, ...] = (
    Field("trainable", "bool", True, "Whether training updates this layer's weights."),
)


class Layer:
    """Base of every catalog layer.  Subclasses declare ``fields`` and implement the pure methods.

    A layer instance holds only its validated config; weights, optimizer state and caches live
    outside (the executor's parameter store), so a layer is safe to share between threads.
    """

    class_name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    fields: ClassVar[tuple[Field, ...]] = ()
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    #: The Keras class-name prefix for default names (``Input`` -> ``input_layer`` like Keras 3).
    default_name_base: ClassVar[str | None] = None
    #: How gradients are obtained: a hand-written backward, automatic differentiation (custom layers),
    #: or none (then ``no_gradient_reason`` says why, e.g. integer outputs).
    gradient: ClassVar[str] = "hand-written"
    no_gradient_reason: ClassVar[str] = ""
    #: Whether the inputs are integer ids (Embedding) rather than features.
    integer_inputs: ClassVar[bool] = False
    #: A layer made of other layers (a group): it computes through them, not through numerics of its own.
    composite: ClassVar[bool] = False
    #: The module Keras's class lives in (Keras-internal layers such as ConvNeXt's LayerScale are not in keras.layers).
    keras_module: ClassVar[str] = "keras.layers"
    #: Whether the inputs after the first are the initial states of a recurrent layer (Keras's ``initial_state``
    #: call argument), so exporters write them as ``layer(x, initial_state=[...])``.
    takes_initial_state: ClassVar[bool] = False
    #: Arguments Keras's constructor requires although the engine has a default (Keras code always states them).
    keras_required_args: ClassVar[tuple[str, ...]] = ()
    #: What the layer does with a mask on its inputs (Keras's ``supports_masking`` / ``compute_mask``), one of
    #: ``MASK_RULES``: the validator infers from it which wires carry a mask, the executor and the NumPy export
    #: compute the masks from it.
    mask_rule: ClassVar[str] = "drop"
    #: Keyword arguments of the numerics forward that receive the masks of the inputs, in input order (None for
    #: an input whose mask the numerics do not take); the backward finds the mask in the forward's cache.
    #: A masked input is passed as a boolean array, an unmasked one as None.
    mask_args: ClassVar[tuple[str | None, ...]] = ()
    #: Keras fills the mask arguments from the inputs' masks at call time and never saves them in the model
    #: file (the attention layers), so the importer has no ``mask=`` argument to compare the inferred masks with.
    keras_masks_implicit: ClassVar[bool] = False
    #: Why a masked input is refused (``mask_rule == "refuse"``), ending with the fix.
    mask_refusal: ClassVar[str] = ""
    #: Keras calls the layer with its inputs as separate arguments (``mha(query, value, key)``), not as one list.
    keras_inputs_as_arguments: ClassVar[bool] = False
    #: The name of Keras's Python class when it differs from the exported name (``GroupedQueryAttention`` behind
    #: ``keras.layers.GroupQueryAttention``): ``model.weights.h5`` paths use it and files may carry it.
    keras_python_name: ClassVar[str | None] = None

    def __init__(self, config: dict | None = None, **kwargs: Any) -> None:
        cfg = dict(config or {})
        cfg.update(kwargs)
        name = cfg.pop("name", None)
        if name is None:
            name = self.base_name()
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{self.class_name}: 'name' must be non-empty text, got {shown(name)}.", "name")
        self.name: str = name
        owner = f"{self.class_name} '{name}'"
        declared = {f.name: f for f in self.all_fields()}
        unknown = sorted(set(cfg) - set(declared))
        if unknown:
            raise ConfigError(f"{owner}: unknown argument {shown(unknown[0])}; {self.class_name} accepts "
                              f"{', '.join(declared)}.", unknown[0])
        self.config: dict[str, Any] = {}
        for f in declared.values():
            if f.name in cfg:
                self.config[f.name] = f.validate(cfg[f.name], owner)
            elif f.required:
                raise ConfigError(f"{owner}: argument '{f.name}' is required ({f.doc}).", f.name)
            else:
                self.config[f.name] = f.default
        self.check_config()
        self.penalties: Penalties = self._parse_penalties()

    # ----- declaration -------------------------------------------------------------------------------
    @classmethod
    def all_fields(cls) -> tuple[Field, ...]:
        return tuple(cls.fields) + COMMON_FIELDS

    @classmethod
    def call_fields(cls) -> tuple[Field, ...]:
        """The declared call arguments (``Field.call_arg``), which are not constructor arguments."""
        return tuple(f for f in cls.all_fields() if f.call_arg)

    @classmethod
    def base_name(cls) -> str:
        return cls.default_name_base or to_snake_case(cls.class_name)

    @classmethod
    def doc(cls) -> str:
        """First paragraph of the class docstring, for palette tooltips."""
        return (cls.__doc__ or cls.class_name).strip().split("\n\n")[0]

    def _parse_penalties(self) -> Penalties:
        """The ``*_regularizer`` and ``*_constraint`` arguments, which training applies like Keras; anything
        the engine cannot apply is refused here (an argument is never silently ignored)."""
        weights, constraints, activity = {}, {}, None
        for name, value in self.config.items():
            if isinstance(value, dict) and "class_name" in value and isinstance(value.get("config"), dict):
                inner = sorted(k for k, v in value["config"].items()
                               if k.endswith(("_regularizer", "_constraint")) and v is not None)
                if inner and name != "activity_regularizer" and not name.endswith(("_regularizer", "_constraint")):
                    raise ConfigError(f"{self.owner}: {inner[0]} of the wrapped layer in '{name}' is not applied by "
                                      "the engine; remove it.", name)
            if value is None or not name.endswith(("_regularizer", "_constraint")):
                continue
            try:
                if name.endswith("_constraint"):
                    constraints[name[:-len("_constraint")]] = parse_constraint(value)
                elif name == "activity_regularizer":
                    activity = parse_regularizer(value)
                else:
                    weights[name[:-len("_regularizer")]] = parse_regularizer(value)
            except ValueError as e:
                raise ConfigError(f"{self.owner}: argument '{name}': {e}; remove it or use one the engine "
                                  "applies.", name) from None
        return Penalties(weights, constraints, activity)

    def check_config(self) -> None:
        """Cross-field checks (e.g. ``strides > 1`` with ``dilation_rate > 1``); raise ``ConfigError``."""

    @property
    def owner(self) -> str:
        """``Dense 'dense_2'`` — how messages name this layer."""
        return f"{self.class_name} '{self.name}'"

    def get_config(self) -> dict[str, Any]:
        """JSON-ready config including the name; tuples become lists."""
        out: dict[str, Any] = {"name": self.name}
        for k, v in self.config.items():
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Layer":
        return cls(config)

    def summary_args(self) -> str:
        """Key arguments in a few words for the canvas node (``32 filters 3×3, relu``)."""
        return ""

    # ----- shapes and weights ------------------------------------------------------------------------
    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        """Full output shape (batch dim first, usually None); raise ``ShapeError`` with the fix."""
        raise NotImplementedError

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        """Weights in Keras ``get_weights()`` order for these input shapes."""
        return []

    def keras_weight_groups(self, input_shapes: list[Shape]) -> list[tuple[str, int]]:
        """Where Keras's ``model.weights.h5`` keeps this layer's weights: ``(group path, count)`` in
        ``weight_specs`` order, the path relative to the layer's group (``""`` for its own ``vars``)."""
        return [("", len(self.weight_specs(input_shapes)))]

    def init_weights(self, input_shapes: list[Shape], rng: np.random.Generator,
                     dtype: Any = np.float32) -> dict[str, np.ndarray]:
        return {s.name: get_initializer(s.initializer)(s.shape, rng, dtype) for s in self.weight_specs(input_shapes)}

    def param_count(self, input_shapes: list[Shape]) -> int:
        return sum(s.size for s in self.weight_specs(input_shapes))

    # ----- masks -------------------------------------------------------------------------------------
    def output_carries_mask(self, carries: list[bool]) -> bool:
        """Whether the output carries a mask, given which inputs do (static: masks are structural)."""
        rule = self.mask_rule
        if rule == "pass":
            return bool(carries) and carries[0]
        if rule == "merge":
            return bool(carries) and all(carries)
        return rule == "make" and self.mask_numerics() is not None

    def mask_numerics(self) -> tuple[Callable, dict[str, Any]] | None:
        """The numerics function computing the output's mask, and its arguments: for ``"make"`` it is called
        as ``fn(*inputs, **args)``, for ``"merge"`` as ``fn(inputs, masks, **args)``; None makes no mask."""
        return None

    def compute_mask(self, inputs: list[np.ndarray], masks: list[np.ndarray | None]) -> np.ndarray | None:
        """The output's mask ``(batch, ...)`` (bool) from the inputs and their masks (None = no mask)."""
        rule = self.mask_rule
        if rule == "pass":
            return masks[0] if masks else None
        made = self.mask_numerics() if rule in ("make", "merge") else None
        if made is None:
            return None
        fn, args = made
        return fn(inputs, masks, **args) if rule == "merge" else fn(*inputs, **args)

    def mask_kwargs(self, masks: list[np.ndarray | None]) -> dict[str, np.ndarray | None]:
        """The numerics forward's mask arguments (``mask_args``) for these input masks."""
        return {name: m for name, m in zip(self.mask_args, masks) if name is not None}

    # ----- computation -------------------------------------------------------------------------------
    def config_args(self, *names: str) -> dict[str, Any]:
        """``{name: config value}`` for the named arguments, to pass to a numerics function."""
        return {n: self.config[n] for n in names}

    def bound_numerics(self, backward: bool, n_inputs: int = 1) -> tuple[Numerics, dict[str, Any]]:
        """``numerics_for(n_inputs)`` and its resolved arguments, made once per layer: the config is fixed after
        construction, and rebuilding them cost ~6 us of a small Dense's ~27 us forward on every batch."""
        bound = self.__dict__.setdefault("_bound", {})
        key = (backward, n_inputs)
        if key not in bound:
            num = self.numerics_for(n_inputs)
            bound[key] = (num, resolve_args(num.args, backward))
        return bound[key]

    def numerics_for(self, n_inputs: int) -> Numerics:
        """The numerics of a call with ``n_inputs`` inputs; a recurrent layer given initial states computes
        through a wrapper of its own functions.  The backward always uses ``numerics()``: the forward's
        cache says which gradients to return."""
        return self.numerics()

    def numerics(self) -> Numerics:
        """The functions this layer computes with and their arguments from the config (see ``Numerics``)."""
        raise NotImplementedError(f"{self.class_name} declares no numerics")

    def forward(self, inputs: list[np.ndarray], weights: dict[str, np.ndarray], *, training: bool = False,
                rng: np.random.Generator | None = None, masks: list[np.ndarray | None] | None = None,
                ) -> tuple[np.ndarray, Any]:
        """Return ``(output, cache)``; the cache is whatever ``backward`` needs.  ``masks`` are the inputs'
        masks (None when no input carries one); those named in ``mask_args`` reach the numerics."""
        num, args = self.bound_numerics(backward=False, n_inputs=len(inputs))
        extra = {"training": training, "rng": rng} if num.training_args else {}
        if masks and self.mask_args:
            extra.update(self.mask_kwargs(masks))
        if num.inputs is not None:
            inputs = [*inputs, *[None] * (num.inputs - len(inputs))]
        return num.forward(*inputs, *(weights.get(w) for w in num.weights), **args, **extra)

    def backward(self, grad_out: np.ndarray, cache: Any,
                 weights: dict[str, np.ndarray]) -> tuple[list[np.ndarray | None], dict[str, np.ndarray]]:
        """Return gradients for each input (None for integer inputs) and for each trainable weight."""
        num, args = self.bound_numerics(backward=True)
        if self.gradient == "none":
            return [None], {}  # piecewise constant (one input, checked by the contract test): nothing flows back
        grad_in, grad_w = num.backward(grad_out, cache, *(weights.get(w) for w in num.weights), **args)
        return list(grad_in), {w: g for w, g in zip(num.weights, grad_w) if g is not None}

    def output_activation(self) -> str | None:
        """The activation this layer's output ends with (``'softmax'``, ``'sigmoid'``, ``'relu'``, ...), or None.

        It decides whether an output is a classifier (and so the default loss and the confusion matrix) and
        whether a layer can have dead units.  By default it is the layer's ``activation`` argument; a layer
        that always ends with an activation (Softmax, ReLU) says so by overriding this.
        """
        act = self.config.get("activation")
        return None if act in (None, "linear") else act

    def added_loss(self, cache: Any) -> float:
        """Loss this layer adds to the model's after a forward (Keras ``add_loss``, e.g. activity
        regularization); its gradient is part of the layer's backward."""
        return 0.0

    def state_updates(self, cache: Any) -> dict[str, np.ndarray]:
        """New values of non-trainable weights after a training forward (BatchNormalization's moving stats)."""
        return {}

    # ----- helpers for subclasses --------------------------------------------------------------------
    def shape_error(self, message: str) -> ShapeError:
        return ShapeError(f"{self.owner} {message}")

    def expect_rank(self, shape: Shape, rank: int, what: str, fix: str) -> None:
        """Raise the standard 'expects a ... input but gets ...; fix' error unless ``len(shape) == rank``."""
        if len(shape) != rank:
            raise self.shape_error(f"expects {what} input but gets {fmt_shape(shape)}; {fix}.")

    def __repr__(self) -> str:
        return f"{self.class_name}({self.get_config()!r})"


LAYERS: dict[str, type[Layer]] = {}


def require_axes(layer: Layer) -> None:
    """A layer's ``axis`` argument (a tuple of axes) names at least one axis."""
    if not layer.config["axis"]:
        raise ConfigError(f"{layer.owner}: argument 'axis' needs at least one axis, e.g. -1.", "axis")


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Class decorator adding a layer to the catalog under its Keras class name."""
    if not cls.class_name:
        cls.class_name = cls.__name__
    if cls.class_name in LAYERS:
        raise RuntimeError(f"layer {cls.class_name} registered twice")
    names = [f.name for f in cls.all_fields()]
    if len(names) != len(set(names)):
        raise RuntimeError(f"layer {cls.class_name} declares a field twice")
    if cls.mask_rule not in MASK_RULES or (cls.mask_rule == "refuse") != bool(cls.mask_refusal):
        raise RuntimeError(f"layer {cls.class_name} declares mask_rule {cls.mask_rule!r} without its refusal text")
    LAYERS[cls.class_name] = cls
    return cls
