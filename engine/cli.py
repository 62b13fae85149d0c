"""The headless ``layergraph`` commands (no Qt is imported here; ``designer.launcher`` opens the designer).

Exit codes: 0 success, 1 the graph is invalid or the command failed on valid input, 2 unreadable input.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from engine.errors import FileFormatError, LayergraphError, UsageError, one_line, shown

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool whose reader went away
MAX_MESSAGE = 2000
COMMANDS = ("validate", "summary", "layers", "explain", "train", "predict", "export", "import", "diff", "trust")


def error(msg: str) -> None:
    """One ``layergraph: ...`` line on stderr (every command reports failures this way).

    Line breaks and control characters are escaped and an overlong message is cut, whatever it quotes.
    """
    text = one_line(str(msg))
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE - 1] + "…"
    print(f"layergraph: {text}", file=sys.stderr)


def print_problems(graph, result, file=None) -> None:
    """Each validation problem on its own line, prefixed by the layer's name."""
    for p in result.problems:
        where = f"{graph.node(p.node_id).name}: " if p.node_id in graph else ""
        print(one_line(f"{where}{p.message}"), file=file or sys.stdout)


def _load(path: str):
    from engine.fileformat import load_document

    return load_document(path)


# inline code (``x`` or `x`), then **strong** and *emphasis*; code is matched first, so a ``*`` inside
# code (``h*w*c``) is left alone
_MARKUP = re.compile(r"``(.+?)``|`([^`]+)`|\*\*(\S(?:.*?\S)?)\*\*|(?<![\w*])\*(\S(?:[^*]*?\S)?)\*(?![\w*])")


def plain_text(markup: str) -> str:
    """A docstring paragraph as one line of terminal text: RST/Markdown inline markup removed, lines joined."""
    text = _MARKUP.sub(lambda m: next(g for g in m.groups() if g is not None), markup)
    return " ".join(text.split())


def cmd_layers(args) -> int:
    """List the catalog by family with each layer's summary (the first paragraph of its doc)."""
    from engine.layers import FAMILIES, LAYERS

    for fam in FAMILIES:
        members = [c for c in LAYERS.values() if c.family == fam]
        if not members:
            continue
        print(f"{fam}:")
        for cls in members:
            print(f"  {cls.class_name:<24} {plain_text(cls.doc())}")
    return EXIT_OK


def _explain_config(text: str | None) -> dict | None:
    import json

    if text is None:
        return None
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--config is not valid JSON: {exc}.") from None
    if not isinstance(config, dict):
        raise UsageError("--config must be a JSON object, e.g. '{\"units\": 8}'.")
    return config


def cmd_explain(args) -> int:
    """The layer guide as Markdown; with ``--proof`` exit 1 when the engine disagrees with the reference, or with
    Keras 3 (run in a child process when it is installed)."""
    from engine.guide import explain, parse_shape, write_reference

    keras = args.proof  # says so in the guide when Keras is not installed
    if args.all:
        if args.layer or args.config or args.input_shape or not args.output:
            raise UsageError("explain --all takes no LAYER, --config or --input-shape, and needs -o DIR.")
        failed = write_reference(Path(args.output), proof=args.proof, keras=keras)
        print(f"wrote the guide of every layer and index.md to {args.output}")
        for name in failed:
            error(f"{name}: the proof FAILED: the engine disagrees with the reference computation or with Keras.")
        return EXIT_INVALID if failed else EXIT_OK
    if not args.layer:
        raise UsageError("explain needs a LAYER (see 'layergraph layers') or --all -o DIR.")
    shapes = parse_shape(args.input_shape) if args.input_shape else None
    guide = explain(args.layer, _explain_config(args.config), shapes, proof=args.proof, keras=keras)
    print(guide.markdown)
    if guide.proof is not None and guide.proof.passed is False:
        error(f"{args.layer}: the proof FAILED: the engine disagrees with the reference computation or with Keras.")
        return EXIT_INVALID
    return EXIT_OK


def _untrusted_line(args, graph) -> str | None:
    """One line naming the custom layers of ``graph`` whose code may not run here, or None when all may
    (``--trust-code`` trusts all of it for this process)."""
    from engine.custom import trust

    path = args.graph
    if args.trust_code:
        trust.trust_this_process()
    untrusted = trust.untrusted_layers(graph)
    if not untrusted:
        return None
    names = ", ".join(f"{name} ({d.name})" for name, d in untrusted)
    return (f"{path}: untrusted custom layer code in {names}: not run, shapes unknown; trust it with "
            f"'layergraph trust {path}' or pass --trust-code")


