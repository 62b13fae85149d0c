"""What a layer declares about itself, checked against Keras and against its own outputs.

Knowledge about a layer lives on its class (``Layer.output_activation``, ``Layer.keras_required_args``) and
everything else reads it there; these tests fail when a declaration is wrong or missing.
"""
import importlib
import inspect

import numpy as np
import pytest

from engine.activations import ACTIVATIONS
from engine.errors import LayergraphError
from engine.layers import LAYERS, create_layer, starter_config
from tests.oracle import keras

TRY_SHAPES = [(None, 4, 4, 3), (None, 5, 3), (None, 6), (None, 2, 3, 3, 2), (None, 3, 32)]


def _configs():
    for name, cls in sorted(LAYERS.items()):
        if name == "Input":
            continue
        yield name, starter_config(name)
        if any(f.name == "activation" for f in cls.all_fields()):
            for act in ACTIVATIONS:
                yield name, {**starter_config(name), "activation": act}
    yield "ReLU", {"negative_slope": 0.1}
    yield "ReLU", {"max_value": 6.0}


def _output(layer):
    """The layer's output on random inputs (scaled so saturations show), for the first shape it accepts."""
    rng = np.random.default_rng(0)
    for shape in TRY_SHAPES:
        shapes = [shape] * max(layer.min_inputs, 1)
        try:
            layer.output_shape(shapes)
        except LayergraphError:
            continue
        # perturbed weights, so that e.g. PReLU's zero-initialised slopes do not make it a ReLU
        weights = {k: v + rng.uniform(-0.5, 0.5, v.shape).astype(v.dtype)
                   for k, v in layer.init_weights(shapes, rng).items()}
        if layer.integer_inputs:
            xs = [rng.integers(0, 10, size=(4, *shape[1:]))]
        else:
            xs = [rng.standard_normal((4, *s[1:])).astype(np.float32) * 3 for s in shapes]
        with np.errstate(all="ignore"):  # exponential activations may overflow; such outputs prove nothing
            return layer.forward(xs, weights)[0]
    pytest.skip(f"{layer.class_name} takes none of {TRY_SHAPES}")


@pytest.mark.parametrize("class_name,config", list(_configs()), ids=lambda v: str(v) if isinstance(v, str) else None)
def test_declared_output_activation_matches_the_outputs(class_name, config):
    layer = create_layer(class_name, config)
    y = np.asarray(_output(layer), dtype=np.float64)
    declared = layer.output_activation()
    probabilities = y.ndim >= 2 and (y >= 0).all() and (y <= 1).all() and np.allclose(y.sum(axis=-1), 1, atol=1e-5)
    # bin indices and counts (layers without a gradient) are not activations
    rectified = layer.gradient != "none" and (y >= 0).all() and (y == 0).any() and (y > 1).any()
    if declared == "softmax":
        assert probabilities
    elif declared == "sigmoid":
        assert ((y >= 0) & (y <= 1)).all()
    elif declared == "relu":
        assert rectified
    # and conversely: a layer whose outputs look like class probabilities or rectified units says so
    if probabilities and y.shape[-1] > 1:
        assert declared == "softmax", f"{layer.owner} outputs probabilities but declares {declared!r}"
    if rectified and declared not in ("relu", "relu6"):
        pytest.fail(f"{layer.owner} outputs rectified units but declares {declared!r}")


def test_output_activation_of_the_usual_output_layers():
    assert create_layer("Softmax", {}).output_activation() == "softmax"
    assert create_layer("Dense", {"units": 3, "activation": "softmax"}).output_activation() == "softmax"
    assert create_layer("Dense", {"units": 1, "activation": "sigmoid"}).output_activation() == "sigmoid"
    assert create_layer("Dense", {"units": 1}).output_activation() is None
    assert create_layer("Dense", {"units": 1, "activation": "linear"}).output_activation() is None
    assert create_layer("ReLU", {}).output_activation() == "relu"
    assert create_layer("ReLU", {"negative_slope": 0.2}).output_activation() is None  # a leak: never dead


def _keras_required(class_name):
    keras()
    module = importlib.import_module(LAYERS[class_name].keras_module)  # keras.layers, or ConvNeXt's for LayerScale
    init = getattr(module, class_name).__init__
    return {p.name for p in inspect.signature(init).parameters.values()
            if p.name != "self" and p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


@pytest.mark.parametrize("class_name", sorted(n for n in LAYERS if n != "Input" and not LAYERS[n].composite
                                        and LAYERS[n].gradient != "automatic"))  # custom: no Keras class
def test_arguments_keras_requires_are_declared_required(class_name):
    """Exported Keras code must write every argument Keras's constructor requires: our field is either
    required too, or listed in ``keras_required_args`` (so ``AveragePooling2D(pool_size=...)`` is always written)."""
    fields = {f.name: f for f in LAYERS[class_name].all_fields()}
    for name in _keras_required(class_name):
        assert name in fields, f"{class_name}: Keras requires {name!r}, which the layer does not declare"
        f = fields[name]
        assert f.required or name in LAYERS[class_name].keras_required_args, \
            f"{class_name}: Keras requires {name!r}; list it in keras_required_args"
