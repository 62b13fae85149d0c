"""The layer catalog: ``LAYERS`` maps a Keras class name to its layer class.

Names that come from files are looked up here and nowhere else (never ``getattr`` or ``importlib``).
"""
from __future__ import annotations

from engine.errors import ConfigError
from engine.layers.base import LAYERS, REQUIRED, Field, Layer, WeightSpec, register_layer

# Importing the family modules fills LAYERS.
from engine.layers import (  # noqa: E402,F401  (registration side effect)
    core,
    convolutional,
    pooling,
    recurrent,
    normalization,
    regularization,
    reshaping,
    spatial_reshaping,
    merging,
    activation_layers,
    preprocessing,
    augmentation,
    conv_lstm,
    sequence,
    attention,
    group,
    custom,
)

FAMILIES = ("core", "convolutional", "pooling", "recurrent", "normalization", "regularization",
            "reshaping", "merging", "activation", "attention", "preprocessing", "augmentation")


def layer_class(class_name: str) -> type[Layer]:
    """The catalog class for ``class_name`` or a ``ConfigError`` that lists what exists."""
    try:
        return LAYERS[class_name]
    except KeyError:
        raise ConfigError(f"unknown layer type {class_name!r}; layergraph knows {', '.join(sorted(LAYERS))}.") from None


#: Values for required arguments when a layer is added from the palette (Keras has no default for them).
STARTER_VALUES: dict[str, object] = {
    "units": 32, "filters": 32, "kernel_size": 3, "rate": 0.25, "n": 4, "target_shape": (-1,), "dims": (2, 1),
    "input_dim": 1000, "output_dim": 64, "stddev": 0.1, "activation": "relu", "output_size": 4, "axes": -1,
    "height": 24, "width": 24, "factor": 0.1, "height_factor": 0.1, "width_factor": 0.1,
    "layer": {"class_name": "LSTM", "config": {"units": 32}},
}


def starter_config(class_name: str) -> dict:
    """A valid config for a freshly added layer (or a wrapped cell): Keras defaults plus starter values for
    required args."""
    cls = nested_layer_class(class_name)
    return {f.name: f.starter if f.starter is not None else STARTER_VALUES[f.name] for f in cls.all_fields()
            if f.required and (f.starter is not None or f.name in STARTER_VALUES)}


def nested_layer_class(class_name: str) -> type[Layer]:
    """The class of a layer nested in another's config: a catalog layer or a recurrent cell (``RNN(cell)``)."""
    from engine.layers.sequence import CELLS
    return CELLS[class_name] if class_name in CELLS else layer_class(class_name)


def create_layer(class_name: str, config: dict | None = None) -> Layer:
    return layer_class(class_name)(config or {})


__all__ = ["LAYERS", "REQUIRED", "Field", "Layer", "WeightSpec", "register_layer", "layer_class", "nested_layer_class",
           "create_layer",
           "FAMILIES", "starter_config"]
