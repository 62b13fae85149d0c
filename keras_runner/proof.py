"""Run Keras 3 layers on given weights and inputs, for the guide's Proof (``engine/guide/keras_proof.py``).

Started by the engine in its own process, so the engine never imports Keras:
``python -m keras_runner.proof DIR``.  DIR holds ``cases.json`` (per case: the layer as Keras serializes it,
the number of inputs and weights) and ``arrays.npz`` (``c{i}_x{j}`` inputs, ``c{i}_w{k}`` weights in
``get_weights()`` order).  Writes ``outputs.npz`` (``c{i}``) and ``results.json`` (per case ``null`` or the error in
one line).  Nothing from DIR is evaluated: configs go through ``keras.saving.deserialize_keras_object`` in safe mode
and arrays are loaded without pickle.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")


def run_case(keras, case: dict, arrays) -> tuple:
    """Keras's output for one case, and the output shape Keras's own ``compute_output_shape`` declares."""
    import numpy as np

    i = case["index"]
    layer = keras.saving.deserialize_keras_object(case["layer"], safe_mode=True)
    xs = [arrays[f"c{i}_x{j}"] for j in range(case["inputs"])]
    xs = [x.astype("int32") if x.dtype.kind in "iu" else x.astype("float32") for x in xs]
    call_input = xs if len(xs) > 1 else xs[0]
    layer.build([x.shape for x in xs] if len(xs) > 1 else xs[0].shape)
    weights = [arrays[f"c{i}_w{k}"] for k in range(case["weights"])]
    if weights:
        layer.set_weights([w.astype(v.dtype) for w, v in zip(weights, layer.get_weights())])
    if hasattr(layer, "finalize_state"):
        layer.finalize_state()  # Normalization reads its adapted statistics from its weights here
    try:
        declared = list(layer.compute_output_shape([x.shape for x in xs] if len(xs) > 1 else xs[0].shape))
    except NotImplementedError:  # ConvNeXt's LayerScale declares none
        declared = None
    return np.asarray(keras.ops.convert_to_numpy(layer(call_input, training=False))), declared


def main(directory: str) -> int:
    import numpy as np

    folder = Path(directory)
    cases = json.loads((folder / "cases.json").read_text(encoding="utf-8"))
    try:
        import keras
    except ImportError as exc:
        (folder / "results.json").write_text(json.dumps({"keras": None, "error": f"Keras is not installed ({exc})"}))
        return 0
    outputs, errors, declared = {}, [], []
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        for case in cases:
            try:
                outputs[f"c{case['index']}"], shape = run_case(keras, case, arrays)
                errors.append(None)
                declared.append(shape)
            except Exception as exc:  # one case's failure is reported, the others still run
                errors.append(f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
                declared.append(None)
    np.savez(folder / "outputs.npz", **outputs)
    result = {"keras": keras.__version__, "backend": keras.backend.backend(), "errors": errors,
              "declared": declared}
    (folder / "results.json").write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
