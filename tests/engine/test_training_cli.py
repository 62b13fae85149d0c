"""``layergraph train`` / ``predict`` through ``engine.cli.main``: exit codes, files written, outputs."""
import json

import numpy as np
import pytest

from engine.cli import main
from engine.executor import CompiledGraph, ParamStore
from engine.fileformat import load_document, save_document
from engine.graph import LayerGraph
from engine.training import predict
from tests.engine.graph_helpers import chain


@pytest.fixture
def mlp_file(tmp_path):
    g, _ = chain(("Dense", {"units": 16, "activation": "relu"}), ("Dense", {"units": 3, "activation": "softmax"}))
    path = tmp_path / "mlp.lgraph"
    save_document(path, g)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    return path, x, y


def test_train_writes_weights_beside_the_graph_and_keeps_its_structure(mlp_file, capsys):
    path, x, y = mlp_file
    before = json.loads(path.read_text())
    assert before["weights"] is None
    rc = main(["train", str(path), "--data", str(path.parent / "data.npz"), "--epochs", "3", "--batch-size", "16",
               "--optimizer", "sgd", "--lr", "0.1", "--validation-split", "0.25", "--seed", "3"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "epoch 3/3" in err and "val_accuracy" in err and "samples/s" in err
    assert "mlp.npz" in out
    after = json.loads(path.read_text())
    assert after["nodes"] == before["nodes"] and after["edges"] == before["edges"]
    assert after["weights"] == "mlp.npz"
    t = after["training"]
    assert (t["epochs"], t["batch_size"], t["optimizer"], t["learning_rate"], t["seed"]) == (3, 16, "sgd", 0.1, 3)
    assert t["loss"] == "sparse_categorical_crossentropy" and t["validation_split"] == 0.25
    doc = load_document(path)
    assert doc.weights and set(doc.weights) == set(ParamStore(CompiledGraph(doc.graph)).values)
    # a second run starts from the saved weights and reuses the stored settings
    rc = main(["train", str(path), "--data", str(path.parent / "data.npz"), "--epochs", "1"])
    assert rc == 0
    t2 = json.loads(path.read_text())["training"]
    assert (t2["epochs"], t2["optimizer"], t2["learning_rate"]) == (1, "sgd", 0.1)


def test_no_shuffle_keeps_the_data_order(mlp_file, tmp_path):
    """From the same starting weights the seed only orders the batches: without shuffling it no
    longer matters, with shuffling it does."""
    path, x, y = mlp_file
    data = str(tmp_path / "data.npz")
    assert main(["train", str(path), "--data", data, "--epochs", "1", "--seed", "0"]) == 0  # saved start

    def kernel_after(seed, *flags):
        out = tmp_path / f"run_{seed}_{len(flags)}.lgraph"
        assert main(["train", str(path), "--data", data, "--epochs", "2", "--optimizer", "sgd", "--lr", "0.1",
                     "--seed", str(seed), "-o", str(out), *flags]) == 0
        doc = load_document(out)
        return np.concatenate([w.ravel() for node in doc.weights.values() for w in node.values()])

    np.testing.assert_array_equal(kernel_after(1, "--no-shuffle"), kernel_after(2, "--no-shuffle"))
    assert not np.allclose(kernel_after(1), kernel_after(2))


def test_train_with_output_writes_a_full_document(mlp_file, tmp_path):
    path, x, y = mlp_file
    original = path.read_bytes()
    out = tmp_path / "trained.lgraph"
    rc = main(["train", str(path), "--data", str(tmp_path / "data.npz"), "--epochs", "2", "-o", str(out)])
    assert rc == 0
    assert path.read_bytes() == original and not (tmp_path / "mlp.npz").exists()
    doc = load_document(out)
    assert doc.weights and doc.training["epochs"] == 2


def test_predict_round_trip_matches_the_engine(mlp_file, tmp_path):
    path, x, y = mlp_file
    assert main(["train", str(path), "--data", str(tmp_path / "data.npz"), "--epochs", "2", "--seed", "0"]) == 0
    np.save(tmp_path / "x.npy", x[:10])
    rc = main(["predict", str(path), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
               "--batch-size", "4"])
    assert rc == 0
    got = np.load(tmp_path / "y.npy")
    doc = load_document(path)
    np.testing.assert_allclose(got, predict(doc.graph, x[:10], params=doc.weights), rtol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-5)


def test_multi_input_multi_output_predict_uses_npz_by_name(tmp_path):
    g = LayerGraph()
    for name, n in (("left", 3), ("right", 2)):
        i = g.add_node("Input", {"shape": [n]}, name=name)
        d = g.add_node("Dense", {"units": 2}, name=f"out_{name}")
        g.connect(i, d)
    path = tmp_path / "two.lgraph"
    store = ParamStore(CompiledGraph(g), seed=0)
    save_document(path, g, store.snapshot())
    rng = np.random.default_rng(1)
    xs = {"left": rng.standard_normal((5, 3)).astype(np.float32),
          "right": rng.standard_normal((5, 2)).astype(np.float32)}
    np.savez(tmp_path / "in.npz", **xs)
    assert main(["predict", str(path), "--input", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as z:
        assert set(z.files) == {"out_left", "out_right"}
        np.testing.assert_allclose(z["out_left"], xs["left"] @ store.values[g.node_by_name("out_left").id]["kernel"],
                                   rtol=1e-5)
    assert main(["predict", str(path), "--input", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npy")]) == 1
    np.savez(tmp_path / "bad.npz", left=xs["left"])
    assert main(["predict", str(path), "--input", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "o.npz")]) == 1


def test_exit_codes_for_bad_input(mlp_file, tmp_path, capsys):
    path, x, y = mlp_file
    data = str(tmp_path / "data.npz")
    # no trained weights yet
    np.save(tmp_path / "x.npy", x[:3])
    assert main(["predict", str(path), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")]) == 1
    assert "no trained weights" in capsys.readouterr().err
    # unreadable data file -> 2
    assert main(["train", str(path), "--data", str(tmp_path / "missing.npz")]) == 2
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    assert main(["train", str(path), "--data", data, "--epochs", "1"]) == 0
    assert main(["predict", str(path), "--input", str(tmp_path / "junk.npy"), "-o", str(tmp_path / "y.npy")]) == 2
    # wrong sample shape -> 1, naming the input
    np.save(tmp_path / "wide.npy", np.zeros((2, 7), np.float32))
    capsys.readouterr()
    assert main(["predict", str(path), "--input", str(tmp_path / "wide.npy"), "-o", str(tmp_path / "y.npy")]) == 1
    assert "Input 'input_layer' expects samples of shape (4,)" in capsys.readouterr().err
    # unknown optimizer -> 1
    assert main(["train", str(path), "--data", data, "--optimizer", "adamax"]) == 1
    # invalid graph -> 1 with its problems
    g = LayerGraph()
    g.add_node("Input", {"shape": [4]})
    g.add_node("Dense", {"units": 2}, name="floating")
    save_document(tmp_path / "bad.lgraph", g)
    capsys.readouterr()
    assert main(["train", str(tmp_path / "bad.lgraph"), "--data", data]) == 1
    assert "floating" in capsys.readouterr().err


def test_train_on_a_builtin_dataset(tmp_path):
    g, _ = chain(("Dense", {"units": 8, "activation": "tanh"}), ("Dense", {"units": 1, "activation": "sigmoid"}),
                 input_shape=(2,))
    path = tmp_path / "m.lgraph"
    save_document(path, g)
    assert main(["train", str(path), "--data", "moons", "--epochs", "2"]) == 0
    assert json.loads(path.read_text())["training"]["loss"] == "binary_crossentropy"


def test_train_stores_the_dataset_under_the_key_the_designer_reads(tmp_path):
    """``train`` used to write ``training.data``; the designer reads ``training.dataset`` and opened the
    file on its default dataset instead."""
    g, _ = chain(("Dense", {"units": 4, "activation": "tanh"}), ("Dense", {"units": 1, "activation": "sigmoid"}),
                 input_shape=(2,))
    path = tmp_path / "m.lgraph"
    save_document(path, g)
    assert main(["train", str(path), "--data", "moons", "--epochs", "1"]) == 0
    stored = json.loads(path.read_text())["training"]
    assert stored["dataset"] == "moons" and "data" not in stored
    assert load_document(path).training["dataset"] == "moons"


def test_a_file_written_with_the_older_data_key_opens_on_its_dataset(tmp_path):
    g, _ = chain(("Dense", {"units": 3, "activation": "softmax"}), input_shape=(2,))
    path = tmp_path / "old.lgraph"
    save_document(path, g)
    data = json.loads(path.read_text())
    data["training"] = {"data": "circles", "epochs": 4}
    path.write_text(json.dumps(data))
    assert load_document(path).training == {"dataset": "circles", "epochs": 4}
    data["training"] = {"data": "circles", "dataset": "xor"}  # both spellings: the current key wins
    path.write_text(json.dumps(data))
    assert load_document(path).training == {"dataset": "xor"}
    # and training it again rewrites the current key only
    assert main(["train", str(path), "--data", "xor", "--epochs", "1"]) == 0
    stored = json.loads(path.read_text())["training"]
    assert stored["dataset"] == "xor" and "data" not in stored


def test_labels_that_do_not_fit_the_output_are_refused_before_training(mlp_file, tmp_path, capsys):
    path, x, _ = mlp_file
    np.savez(tmp_path / "seven.npz", x=x, y=np.arange(len(x)) % 7)  # 7 classes for a 3-unit output
    before = path.read_bytes()
    assert main(["train", str(path), "--data", str(tmp_path / "seven.npz"), "--epochs", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not fit" in err and "give it 7 units" in err
    assert "Epoch" not in err  # refused before the first batch, by the check the Run panel uses
    assert path.read_bytes() == before and not path.with_suffix(".npz").exists()
