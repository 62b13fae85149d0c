"""Every function of the NumPy ``ops`` shim (engine/custom/ops.py) against ``keras.ops`` on JAX (values to 1e-5),
and autograd's gradient through it against finite differences (the custom layers' gradients are also compared
with jax.grad through Keras in test_keras_parity.py)."""
import numpy as np
import pytest

from engine.custom import ops as shim
from engine.custom.definition import SUPPORTED_OPS
from tests.oracle import keras

R = np.random.default_rng(0)
A = R.normal(size=(3, 4)).astype("float32")
B = R.normal(size=(3, 4)).astype("float32")
P = R.uniform(0.5, 2.0, size=(3, 4)).astype("float32")  # positive, for log, sqrt, power
M = R.normal(size=(4, 5)).astype("float32")

#: name -> (positional arguments, keyword arguments); the first argument is the one differentiated
CASES = {
    "add": ((A, B), {}), "subtract": ((A, B), {}), "multiply": ((A, B), {}), "divide": ((A, P), {}),
    "negative": ((A,), {}), "abs": ((A,), {}), "absolute": ((A,), {}), "sign": ((A,), {}),
    "square": ((A,), {}), "sqrt": ((P,), {}), "rsqrt": ((P,), {}), "power": ((P, B), {}), "exp": ((A,), {}),
    "expm1": ((A,), {}), "log": ((P,), {}), "log1p": ((P,), {}), "sin": ((A,), {}), "cos": ((A,), {}),
    "tanh": ((A,), {}), "maximum": ((A, B), {}), "minimum": ((A, B), {}), "clip": ((A, -0.5, 0.5), {}),
    "sigmoid": ((A,), {}), "relu": ((A,), {}), "relu6": ((A * 4,), {}), "leaky_relu": ((A,), {}),
    "elu": ((A,), {}), "softplus": ((A,), {}), "silu": ((A,), {}), "gelu": ((A,), {}),
    "hard_sigmoid": ((A * 4,), {}), "softmax": ((A,), {"axis": -1}), "log_softmax": ((A,), {"axis": 0}),
    "sum": ((A,), {"axis": 1}), "mean": ((A,), {"axis": 0, "keepdims": True}), "max": ((A,), {"axis": -1}),
    "min": ((A,), {"axis": 0}), "prod": ((P,), {"axis": 1}), "var": ((A,), {"axis": 1}), "std": ((A,), {"axis": 0}),
    "cumsum": ((A,), {"axis": 1}), "argmax": ((A,), {"axis": 1}), "argmin": ((A,), {"axis": 0}),
    "moments": ((A,), {"axes": [1]}), "normalize": ((A,), {"axis": -1}), "matmul": ((A, M), {}),
    "dot": ((A, M), {}), "einsum": (("ij,jk->ik", A, M), {}), "tensordot": ((A, M), {"axes": 1}),
    "shape": ((A,), {}), "reshape": ((A, (2, 6)), {}), "transpose": ((A,), {"axes": (1, 0)}),
    "expand_dims": ((A, 1), {}), "squeeze": ((A[:1],), {"axis": 0}), "concatenate": (([A, B],), {"axis": 1}),
    "stack": (([A, B],), {"axis": 1}), "split": ((A, 2), {"axis": 1}), "tile": ((A, (2, 1)), {}),
    "repeat": ((A, 2), {"axis": 0}), "where": ((A > 0, A, B), {}), "equal": ((A, A * (A > 0)), {}),
    "not_equal": ((A, A * (A > 0)), {}), "greater": ((A, B), {}), "greater_equal": ((A, B), {}),
    "less": ((A, B), {}), "less_equal": ((A, B), {}), "logical_and": ((A > 0, B > 0), {}),
    "logical_or": ((A > 0, B > 0), {}), "logical_not": ((A > 0,), {}), "zeros_like": ((A,), {}),
    "ones_like": ((A,), {}),
}


def test_every_supported_op_has_a_case():
    assert sorted(CASES) == sorted(SUPPORTED_OPS)


def _leaves(value):
    return [np.asarray(v) for v in value] if isinstance(value, (list, tuple)) else [np.asarray(value)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_equal_keras_ops(name):
    args, kwargs = CASES[name]
    ours = getattr(shim, name)(*args, **kwargs)
    theirs = getattr(keras().ops, name)(*args, **kwargs)
    for a, b in zip(_leaves(ours), _leaves(theirs), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a.astype("float64"), b.astype("float64"), rtol=1e-5, atol=1e-6)


DIFFERENTIABLE = sorted(n for n in CASES if n not in (
    "sign", "argmax", "argmin", "shape", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
    "logical_and", "logical_or", "logical_not", "zeros_like", "ones_like", "einsum", "where"))
# einsum's first argument is its subscripts and where's its condition (both differentiated in test_keras_parity);
# relu, relu6, leaky_relu, abs, clip, maximum, minimum and hard_sigmoid have kinks, which random points miss


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_autograd_gradients_equal_finite_differences(name):
    """What training uses (autograd through the shim) against central differences in float64."""
    from autograd import grad

    args, kwargs = CASES[name]
    first, *rest = args
    x0 = [np.asarray(a, "float64") for a in first] if isinstance(first, list) else np.asarray(first, "float64")
    rest = [np.asarray(a, "float64") if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in rest]

    def scalar(x):
        out = getattr(shim, name)(x, *rest, **kwargs)
        leaves = [out] if hasattr(out, "shape") else [out[i] for i in range(len(out))]  # autograd: SequenceBox
        return sum((leaf * np.random.default_rng(i).normal(size=np.shape(leaf))).sum() for i, leaf in enumerate(leaves))

    ours = _leaves(grad(scalar)(x0))
    flat = x0 if isinstance(x0, list) else [x0]
    for arr, g in zip(flat, ours, strict=True):
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + 1e-6
            up = scalar(x0)
            arr[idx] = old - 1e-6
            down = scalar(x0)
            arr[idx] = old
            assert abs(g[idx] - (up - down) / 2e-6) <= 1e-5 + 1e-4 * abs(g[idx]), (name, idx)