def require_trust(args) -> None:
    """``train``, ``predict`` and ``export`` run or write the layers' code: refuse untrusted code (exit 2)."""
    from engine.fileformat import load_document

    line = _untrusted_line(args, load_document(args.graph, with_weights=False).graph)
    if line:
        raise UsageError(line)


def cmd_trust(args) -> int:
    """Accept the custom-layer code of a document on this machine (like ``jupyter trust``)."""
    from engine.custom import trust

    doc = _load(args.graph)
    found = trust.custom_definitions(doc.graph)
    for _, definition in found:
        trust.sign(definition)
    print(f"{args.graph}: trusted the code of {len(found)} custom layer(s)")
    return EXIT_OK


def cmd_validate(args) -> int:
    from engine.validation import infer_shapes

    doc = _load(args.graph)
    line = _untrusted_line(args, doc.graph)
    if line:
        error(line)
        return EXIT_INVALID
    result = infer_shapes(doc.graph)
    g = doc.graph
    print_problems(g, result)
    if result.ok:
        print(f"{args.graph}: valid ({len(g)} layers, {result.total_params:,} params)")
        return EXIT_OK
    print(f"{args.graph}: {len(result.problems)} problem(s)", file=sys.stderr)
    return EXIT_INVALID


def cmd_summary(args) -> int:
    from engine.summary import format_summary
    from engine.validation import infer_shapes

    doc = _load(args.graph)
    line = _untrusted_line(args, doc.graph)
    if line:
        error(line)
        return EXIT_INVALID
    result = infer_shapes(doc.graph)
    print(format_summary(doc.graph, Path(args.graph).stem, result))
    return EXIT_OK if result.ok else EXIT_INVALID


def cmd_train(args) -> int:
    from engine.training_cli import run_train

    require_trust(args)
    return run_train(args)


def cmd_predict(args) -> int:
    from engine.training_cli import run_predict

    require_trust(args)
    return run_predict(args)


def cmd_export(args) -> int:
    from engine.export.cli import run_export

    require_trust(args)
    return run_export(args)


def cmd_import(args) -> int:
    from engine.export.cli import run_import

    return run_import(args)


def cmd_diff(args) -> int:
    """Compare two models; exit 0 whether or not they differ (2 when a file cannot be read)."""
    import json

    from engine.model_diff import diff_files, format_diff

    diff = diff_files(args.a, args.b)
    if args.json:
        print(json.dumps(diff.to_json(), indent=2, ensure_ascii=False))
    else:
        print(format_diff(diff))
    return EXIT_OK


