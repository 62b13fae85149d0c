"""Shared test oracles: the real Keras 3 layer (JAX backend) and central finite differences.

Every layer test compares against these, never against numbers the engine produced itself.
"""
from __future__ import annotations

import os
import re

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np

from engine.layers import Layer, create_layer


def keras():
    import keras as k  # test-only oracle

    return k


def keras_class(layer: Layer):
    """Keras's class of ``layer``: from ``keras.layers``, or the internal module the layer declares."""
    import importlib

    return getattr(importlib.import_module(type(layer).keras_module), layer.class_name)


def keras_config(layer: Layer) -> dict:
    """Our config is Keras's constructor kwargs; drop the engine-only None placeholders.  A wrapped layer or
    cell (TimeDistributed, RNN) goes in Keras's serialized form, which Keras's ``from_config`` reads."""
    from engine.export.keras_config import nested_envelope

    kinds = {f.name: f.kind for f in layer.all_fields()}
    return {k: (nested_envelope(v) if kinds.get(k) == "layer" and v is not None else v)
            for k, v in layer.get_config().items() if v is not None or k == "activation"}


def keras_layer(layer: Layer, input_shapes, weights: dict[str, np.ndarray] | None = None):
    """Build the Keras twin of ``layer`` for ``input_shapes`` and copy ``weights`` into it."""
    cls = keras_class(layer)
    kl = cls.from_config(keras_config(layer))
    shapes = [tuple(s) for s in input_shapes]
    kl.build(shapes[0] if len(shapes) == 1 else shapes)
    if weights is not None:
        specs = layer.weight_specs(list(input_shapes))
        kl.set_weights([weights[s.name] for s in specs])
        if specs and hasattr(kl, "finalize_state"):
            kl.finalize_state()  # Normalization reads its adapted weights from here, as after loading a file
    return kl


def keras_output_shape(layer: Layer, input_shapes):
    """Keras's own ``compute_output_shape`` via a symbolic call (raises what Keras raises)."""
    k = keras()
    cls = keras_class(layer)
    kl = cls.from_config(keras_config(layer))
    if type(layer).keras_module != "keras.layers":  # Keras-internal LayerScale's call reads a weight that
        kl.build(tuple(input_shapes[0]) if len(input_shapes) == 1 else [tuple(s) for s in input_shapes])  # build makes
    ins = [k.KerasTensor(tuple(s)) for s in input_shapes]
    out = kl.compute_output_spec(ins[0] if len(ins) == 1 else ins)
    return tuple(out.shape), kl


def keras_rejects(layer, shape) -> bool:
    """True when the Keras twin refuses the input (InputSpec rank check or shape computation)."""
    k = keras()
    kl = keras_class(layer).from_config(keras_config(layer))
    try:
        kl(k.KerasTensor(shape))
    except (ValueError, IndexError):
        return True
    return False


def keras_param_count(layer: Layer, input_shapes) -> int:
    kl = keras_layer(layer, input_shapes)
    return kl.count_params()


def keras_forward(layer: Layer, inputs: list[np.ndarray], weights: dict[str, np.ndarray], training=False):
    kl = keras_layer(layer, [(None, *x.shape[1:]) for x in inputs], weights)
    out = kl(inputs[0] if len(inputs) == 1 else list(inputs), training=training)
    return np.asarray(out)


def random_inputs(shapes, rng, dtype=np.float32, batch=3, layer: Layer | None = None):
    """Random data for ``shapes``; token ids below ``input_dim`` for layers that take integer inputs."""
    if layer is not None and layer.integer_inputs:
        high = layer.config.get("input_dim") or layer.config.get("num_tokens") or 4
        return [rng.integers(0, high, size=(batch, *s[1:])).astype(np.int32) for s in shapes]
    return [rng.standard_normal((batch, *s[1:])).astype(dtype) for s in shapes]


