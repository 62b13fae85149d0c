"""Every convolution, pooling and spatial reshaping layer has Keras's defaults: our config for the required
arguments alone equals the Keras layer's ``get_config()`` on every argument both have."""
import json

import pytest

from engine.layers import LAYERS, create_layer

FAMILY_MODULES = ("engine.layers.convolutional", "engine.layers.pooling", "engine.layers.spatial_reshaping")
REQUIRED = {"filters": 2, "kernel_size": 3, "output_size": 2}
SPATIAL = sorted(n for n, cls in LAYERS.items() if cls.__module__ in FAMILY_MODULES)


def test_the_spatial_families_hold_every_rank():
    for stem in ("Conv{}D", "Conv{}DTranspose", "MaxPooling{}D", "AveragePooling{}D", "GlobalMaxPooling{}D",
                 "GlobalAveragePooling{}D", "AdaptiveMaxPooling{}D", "AdaptiveAveragePooling{}D", "ZeroPadding{}D",
                 "Cropping{}D", "UpSampling{}D"):
        assert {stem.format(r) for r in (1, 2, 3)} <= set(SPATIAL), stem


@pytest.mark.parametrize("class_name", SPATIAL)
def test_defaults_equal_keras_defaults(class_name):
    keras = pytest.importorskip("keras")
    cls = LAYERS[class_name]
    required = {f.name: REQUIRED[f.name] for f in cls.all_fields() if f.required}
    if class_name.startswith("AveragePooling"):
        required["pool_size"] = 2   # Keras requires it; the engine defaults to 2
    ours = create_layer(class_name, required).get_config()
    theirs = json.loads(json.dumps(getattr(keras.layers, class_name)(**required).get_config()))
    shared = [k for k in ours if k in theirs and k not in ("name", "trainable")
              and not k.endswith(("_initializer", "_regularizer", "_constraint"))]
    assert len(shared) >= 1
    # the engine spells two Keras defaults differently: no activation for 'linear', no strides for pool_size
    same = {"activation": lambda v: v or "linear", "strides": lambda v: v or ours.get("pool_size")}
    for key in shared:
        value = same.get(key, lambda v: v)(ours[key])
        assert json.loads(json.dumps(value)) == theirs[key], (class_name, key, ours[key], theirs[key])