TRUST_HELP = "run the document's custom-layer code although it was not written or accepted on this machine"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="layergraph", description="Build, validate, train and export neural networks "
                                                              "as graphs of Keras 3 layers.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("open", help="open the designer on GRAPH or an example (the default without a command)")
    sub.add_parser("doctor", help="check the system libraries Qt needs and the display; name what is missing")
    sub.add_parser("layers", help="list the layer catalog").set_defaults(func=cmd_layers)
    ex = sub.add_parser("explain", help="print the guide for a catalog layer (Markdown)")
    ex.add_argument("layer", nargs="?", help="a class name from 'layergraph layers', e.g. Conv2D")
    ex.add_argument("--all", action="store_true", help="write every layer's guide and an index to -o DIR")
    ex.add_argument("-o", "--output", default=None, help="directory for --all")
    ex.add_argument("--config", default=None, help="the layer's arguments as a JSON object")
    ex.add_argument("--input-shape", default=None, help="sample shape without the batch, e.g. 28,28,1 "
                                                        "(';' between the inputs of a merge layer)")
    ex.add_argument("--proof", action="store_true", help="run the proof: the engine vs an independent NumPy reference, "
                                                       "and vs Keras 3 when it is installed (in a child process)")
    ex.set_defaults(func=cmd_explain)
    for name, fn, doc in (("validate", cmd_validate, "print the graph's problems, one per line"),
                          ("summary", cmd_summary, "print a Keras-style summary table")):
        sp = sub.add_parser(name, help=doc)
        sp.add_argument("graph")
        sp.set_defaults(func=fn)
        sp.add_argument("--trust-code", action="store_true", help=TRUST_HELP)
    tr = sub.add_parser("trust", help="accept the custom-layer code of GRAPH on this machine (it then runs)")
    tr.add_argument("graph")
    tr.set_defaults(func=cmd_trust)
    t = sub.add_parser("train", help="train the graph on a dataset and save its weights")
    t.add_argument("graph")
    t.add_argument("--data", required=True, help="built-in dataset name or a .npz/.csv file")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--optimizer", default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--loss", default=None)
    t.add_argument("--validation-split", type=float, default=None)
    t.add_argument("--label-column", default=None, help="label column of a .csv dataset (name or index)")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                   help="keep the data's order in every epoch (Keras fit(shuffle=False))")
    t.add_argument("--backend", choices=["engine", "keras"], default="engine",
                   help="train with layergraph's NumPy engine, or on real Keras in its own process")
    t.add_argument("--keras-backend", choices=["jax", "torch", "tensorflow"], default=None,
                   help="with --backend keras: which installed Keras backend (default: the first of these)")
    t.add_argument("-o", "--output", default=None, help="write the trained graph here (default: GRAPH's weights)")
    t.add_argument("--trust-code", action="store_true", help=TRUST_HELP)
    t.set_defaults(func=cmd_train)
    pr = sub.add_parser("predict", help="run inference with the saved weights")
    pr.add_argument("graph")
    pr.add_argument("--input", required=True, help=".npy, or .npz with one array per input layer name")
    pr.add_argument("-o", "--output", required=True)
    pr.add_argument("--batch-size", type=int, default=256)
    pr.add_argument("--trust-code", action="store_true", help=TRUST_HELP)
    pr.set_defaults(func=cmd_predict)
    e = sub.add_parser("export", help="write Keras 3 or NumPy code for the graph, a Keras .keras model file or an "
                                      "ONNX model")
    e.add_argument("graph")
    e.add_argument("--to", choices=("keras", "numpy", "keras-file", "onnx"), required=True,
                   help="keras/numpy: a Python module; keras-file: a Keras 3 .keras archive with the weights; "
                        "onnx: an ONNX model (opset 18) with the weights (needs pip install layergraph[onnx])")
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--training", action="store_true", help="(keras) include data loading, compile and fit")
    e.add_argument("--trust-code", action="store_true", help=TRUST_HELP)
    e.set_defaults(func=cmd_export)
    im = sub.add_parser("import", help="read a Keras 3 model (.keras or .json) into a layergraph document")
    im.add_argument("model")
    im.add_argument("-o", "--output", required=True)
    im.set_defaults(func=cmd_import)
    d = sub.add_parser("diff", help="compare two models: layers added, removed, renamed, changed, rewired, "
                                    "and weight change",
                       description="Compare model A with model B (.lgraph documents with their weights, or Keras "
                                   ".keras/.json files). Layers are matched by name, then by structure, so a "
                                   "renamed layer is recognised. Exits 0 whether or not the models differ "
                                   "(read the table or --json for that); 2 when a file cannot be read.")
    d.add_argument("a", help="the first model (old)")
    d.add_argument("b", help="the second model (new)")
    d.add_argument("--json", action="store_true", help="print a stable machine-readable form "
                                                       "(format 'layergraph-diff', version 1)")
    d.set_defaults(func=cmd_diff)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # a file name that is not valid Unicode must still print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    if not getattr(args, "func", None):
        build_parser().print_help()
        return EXIT_INVALID
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe is met here, not at interpreter exit where it cannot be caught
        return code
    except BrokenPipeError:
        # the reader (head, less) closed the pipe early: stop quietly, as other Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (FileFormatError, UsageError) as exc:
        error(str(exc))
        return EXIT_UNREADABLE
    except LayergraphError as exc:
        error(str(exc))
        return EXIT_INVALID
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError, RecursionError,
            MemoryError, OverflowError, UnicodeError) as exc:
        # Last resort: every reader raises FileFormatError for what it can recognise; anything else that
        # escapes is still one line and exit 2 (LAYERGRAPH_TRACEBACK=1 shows where it came from).
        if os.environ.get("LAYERGRAPH_TRACEBACK"):
            raise
        error(f"unexpected {type(exc).__name__} while running '{args.command}': {shown(str(exc))} "
              "(set LAYERGRAPH_TRACEBACK=1 for details)")
        return EXIT_UNREADABLE


if __name__ == "__main__":
    sys.exit(main())
