"""Regenerate the bundled example graphs in ``resources/examples/`` from the engine API.

    python tools/make_examples.py

Each example is validated before it is written; positions come from the auto-layout columns.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.custom.trust import trust_this_process  # noqa: E402
from engine.fileformat import save_document  # noqa: E402
from engine.graph import LayerGraph  # noqa: E402
from engine.validation import infer_shapes  # noqa: E402

OUT = ROOT / "resources" / "examples"
COL, ROW = 300.0, 170.0
WRAP = 5  # columns per band; longer graphs continue on a band below, read left to right like text


class Builder:
    """Tiny functional-API-like helper: ``b.add("Dense", {...}, after=x)`` places nodes in columns."""

    def __init__(self) -> None:
        self.g = LayerGraph()
        self.col: dict[str, int] = {}
        self.rows: dict[int, int] = {}

    def add(self, class_name, config=None, *after, name=None, row=None):
        c = 1 + max((self.col[a] for a in after), default=-1)
        r = self.rows.get(c, 0) if row is None else row
        self.rows[c] = max(self.rows.get(c, 0), r + 1)
        band, x = divmod(c, WRAP)
        y = (band * (max(self.rows.values()) + 1) + r) * ROW if band else r * ROW
        nid = self.g.add_node(class_name, config, (x * COL, y), name=name)
        for a in after:
            self.g.connect(a, nid)
        self.col[nid] = c
        return nid


def spirals_mlp():
    b = Builder()
    x = b.add("Input", {"shape": [2]}, name="points")
    x = b.add("Dense", {"units": 32, "activation": "relu"}, x)
    x = b.add("Dense", {"units": 32, "activation": "relu"}, x)
    x = b.add("Dense", {"units": 16, "activation": "relu"}, x)
    b.add("Dense", {"units": 2, "activation": "softmax"}, x, name="classes")
    return b.g, {"dataset": "spirals", "loss": "sparse_categorical_crossentropy", "optimizer": "adam",
                 "learning_rate": 0.01, "batch_size": 32, "epochs": 150, "validation_split": 0.2, "seed": 0}


#: A radial-basis-function layer written as a custom layer (issue 16): its code is the example's point.
RBF_LAYER = {
    "name": "RBFLayer",
    "arguments": [{"name": "units", "kind": "int", "default": 32},
                  {"name": "gamma", "kind": "float", "default": 1.0}],
    "weights": [{"name": "centers", "shape": "units, input_shape[-1]", "initializer": "random_uniform"}],
    "call": "# a bump around each learned center: exp(-gamma * squared distance)\n"
            "diff = ops.expand_dims(inputs, 1) - self.centers\n"
            "return ops.exp(-self.gamma * ops.sum(ops.square(diff), axis=-1))\n",
    "compute_output_shape": "return (input_shape[0], self.units)\n",
}


def spirals_rbf():
    b = Builder()
    x = b.add("Input", {"shape": [2]}, name="points")
    x = b.add("CustomLayer", {"definition": RBF_LAYER, "arguments": {"units": 64, "gamma": 20.0}}, x, name="rbf")
    b.add("Dense", {"units": 2, "activation": "softmax"}, x, name="classes")
    return b.g, {"dataset": "spirals", "loss": "sparse_categorical_crossentropy", "optimizer": "adam",
                 "learning_rate": 0.05, "batch_size": 32, "epochs": 100, "validation_split": 0.2, "seed": 0}


def digits_training(learning_rate: float, epochs: int) -> dict:
    """The run settings the digits examples are saved with."""
    return {"dataset": "digits", "loss": "sparse_categorical_crossentropy", "optimizer": "adam",
            "learning_rate": learning_rate, "batch_size": 32, "epochs": epochs, "validation_split": 0.2, "seed": 0}


def digits_mlp():
    b = Builder()
    x = b.add("Input", {"shape": [8, 8, 1]}, name="image")
    x = b.add("Flatten", None, x)
    x = b.add("Dense", {"units": 64, "activation": "relu"}, x)
    x = b.add("Dropout", {"rate": 0.2}, x)
    b.add("Dense", {"units": 10, "activation": "softmax"}, x, name="digit")
    return b.g, digits_training(learning_rate=0.001, epochs=20)


def digits_cnn():
    b = Builder()
    x = b.add("Input", {"shape": [8, 8, 1]}, name="image")
    x = b.add("Conv2D", {"filters": 16, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}, x)
    x = b.add("MaxPooling2D", {"pool_size": [2, 2]}, x)
    x = b.add("Conv2D", {"filters": 32, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}, x)
    x = b.add("MaxPooling2D", {"pool_size": [2, 2]}, x)
    x = b.add("Flatten", None, x)
    x = b.add("Dense", {"units": 64, "activation": "relu"}, x)
    b.add("Dense", {"units": 10, "activation": "softmax"}, x, name="digit")
    return b.g, digits_training(learning_rate=0.003, epochs=10)


def lstm_rows():
    b = Builder()
    x = b.add("Input", {"shape": [8, 8, 1]}, name="image")
    x = b.add("Reshape", {"target_shape": [8, 8]}, x, name="rows_as_steps")
    x = b.add("LSTM", {"units": 32}, x)
    b.add("Dense", {"units": 10, "activation": "softmax"}, x, name="digit")
    return b.g, digits_training(learning_rate=0.005, epochs=15)


def residual_block():
    b = Builder()
    x = b.add("Input", {"shape": [8, 8, 1]}, name="image")
    stem = b.add("Conv2D", {"filters": 16, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}, x)
    y = b.add("Conv2D", {"filters": 16, "kernel_size": [3, 3], "padding": "same"}, stem)
    y = b.add("BatchNormalization", {"momentum": 0.9}, y)
    y = b.add("ReLU", None, y)
    y = b.add("Conv2D", {"filters": 16, "kernel_size": [3, 3], "padding": "same"}, y)
    y = b.add("BatchNormalization", {"momentum": 0.9}, y)
    s = b.add("Add", None, y, stem, name="skip_add")
    s = b.add("ReLU", None, s)
    s = b.add("GlobalAveragePooling2D", None, s)
    b.add("Dense", {"units": 10, "activation": "softmax"}, s, name="digit")
    return b.g, digits_training(learning_rate=0.003, epochs=15)


def two_inputs():
    b = Builder()
    img = b.add("Input", {"shape": [8, 8, 1]}, name="image", row=0)
    meta = b.add("Input", {"shape": [4]}, name="metadata", row=1)
    a = b.add("Flatten", None, img, row=0)
    a = b.add("Dense", {"units": 32, "activation": "relu"}, a, row=0)
    m = b.add("Dense", {"units": 8, "activation": "relu"}, meta, row=1)
    j = b.add("Concatenate", None, a, m, name="join")
    j = b.add("Dense", {"units": 32, "activation": "relu"}, j)
    b.add("Dense", {"units": 10, "activation": "softmax"}, j, name="digit")
    return b.g, {"loss": "sparse_categorical_crossentropy", "optimizer": "adam", "learning_rate": 0.001,
                 "batch_size": 32, "epochs": 10, "validation_split": 0.2}


EXAMPLES = {
    "spirals_mlp": spirals_mlp,
    "digits_mlp": digits_mlp,
    "digits_cnn": digits_cnn,
    "lstm_sequence": lstm_rows,
    "residual_block": residual_block,
    "two_input_concat": two_inputs,
    "spirals_custom_rbf": spirals_rbf,
}


def main() -> int:
    trust_this_process()  # the examples' custom code is written here; users trust it before it runs
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in EXAMPLES.items():
        g, training = make()
        result = infer_shapes(g)
        if not result.ok:
            print(f"{name}: INVALID: {[p.message for p in result.problems]}")
            return 1
        save_document(OUT / f"{name}.lgraph", g, None, training)
        print(f"{name}: {len(g)} layers, {result.total_params:,} params")
    return 0


if __name__ == "__main__":
    sys.exit(main())
