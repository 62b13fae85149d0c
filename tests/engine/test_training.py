"""Training: one step vs Keras (JAX backend), fit repeatability, run control, callbacks and guards."""
import threading

import numpy as np
import pytest

from engine.errors import TrainingError
from engine.executor import CompiledGraph, ParamStore
from engine.training import Callback, RunControl, Trainer, evaluate, fit, predict
from tests.engine.graph_helpers import chain, keras_twin
from tests.oracle import keras

MLP = (("Dense", {"units": 8, "activation": "relu"}), ("Dense", {"units": 3, "activation": "softmax"}))


def _data(n=64, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = (np.abs(x[:, 0] * 2 + x[:, 1]) * classes / 4).astype(np.int64) % classes
    return x, y


STEP_CASES = [
    ("SGD", {"learning_rate": 0.1}, MLP, "sparse_categorical_crossentropy"),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}, MLP, "sparse_categorical_crossentropy"),
    ("Adam", {"learning_rate": 0.01}, MLP, "sparse_categorical_crossentropy"),
    ("Adam", {}, (("Dense", {"units": 6, "activation": "tanh"}), ("BatchNormalization", {}),
                  ("Dense", {"units": 1, "activation": "sigmoid"})), "binary_crossentropy"),
    ("RMSprop", {}, (("Dense", {"units": 5, "activation": "gelu"}), ("Dense", {"units": 2})), "mse"),
    ("Adam", {"learning_rate": 0.01}, (("Reshape", {"target_shape": [4, 4, 1]}), ("Conv2D", {"filters": 3,
     "kernel_size": 2, "activation": "relu"}), ("MaxPooling2D", {}), ("Flatten", {}),
     ("Dense", {"units": 3, "activation": "softmax"})), "sparse_categorical_crossentropy"),
    ("SGD", {"learning_rate": 0.1}, (("Reshape", {"target_shape": [4, 4]}), ("LSTM", {"units": 5}),
     ("Dense", {"units": 3, "activation": "softmax"})), "sparse_categorical_crossentropy"),
]


@pytest.mark.parametrize("opt,config,layers,loss", STEP_CASES, ids=[f"{c[0]}-{c[3]}" for c in STEP_CASES])
def test_training_steps_match_keras(opt, config, layers, loss):
    k = keras()
    wide = layers[0][0] == "Reshape"
    g, ids = chain(*layers, input_shape=(16,) if wide else (4,))
    x, y = _data(d=16 if wide else 4)
    if loss == "binary_crossentropy":
        y = (y > 0).astype(np.float32)[:, None]
    elif loss == "mse":
        y = np.stack([x[:, 0] * x[:, 1], x[:, 2]], axis=1)
    store = ParamStore(CompiledGraph(g), seed=0)
    model, klayers = keras_twin(g, store)
    model.compile(optimizer=getattr(k.optimizers, opt)(**config), loss=loss)
    tr = Trainer(g, params=store, loss=loss, optimizer={"name": opt.lower(), **config})
    for step in range(3):
        xb, yb = x[step * 16:(step + 1) * 16], y[step * 16:(step + 1) * 16]
        kloss = float(model.train_on_batch(xb, yb))
        res = tr.train_step(*tr.prepare(xb, yb))
        assert res.loss == pytest.approx(kloss, rel=1e-5)
        for nid, kl in klayers.items():
            for spec, kw in zip(store.specs.get(nid, []), kl.get_weights()):
                np.testing.assert_allclose(store.values[nid][spec.name], kw, rtol=1e-5, atol=1e-6,
                                           err_msg=f"step {step} {nid}/{spec.name}")