def assert_case_matches_keras(class_name: str, config: dict, input_shapes):
    """Shape rule, parameter count, weight names/shapes/order and forward of one CASES line against Keras."""
    layer = create_layer(class_name, config)
    kshape, _ = keras_output_shape(layer, input_shapes)
    assert layer.output_shape(list(input_shapes)) == kshape
    kl = keras_layer(layer, input_shapes)
    specs = layer.weight_specs(list(input_shapes))
    assert layer.param_count(list(input_shapes)) == kl.count_params()
    assert [s.shape for s in specs] == [tuple(w.shape) for w in kl.weights]
    # an unnamed Keras weight (LayerScale's) is auto-named "variable", "variable_1", ... per process
    assert [s.name for s in specs] == [re.sub(r"^variable_\d+$", "variable", w.name) for w in kl.weights]
    assert_forward_matches_keras(class_name, config, input_shapes)


def assert_forward_matches_keras(class_name: str, config: dict, input_shapes, *, rng=None, rtol=1e-5,
                                 atol=1e-5, inputs=None, batch=3):
    """Copy our initialised weights into Keras and compare inference outputs in float32."""
    rng = rng or np.random.default_rng(0)
    layer = create_layer(class_name, config)
    weights = layer.init_weights(list(input_shapes), rng)
    # make biases/gammas non-trivial so they are actually compared
    weights = {k: (v + rng.uniform(-0.5, 0.5, v.shape).astype(v.dtype)) if v.dtype.kind == "f" else v
               for k, v in weights.items()}
    if "moving_variance" in weights:
        weights["moving_variance"] = np.abs(weights["moving_variance"]) + 0.5
    xs = inputs if inputs is not None else random_inputs(input_shapes, rng, batch=batch, layer=layer)
    ours, _ = layer.forward(xs, weights, training=False)
    theirs = keras_forward(layer, xs, weights)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)
    return layer, weights, xs


def numeric_grad(f, x: np.ndarray, idx, eps=1e-6) -> float:
    old = x[idx]
    x[idx] = old + eps
    fp = f()
    x[idx] = old - eps
    fm = f()
    x[idx] = old
    return (fp - fm) / (2 * eps)


def assert_gradients_match_fd(class_name: str, config: dict, input_shapes, *, rng=None, n_checks=25,
                              training=False, batch=2, inputs=None, rtol=1e-4, atol=1e-6):
    """Central finite differences in float64 for every float input and every trainable weight."""
    rng = rng or np.random.default_rng(1)
    layer = create_layer(class_name, config)
    weights = layer.init_weights(list(input_shapes), rng, dtype=np.float64)
    weights = {k: v + rng.uniform(-0.3, 0.3, v.shape) for k, v in weights.items()}
    if "moving_variance" in weights:
        weights["moving_variance"] = np.abs(weights["moving_variance"]) + 0.5
    if inputs is None:
        inputs = random_inputs(input_shapes, rng, np.float64, batch=batch, layer=layer)
    xs = inputs
    seed = 1234

    def run():
        out, cache = layer.forward(xs, weights, training=training, rng=np.random.default_rng(seed))
        return out, cache

    out, cache = run()
    r = rng.standard_normal(out.shape)

    def loss():  # plus what the layer adds to the model's loss (activity regularization)
        out, cache = run()
        return float((out * r).sum()) + layer.added_loss(cache)

    gin, gw = layer.backward(r, cache, weights)
    trainable = {s.name for s in layer.weight_specs(list(input_shapes)) if s.trainable}
    assert set(gw) == trainable, (set(gw), trainable)
    targets = [(f"input {i}", x, g) for i, (x, g) in enumerate(zip(xs, gin)) if x.dtype.kind == "f"]
    targets += [(f"weight {k}", weights[k], gw[k]) for k in sorted(trainable)]
    for what, arr, grad in targets:
        assert grad is not None and grad.shape == arr.shape, (what, None if grad is None else grad.shape, arr.shape)
        flat = [np.unravel_index(i, arr.shape) for i in rng.choice(arr.size, min(n_checks, arr.size), replace=False)]
        for idx in flat:
            num = numeric_grad(loss, arr, idx)
            np.testing.assert_allclose(grad[idx], num, rtol=rtol, atol=atol, err_msg=f"{what} at {idx}")
