"""``python -m keras_runner.train REQUEST.json``: fit a ``.keras`` model, write it back trained.

The request (written by ``engine.keras_training``) names the model archive, the data ``.npz`` (``x``,
or one array per input name, and ``y``), the fit settings and the output archive.  The model is
deserialized by Keras with ``safe_mode=True`` from its config (never from generated source) and
compiled from the archive's ``compile_config``.  One JSON line per epoch goes to stdout
(``EPOCH {"epoch": 0, "loss": ...}``); an error is one line on stderr and exit 2.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np


def _split(arrays: dict[str, np.ndarray], cut: int) -> tuple[dict, dict]:
    return {k: v[:cut] for k, v in arrays.items()}, {k: v[cut:] for k, v in arrays.items()}


def _one(arrays: dict[str, np.ndarray]):
    return arrays["x"] if list(arrays) == ["x"] else arrays


def fit(request: dict) -> dict:
    import keras

    class EpochLines(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            record = {"epoch": epoch, "seconds": time.perf_counter() - self.start}
            record.update({k: float(v) for k, v in (logs or {}).items()})
            print("EPOCH " + json.dumps(record), flush=True)

    model = keras.saving.load_model(request["model"], safe_mode=True, compile=True)
    with np.load(request["data"], allow_pickle=False) as data:
        y = data["y"]
        xs = {k: data[k] for k in data.files if k != "y"}
    cut = request["validation_cut"]
    (x_train, x_val), y_train, y_val = _split(xs, cut), y[:cut], y[cut:]
    if request.get("seed") is not None:
        keras.utils.set_random_seed(request["seed"])
    history = model.fit(_one(x_train), y_train, batch_size=request["batch_size"], epochs=request["epochs"],
                        validation_data=(_one(x_val), y_val) if len(y_val) else None,
                        shuffle=request["shuffle"], verbose=0, callbacks=[EpochLines()])
    model.save(request["output"])
    return {"backend": keras.backend.backend(), "history": {k: [float(v) for v in vs]
                                                            for k, vs in history.history.items()}}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        with open(argv[0], encoding="utf-8") as fh:
            request = json.load(fh)
        result = fit(request)
    except Exception as exc:  # noqa: BLE001 - the parent shows one line; Keras errors have many types
        text = " ".join(str(exc).split())[:600]
        print(f"{type(exc).__name__}: {text}", file=sys.stderr)
        return 2
    print("DONE " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