def test_fit_is_repeatable_with_a_seed_and_learns():
    g, _ = chain(("Dropout", {"rate": 0.2}), *MLP)
    x, y = _data(200)
    runs = [fit(g, x, y, epochs=3, batch_size=16, seed=s, validation_split=0.25) for s in (7, 7, 8)]
    assert runs[0].history == runs[1].history
    assert runs[0].history != runs[2].history
    for a, b in zip(runs[0].params.values.values(), runs[1].params.values.values()):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    assert set(runs[0].history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert runs[0].history["loss"][-1] < runs[0].history["loss"][0]
    assert runs[0].settings["samples"] == 150  # Keras holds out the last quarter


def test_validation_data_and_evaluate_agree():
    g, _ = chain(*MLP)
    x, y = _data(90)
    h = fit(g, x[:60], y[:60], epochs=2, batch_size=8, seed=0, validation_data=(x[60:], y[60:]))
    ev = evaluate(g, x[60:], y[60:], params=h.params, batch_size=7)
    assert ev["loss"] == pytest.approx(h.history["val_loss"][-1], rel=1e-5)
    assert ev["accuracy"] == pytest.approx(h.history["val_accuracy"][-1])
    p = predict(g, x[60:], params=h.params.snapshot())
    assert p.shape == (30, 3) and ev["accuracy"] == pytest.approx(np.mean(p.argmax(1) == y[60:]))


class Recorder(Callback):
    def __init__(self, stop_after=None, stop=None):
        self.events, self.stop_after, self.stop = [], stop_after, stop

    def on_train_begin(self, logs=None):
        self.events.append("begin")

    def on_batch_end(self, step, logs):
        ctx = self.context
        self.events.append(("batch", step, ctx.epoch, ctx.batch))
        self.last_acts = {k: v.shape for k, v in ctx.activations.items()}
        self.last_norms = dict(ctx.grad_norms)
        self.weights = ctx.weights()
        assert "loss" in logs and "batch_loss" in logs
        if self.stop_after is not None and step + 1 == self.stop_after:
            self.stop.set() if hasattr(self.stop, "set") else self.stop.stop()

    def on_epoch_end(self, epoch, logs):
        self.events.append(("epoch", epoch))

    def on_train_end(self, logs=None):
        self.events.append("end")


def test_callbacks_see_activations_weights_and_gradient_norms():
    g, ids = chain(*MLP)
    x, y = _data(40)
    rec = Recorder()
    h = fit(g, x, y, epochs=2, batch_size=16, seed=0, callbacks=[rec])
    assert rec.events[0] == "begin" and rec.events[-1] == "end"
    assert [e for e in rec.events if e[0] == "epoch"] == [("epoch", 0), ("epoch", 1)]
    assert sum(1 for e in rec.events if e[0] == "batch") == 6
    assert rec.last_acts == {ids[0]: (8, 4), ids[1]: (8, 8), ids[2]: (8, 3)}
    assert set(rec.last_norms) == {ids[1], ids[2]} and all(v > 0 for v in rec.last_norms.values())
    # weights() is a copy taken at that moment, equal to the final weights after the last batch
    np.testing.assert_array_equal(rec.weights[ids[1]]["kernel"], h.params.values[ids[1]]["kernel"])
    rec.weights[ids[1]]["kernel"][...] = 0
    assert np.any(h.params.values[ids[1]]["kernel"] != 0)


@pytest.mark.parametrize("flag", [threading.Event, RunControl])
def test_stop_is_honoured_between_batches(flag):
    g, _ = chain(*MLP)
    x, y = _data(64)
    stop = flag()
    rec = Recorder(stop_after=3, stop=stop)
    kw = {"control": stop} if flag is RunControl else {"stop_event": stop}
    h = fit(g, x, y, epochs=5, batch_size=8, seed=0, callbacks=[rec], **kw)
    assert h.stopped and h.epoch == []
    assert sum(1 for e in rec.events if e[0] == "batch") == 3
    assert rec.events[-1] == "end"


def test_run_control_pause_and_single_step():
    g, _ = chain(*MLP)
    x, y = _data(64)
    ctl = RunControl()
    ctl.pause()
    steps = []

    class Count(Callback):
        def on_batch_end(self, step, logs):
            steps.append(step)

    t = threading.Thread(target=fit, args=(g, x, y), kwargs=dict(epochs=1, batch_size=8, control=ctl,
                                                                 callbacks=[Count()]))
    t.start()
    t.join(0.3)
    assert steps == [] and ctl.paused
    ctl.step(2)
    for _ in range(100):
        if len(steps) == 2 and ctl.paused:
            break
        t.join(0.02)
    t.join(0.2)
    assert steps == [0, 1]
    ctl.resume()
    t.join(5)
    assert not t.is_alive() and steps == list(range(8))


def test_a_pause_requested_after_a_batch_is_announced_before_the_wait():
    """Pausing from inside the last callback (the worst moment) still reaches ``on_pause``."""
    g, _ = chain(*MLP)
    x, y = _data(64)
    ctl = RunControl()
    events = []

    class PauseAtThree(Callback):
        def on_batch_end(self, step, logs):
            events.append(("batch", step))
            if step == 2:
                ctl.pause()

        def on_pause(self, step):
            events.append(("pause", step))
            if step == 3:
                ctl.step(1)
            else:
                ctl.resume()

    fit(g, x, y, epochs=1, batch_size=8, control=ctl, callbacks=[PauseAtThree()])
    assert events[:6] == [("batch", 0), ("batch", 1), ("batch", 2), ("pause", 3), ("batch", 3), ("pause", 4)]
    assert [e for e in events if e[0] == "pause"] == [("pause", 3), ("pause", 4)]
    assert events[-1] == ("batch", 7)


def test_validation_outputs_are_kept_for_a_callback_that_asks():
    g, ids = chain(*MLP)
    x, y = _data(50)
    seen = []

    class Keep(Callback):
        def on_train_begin(self, logs=None):
            self.context.keep_val_outputs = True

        def on_epoch_end(self, epoch, logs):
            seen.append({k: v.copy() for k, v in self.context.val_outputs.items()})

    h = fit(g, x, y, epochs=2, batch_size=8, validation_split=0.2, seed=0, callbacks=[Keep()])
    assert len(seen) == 2 and set(seen[-1]) == {ids[-1]}
    expected = predict(g, x[40:], params=h.params)
    np.testing.assert_allclose(seen[-1][ids[-1]], expected, rtol=1e-6, atol=1e-7)
    assert not np.allclose(seen[0][ids[-1]], seen[1][ids[-1]])  # each epoch's own pass
    plain = []

    class Look(Callback):
        def on_epoch_end(self, epoch, logs):
            plain.append(dict(self.context.val_outputs))

    fit(g, x, y, epochs=1, batch_size=8, validation_split=0.2, seed=0, callbacks=[Look()])
    assert plain == [{}]  # nobody asked: nothing is kept


def test_nan_guard_names_the_first_layer_that_went_bad():
    g, ids = chain(("Dense", {"units": 4, "activation": "relu"}), ("Dense", {"units": 4, "activation": "exponential"}),
                   ("Dense", {"units": 2, "activation": "softmax"}))
    store = ParamStore(CompiledGraph(g), seed=0)
    store.values[ids[2]]["kernel"][...] = 1e4
    x, y = _data(32, classes=2)
    x = np.abs(x) + 1
    store.values[ids[1]]["kernel"][...] = np.abs(store.values[ids[1]]["kernel"]) + 0.1
    with pytest.raises(TrainingError, match=r"Epoch 1, batch 1: The output of Dense 'dense_1' became NaN") as err:
        fit(g, x, y, params=store, epochs=1, batch_size=8)
    assert err.value.node_id == ids[2]
    x[5, 1] = np.nan
    with pytest.raises(TrainingError, match="data fed to Input 'input_layer' contains NaN") as err:
        fit(g, x, y, epochs=1, batch_size=64)
    assert err.value.node_id == ids[0]


def test_memory_guard_refuses_before_running():
    g, _ = chain(("Dense", {"units": 512}), ("Dense", {"units": 3, "activation": "softmax"}))
    x, y = _data(16)
    rec = Recorder()
    with pytest.raises(TrainingError, match=r"needs an estimated [\d.,]+ MB .* batch size 4096, but only 1.0 MB"):
        fit(g, x, y, batch_size=4096, callbacks=[rec], memory_available=1024 * 1024)
    assert rec.events == []
    fit(g, x, y, batch_size=8, memory_available=1024 ** 3)


def test_data_errors_are_sentences():
    g, _ = chain(*MLP)
    x, y = _data(20)
    with pytest.raises(TrainingError, match="20 samples but the labels .* have 19"):
        fit(g, x, y[:19])
    with pytest.raises(TrainingError, match="validation_split=0.99 leaves 0 training"):
        fit(g, x, y, validation_split=0.99)


def test_spirals_mlp_reaches_98_percent():
    from engine.datasets import load_dataset

    x, y = load_dataset("spirals")
    g, _ = chain(("Dense", {"units": 64, "activation": "relu"}), ("Dense", {"units": 64, "activation": "relu"}),
                 ("Dense", {"units": 2, "activation": "softmax"}), input_shape=(2,))
    h = fit(g, x, y, epochs=150, batch_size=32, seed=0, learning_rate=0.01)
    assert evaluate(g, x, y, params=h.params)["accuracy"] >= 0.98
