"""Losses vs Keras 3 (values with ``keras.losses``, gradients with ``jax.grad`` of the Keras loss) and FD."""
import numpy as np
import pytest

from engine.errors import TrainingError
from engine.losses import default_loss, get_loss
from engine.metrics import accuracy, accuracy_kind
from tests.oracle import keras, numeric_grad


def _probs(rng, shape, softmax=True):
    z = rng.standard_normal(shape).astype(np.float32)
    if softmax:
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)
    return 1 / (1 + np.exp(-z))


def _cases():
    rng = np.random.default_rng(0)
    reg = rng.standard_normal((6, 3)).astype(np.float32)
    yield "mse", rng.standard_normal((6, 3)).astype(np.float32), reg
    yield "mae", rng.standard_normal((6, 3)).astype(np.float32), reg
    yield "mse", rng.standard_normal((6,)).astype(np.float32), reg[:, :1]  # (batch,) labels vs (batch, 1)
    yield "mse", rng.standard_normal((4, 5, 2)).astype(np.float32), rng.standard_normal((4, 5, 2)).astype(np.float32)
    p = _probs(rng, (6, 1), softmax=False)
    yield "binary_crossentropy", (rng.random((6, 1)) > 0.5).astype(np.float32), p
    yield "binary_crossentropy", rng.random((6, 3)).astype(np.float32), _probs(rng, (6, 3), softmax=False)
    p = _probs(rng, (6, 4))
    yield "categorical_crossentropy", np.eye(4, dtype=np.float32)[rng.integers(0, 4, 6)], p
    yield "sparse_categorical_crossentropy", rng.integers(0, 4, 6), p
    yield "sparse_categorical_crossentropy", rng.integers(0, 4, (6, 1)), p
    yield "sparse_categorical_crossentropy", rng.integers(0, 4, (3, 5)), _probs(rng, (3, 5, 4))
    # saturated probabilities: Keras clips to [1e-7, 1 - 1e-7]
    sat = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], np.float32)
    yield "sparse_categorical_crossentropy", np.array([1, 2]), sat
    yield "binary_crossentropy", np.array([[1.0], [0.0]], np.float32), np.array([[0.0], [0.0]], np.float32)


CASES = list(_cases())


@pytest.mark.parametrize("name,y_true,y_pred", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_value_and_gradient_match_keras(name, y_true, y_pred):
    import jax

    k = keras()
    kloss = {"mse": k.losses.MeanSquaredError, "mae": k.losses.MeanAbsoluteError,
             "binary_crossentropy": k.losses.BinaryCrossentropy,
             "categorical_crossentropy": k.losses.CategoricalCrossentropy,
             "sparse_categorical_crossentropy": k.losses.SparseCategoricalCrossentropy}[name]()
    value, grad = get_loss(name)(y_true, y_pred)
    assert grad.dtype == np.float32 and grad.shape == y_pred.shape
    np.testing.assert_allclose(value, float(kloss(y_true, y_pred)), rtol=1e-5, atol=1e-6)
    kgrad = np.asarray(jax.grad(lambda p: kloss(y_true, p))(y_pred))
    np.testing.assert_allclose(grad, kgrad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,y_true,y_pred", [c for c in CASES if c[2].min() > 1e-3 and c[2].max() < 1 - 1e-3
                                                or c[0] in ("mse", "mae")][:8])
def test_gradient_matches_finite_differences_in_float64(name, y_true, y_pred):
    loss = get_loss(name)
    p = y_pred.astype(np.float64)
    yt = y_true.astype(np.float64) if y_true.dtype.kind == "f" else y_true
    _, grad = loss(yt, p)
    for idx in np.ndindex(p.shape):
        num = numeric_grad(lambda: loss(yt, p)[0], p, idx, eps=1e-7)
        np.testing.assert_allclose(grad[idx], num, rtol=1e-4, atol=1e-7, err_msg=str(idx))


def test_names_and_keras_class_aliases():
    assert get_loss("MeanSquaredError").name == "mse"
    assert get_loss("mean_absolute_error").name == "mae"
    assert get_loss("SparseCategoricalCrossentropy").sparse
    with pytest.raises(TrainingError, match="Unknown loss 'hinge'"):
        get_loss("hinge")


def test_label_errors_say_what_to_do():
    p = _probs(np.random.default_rng(0), (4, 3))
    with pytest.raises(TrainingError, match="class 5 but the model outputs 3 classes"):
        get_loss("sparse_categorical_crossentropy")(np.array([0, 1, 5, 2]), p)
    with pytest.raises(TrainingError, match="one-hot"):
        get_loss("categorical_crossentropy")(np.array([0, 1, 2, 2]), p)
    with pytest.raises(TrainingError, match="labels have shape"):
        get_loss("mse")(np.zeros((4, 2)), p)


def test_default_loss_follows_the_output_activation_and_labels():
    assert default_loss("softmax", np.array([0, 2, 1]), (None, 3)) == "sparse_categorical_crossentropy"
    assert default_loss("softmax", np.eye(3), (None, 3)) == "categorical_crossentropy"
    assert default_loss("sigmoid", np.array([0.0, 1.0]), (None, 1)) == "binary_crossentropy"
    assert default_loss(None, np.zeros((3, 1)), (None, 1)) == "mse"


@pytest.mark.parametrize("y_true,y_pred", [
    (np.array([0, 2, 1, 1]), _probs(np.random.default_rng(1), (4, 3))),
    (np.array([[0], [2], [1], [1]]), _probs(np.random.default_rng(2), (4, 3))),
    (np.eye(3)[[0, 2, 1, 1]], _probs(np.random.default_rng(3), (4, 3))),
    (np.array([[1.0], [0.0], [1.0], [0.0]]), _probs(np.random.default_rng(4), (4, 1), softmax=False)),
])
def test_accuracy_matches_keras_choice(y_true, y_pred):
    k = keras()
    kind = accuracy_kind(y_true.shape, y_pred.shape)
    metric = {"binary": k.metrics.BinaryAccuracy, "sparse_categorical": k.metrics.SparseCategoricalAccuracy,
              "categorical": k.metrics.CategoricalAccuracy}[kind]()
    metric.update_state(y_true, y_pred)
    assert accuracy(y_true, y_pred) == pytest.approx(float(metric.result()))
