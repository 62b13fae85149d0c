"""The import rule (designer -> engine, never the reverse) and the no-eval rule, checked on the source."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_ENGINE = ("PySide6", "pyqtgraph", "designer", "keras", "jax", "torch", "shiboken6")


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def test_engine_never_imports_qt_designer_or_keras():
    bad = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for mod, line in _imports(path):
            if mod.split(".")[0] in FORBIDDEN_IN_ENGINE:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
    assert not bad, "\n".join(bad)


def test_importing_the_engine_loads_no_qt_module():
    code = ("import sys, engine, engine.layers, engine.graph, engine.validation, engine.fileformat, engine.cli;"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('PySide6','pyqtgraph','designer','keras')];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


#: The one module that may run code: custom layers' trusted code (issue 16), and only ``exec``.
EXEC_POINT = Path("engine/custom/trusted_exec.py")


def _calls(tree, names):
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and (
        isinstance(node.func, ast.Name) and node.func.id in names
        or isinstance(node.func, ast.Attribute) and node.func.attr in names
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "builtins")]


def test_no_eval_exec_or_pickle_in_shipped_code():
    bad = []
    for pkg in ("engine", "designer"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            allowed = {"exec"} if path.relative_to(ROOT) == EXEC_POINT else set()
            for node in _calls(tree, {"eval", "exec", "__import__"} - allowed):
                name = getattr(node.func, "id", None) or node.func.attr
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {name}")
            for mod, line in _imports(path):
                if mod.split(".")[0] in ("pickle", "marshal", "shelve", "dill"):
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
            if "allow_pickle=True" in path.read_text(encoding="utf-8"):
                bad.append(f"{path.relative_to(ROOT)} uses allow_pickle=True")
    assert not bad, "\n".join(bad)


def test_the_exec_point_runs_code_only_after_the_trust_check():
    """The one ``exec`` sits in ``compiled``, after ``trust.is_trusted`` refuses untrusted code."""
    tree = ast.parse((ROOT / EXEC_POINT).read_text(encoding="utf-8"))
    execs = _calls(tree, {"exec"})
    assert len(execs) == 1
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "compiled")
    assert execs[0] in list(ast.walk(fn))
    first = fn.body[1] if isinstance(fn.body[0], ast.Expr) else fn.body[0]
    assert isinstance(first, ast.If) and "is_trusted" in ast.unparse(first.test)
