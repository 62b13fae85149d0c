"""Which custom-layer code may run: code the user wrote or accepted on this machine (Jupyter's model).

A definition is trusted when its signature, an HMAC-SHA256 of its canonical text under a per-user secret
key, is in the trust store under the user's config directory (``LAYERGRAPH_CONFIG_DIR`` overrides it, for
tests and portable set-ups).  Signatures are files named by the HMAC, so an edited copy of a trusted layer
(another text, another HMAC) is untrusted until accepted, and a signature cannot be forged without the key.
``trust_this_process()`` is ``--trust-code``: everything is trusted until the process ends, nothing is
written.
"""
from __future__ import annotations

import functools
import hmac
import os
import secrets
import sys
from hashlib import sha256
from pathlib import Path

from engine.custom.definition import STARTER_DEFINITION, CustomDefinition

CONFIG_DIR_ENV = "LAYERGRAPH_CONFIG_DIR"
_process_trust = {"all": False}


def config_dir() -> Path:
    """The user's layergraph configuration directory (created only when something is written)."""
    if os.environ.get(CONFIG_DIR_ENV):
        return Path(os.environ[CONFIG_DIR_ENV])
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "layergraph"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "layergraph"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "layergraph"


def _trust_dir() -> Path:
    return config_dir() / "trust"


def _key(create: bool) -> bytes | None:
    path = _trust_dir() / "secret"
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        if not create:
            return None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".secret.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32))
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


@functools.cache
def _starter_text() -> str:
    return CustomDefinition.from_dict(STARTER_DEFINITION).canonical()


def signature(definition: CustomDefinition, key: bytes) -> str:
    return hmac.new(key, definition.canonical().encode("utf-8"), sha256).hexdigest()


def is_trusted(definition: CustomDefinition) -> bool:
    """Whether this exact code was signed on this machine (or ``--trust-code`` trusts this process); the
    palette's starter layer is layergraph's own code and always runs."""
    if _process_trust["all"] or definition.canonical() == _starter_text():
        return True
    key = _key(create=False)
    return key is not None and (_trust_dir() / "signed" / signature(definition, key)).is_file()


def sign(definition: CustomDefinition) -> None:
    """Record that the user wrote or accepted this code (the designer's Trust button, ``layergraph trust``)."""
    key = _key(create=True)
    folder = _trust_dir() / "signed"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / signature(definition, key)).touch()


def trust_this_process() -> None:
    """``--trust-code``: run every custom layer in this process; nothing is recorded."""
    _process_trust["all"] = True


def process_trusts_all() -> bool:
    """Whether ``--trust-code`` was given to this process (a shape-inference child inherits it)."""
    return _process_trust["all"]


def custom_definitions(graph) -> list[tuple[str, CustomDefinition]]:
    """``(layer name, definition)`` of every custom layer in ``graph``, inside groups too."""
    from engine.layers.custom import CustomLayer

    found, pending = [], [graph]
    while pending:
        g = pending.pop()
        for nid in g.nodes:
            layer = g.layer(nid)
            if isinstance(layer, CustomLayer):
                found.append((g.node(nid).name, layer.definition))
            elif getattr(layer, "composite", False) and hasattr(layer, "inner"):
                pending.append(layer.inner)
    return found


def untrusted_layers(graph) -> list[tuple[str, CustomDefinition]]:
    """The custom layers of ``graph`` whose code may not run on this machine."""
    return [(name, d) for name, d in custom_definitions(graph) if not is_trusted(d)]
