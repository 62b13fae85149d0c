"""The Keras regularizers and constraints a document may carry, by exact registered name.

Layers keep these only for Keras round trips, and the Keras exporter writes them into code
(``keras.regularizers.get({...})``), so a value from a file must be one of Keras's own objects: an
allow-list of ``module`` + class name with plain-number arguments, never whatever a ``module`` key
names (``os``, ``keras_evil.os``).
"""
from __future__ import annotations

import math
from typing import Any

from engine.errors import ConfigError, shown

_AXIS = "axis"
#: kind -> Keras module -> class name -> the config keys it takes
KERAS_OBJECTS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "regularizer": ("keras.regularizers", {
        "L1": ("l1",), "L2": ("l2",), "L1L2": ("l1", "l2"), "OrthogonalRegularizer": ("factor", "mode")}),
    "constraint": ("keras.constraints", {
        "MaxNorm": ("max_value", _AXIS), "MinMaxNorm": ("min_value", "max_value", "rate", _AXIS),
        "NonNeg": (), "UnitNorm": (_AXIS,)}),
}
_SNAKE = {"L1": "l1", "L2": "l2", "L1L2": "l1l2", "OrthogonalRegularizer": "orthogonal_regularizer",
          "MaxNorm": "max_norm", "MinMaxNorm": "min_max_norm", "NonNeg": "non_neg", "UnitNorm": "unit_norm"}
_MODES = ("rows", "columns")


def object_kind(field_name: str) -> str | None:
    """``"regularizer"`` / ``"constraint"`` for a field holding one, else None."""
    for kind in KERAS_OBJECTS:
        if field_name.endswith(f"_{kind}"):
            return kind
    return None


def check_keras_object(kind: str, value: Any, where: str) -> Any:
    """``value`` if it is a built-in Keras ``kind`` (a registered name, or its serialized form), else
    ``ConfigError`` naming what is accepted."""
    module, classes = KERAS_OBJECTS[kind]
    names = ", ".join(classes)
    if value is None:
        return None
    if isinstance(value, str):
        if value in classes or value in (_SNAKE[c] for c in classes):
            return value
        raise ConfigError(f"{where} must be a Keras {kind} ({names}), got {shown(value)}.")
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a Keras {kind} name or config, got {shown(value)}.")
    cname, cfg = value.get("class_name"), value.get("config", {})
    extra = set(value) - {"module", "class_name", "config", "registered_name"}
    if (value.get("module", module) != module or cname not in classes
            or value.get("registered_name") not in (None, cname) or extra):
        raise ConfigError(f"{where} must be one of Keras's own {kind}s ({module}: {names}); got class "
                          f"{shown(cname)} from module {shown(value.get('module'))}.")
    if not isinstance(cfg, dict) or set(cfg) - set(classes[cname]):
        raise ConfigError(f"{where}: {cname} takes {', '.join(classes[cname]) or 'no arguments'}, got "
                          f"{shown(cfg)}.")
    for key, arg in cfg.items():
        if not _plain_argument(key, arg):
            raise ConfigError(f"{where}: {cname} argument {shown(key)} must be a finite number, got {shown(arg)}.")
    return value


def _plain_argument(key: str, value: Any) -> bool:
    if key == "mode":
        return value in _MODES
    if key == _AXIS:
        items = value if isinstance(value, list) else [value]
        return all(isinstance(v, int) and not isinstance(v, bool) and abs(v) < 64 for v in items)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
