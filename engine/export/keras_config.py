"""The mapping between a layergraph layer and its Keras 3 serialized form, shared by the importer
(``keras_import``), the ``.keras`` writer (``keras_file``) and the Keras code exporter (``keras_code``).

A node's config is Keras's constructor arguments, so the mapping is small: which arguments Keras must
be told (those that differ from its default, plus the ones its constructor requires), the envelope
Keras wraps a layer in (``module``, ``class_name``, ``config``, ``registered_name``), and where Keras
keeps a layer's weights in ``model.weights.h5`` (``layers/<snake_case class name>[_<n>]/...``).
"""
from __future__ import annotations

import re
from typing import Any

from engine.layers import REQUIRED, Layer, nested_layer_class

#: The ``module`` Keras 3 writes for its own layers.
LAYER_MODULE = "keras.layers"
#: The modules the importer accepts for a layer (``None`` in older configs); anything else is custom code.
LAYER_MODULES = (None, LAYER_MODULE, "keras", "keras.models", "keras.src.models.functional")
FLOAT_POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                "registered_name": None}


def to_snake_case(name: str) -> str:
    """Keras's ``naming.to_snake_case`` (used for the weight paths in ``model.weights.h5``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def h5_layer_paths(class_names: list[str]) -> list[str]:
    """The group of each layer under ``layers/`` in ``model.weights.h5``, for the model's layers in
    Keras's ``model.layers`` order: the snake-case class name, ``_1``, ``_2``... for repeats
    (Keras's ``saving_lib._save_container_state``)."""
    used: dict[str, int] = {}
    out = []
    for cname in class_names:
        base = to_snake_case("InputLayer" if cname == "Input" else cname)
        out.append(base if base not in used else f"{base}_{used[base] + 1}")
        used[base] = used.get(base, -1) + 1
    return out


def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    return v


def keras_arguments(layer: Layer) -> dict[str, Any]:
    """The constructor arguments Keras must be given: those that differ from its default and those
    Keras requires, in declaration order (nested layers still in layergraph's ``{class_name, config}``)."""
    out: dict[str, Any] = {}
    required = layer.keras_required_args
    for f in layer.all_fields():
        value = layer.config.get(f.name)
        if f.default is not REQUIRED and f.name not in required and _norm(value) == _norm(f.default):
            continue
        out[f.name] = value
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def layer_envelope(class_name: str, config: dict[str, Any], module: str = LAYER_MODULE) -> dict[str, Any]:
    """A layer as ``serialization_lib.serialize_keras_object`` writes it: a public ``keras.layers`` class by
    name; a Keras-internal one (ConvNeXt's LayerScale) by its module, registered under its class name."""
    registered = None if module == LAYER_MODULE else class_name
    return {"module": module, "class_name": class_name, "config": config, "registered_name": registered}


def keras_layer_config(layer: Layer, name: str | None) -> dict[str, Any]:
    """The ``config`` Keras's ``from_config`` receives for ``layer`` (named ``name`` when given): every
    argument, as Keras's own ``get_config`` writes them (some ``from_config`` read keys unconditionally),
    except the engine's ``None`` placeholders for "Keras's default"."""
    cfg: dict[str, Any] = {} if name is None else {"name": name}
    fields = {f.name: f for f in layer.all_fields()}
    for key, value in layer.config.items():
        if value is None and fields[key].kind != "activation":
            continue
        if fields[key].kind == "layer" and value is not None:
            value = nested_envelope(value)
        elif key == "cells" and isinstance(value, list):      # StackedRNNCells
            value = [nested_envelope(v) for v in value]
        cfg[key] = _json_value(value)
    cfg["dtype"] = FLOAT_POLICY
    return cfg


def nested_envelope(spec: dict[str, Any]) -> dict[str, Any]:
    """A wrapped layer or cell (``{"class_name", "config"}``) as Keras serializes it."""
    inner = nested_layer_class(spec["class_name"])(dict(spec.get("config") or {}))
    return layer_envelope(inner.class_name, keras_layer_config(inner, (spec.get("config") or {}).get("name")))


def input_layer_config(layer: Layer, name: str) -> dict[str, Any]:
    """The ``InputLayer`` config of an ``Input`` node (``keras.Input(shape, dtype, name)``)."""
    return {"batch_shape": [None, *layer.config["shape"]], "dtype": layer.config.get("dtype", "float32"),
            "sparse": False, "ragged": False, "name": name, "optional": False}
