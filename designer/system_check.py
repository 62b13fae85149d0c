"""Can Qt start here?  ``layergraph doctor``, and the same check before the designer starts.

When a system library that Qt's xcb platform plugin needs is missing, Qt aborts with a core dump and
a message that blames libxcb-cursor0 whatever is missing.  This module names the missing library,
its Debian/Ubuntu package and one command that installs it, and imports no Qt to do so.  The
packages and the libraries they provide are listed once, in ``resources/debian-packages.txt``
(README.md's set-up command and ``.ci/run`` read the same list); the libraries the plugin really
needs are read from the plugin's own ELF headers, so a newer PySide6 with a new dependency is still
reported by name.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGES_FILE = Path(__file__).resolve().parents[1] / "resources" / "debian-packages.txt"
PLUGIN = Path("plugins") / "platforms" / "libqxcb.so"  # inside PySide6's Qt folder
#: Part of every Debian/Ubuntu system (essential or required packages); never worth a check.
BASE_LIBRARIES = frozenset({"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
                            "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1", "libzstd.so.1",
                            "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"})


@dataclass(frozen=True)
class Requirement:
    """A Debian/Ubuntu package and the shared libraries it provides that Qt loads."""

    package: str
    libraries: tuple[str, ...]


def read_requirements(path: Path = PACKAGES_FILE) -> list[Requirement]:
    """The list in ``resources/debian-packages.txt``: ``package library...`` a line, ``#`` comments."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            out.append(Requirement(words[0], tuple(words[1:])))
    return out


def apt_command(packages: Iterable[str]) -> str:
    """One shell command that installs ``packages``, as root and (through sudo) as a user."""
    return ("$(command -v sudo) sh -c 'apt-get update -qq && apt-get install -y --no-install-recommends "
            f"{' '.join(packages)}'")


def can_load(library: str) -> bool:
    """Whether the dynamic loader finds ``library`` (a soname such as ``libxcb-icccm.so.4``)."""
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def needed_libraries(path: Path) -> list[str]:
    """The ``DT_NEEDED`` entries of a 64-bit little-endian ELF shared object ([] for anything else)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return []
        (shoff,) = struct.unpack_from("<Q", head, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", head, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        # (name, type, flags, addr, offset, size, link, info, addralign, entsize)
        sections = [struct.unpack_from("<IIQQQQIIQQ", table, i * shentsize) for i in range(shnum)]
        for sec in sections:
            if sec[1] != 6:  # SHT_DYNAMIC; its sh_link is the string table
                continue
            f.seek(sec[4])
            dynamic = f.read(sec[5])
            strtab = sections[sec[6]]
            f.seek(strtab[4])
            strings = f.read(strtab[5])
            out = []
            for tag, value in struct.iter_unpack("<qQ", dynamic[: len(dynamic) // 16 * 16]):
                if tag == 0:  # DT_NULL
                    break
                if tag == 1:  # DT_NEEDED
                    out.append(strings[value:strings.index(b"\0", value)].decode())
            return out
    return []


def qt_directory() -> Path | None:
    """PySide6's ``Qt`` folder, found without importing PySide6."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "Qt"


def plugin_libraries(qt_dir: Path) -> list[str]:
    """The system libraries the xcb plugin and the Qt libraries it pulls in need directly (those
    shipped inside PySide6 are followed, not listed)."""
    seen: set[str] = set()
    external: list[str] = []
    todo = [qt_dir / PLUGIN]
    while todo:
        path = todo.pop()
        if not path.exists():
            continue
        for name in needed_libraries(path):
            if name in seen:
                continue
            seen.add(name)
            bundled = qt_dir / "lib" / name
            if bundled.exists():
                todo.append(bundled)
            elif name not in BASE_LIBRARIES:
                external.append(name)
    return external


def missing_libraries(requirements: list[Requirement], needed: Iterable[str] = (),
                      loadable: Callable[[str], bool] = can_load) -> list[tuple[str, str | None]]:
    """``(library, package or None)`` for each ``needed`` library (when none is given: each listed
    one) that the loader cannot find; only what Qt really loads can stop the designer from starting."""
    package_of = {lib: r.package for r in requirements for lib in r.libraries}
    libraries = list(dict.fromkeys(needed)) or list(package_of)
    return [(lib, package_of.get(lib)) for lib in libraries if lib not in BASE_LIBRARIES and not loadable(lib)]


def describe_missing(missing: list[tuple[str, str | None]]) -> str:
    """Which libraries are missing, their packages, and the command that installs them."""
    lines = ["Qt cannot start: these system libraries are missing (or cannot be loaded):"]
    lines += [f"  {lib}  (package {pkg})" if pkg else f"  {lib}  (find its package with `apt-file search {lib}`)"
              for lib, pkg in missing]
    packages = list(dict.fromkeys(pkg for _lib, pkg in missing if pkg))
    if packages:
        lines += ["Install them with:", f"  {apt_command(packages)}"]
    lines.append("`layergraph doctor` checks again.")
    return "\n".join(lines)


def uses_xcb(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will load its xcb platform plugin (Linux on an X11 display)."""
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0]
    if chosen:
        return chosen == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def startup_problem(env: Mapping[str, str] | None = None, platform: str = sys.platform,
                    loadable: Callable[[str], bool] | None = None,
                    requirements: list[Requirement] | None = None) -> str | None:
    """What would make Qt abort when the designer starts here, or None (checked only when the xcb
    plugin will be used; other platforms need other libraries, which Qt reports itself)."""
    if not uses_xcb(os.environ if env is None else env, platform):
        return None
    qt_dir = qt_directory()
    needed = plugin_libraries(qt_dir) if qt_dir is not None else []
    try:
        requirements = read_requirements() if requirements is None else requirements
    except OSError:
        requirements = []  # an installed copy without resources/: the plugin's own list still names the library
    missing = missing_libraries(requirements, needed, loadable or can_load)
    return describe_missing(missing) if missing else None


def _plugin_loads(qt_dir: Path) -> str | None:
    """Load the xcb plugin in a child process (a crash there cannot take this one down); the loader's
    error, or None when it loads."""
    plugin = qt_dir / PLUGIN
    if not plugin.exists():
        return f"{plugin} does not exist"
    r = subprocess.run([sys.executable, "-c", "import ctypes, sys; ctypes.CDLL(sys.argv[1])", str(plugin)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        return None
    return (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1]


def doctor(argv: list[str] | None = None, loadable: Callable[[str], bool] | None = None) -> int:
    """``layergraph doctor``: check what the designer needs to open a window; 0 when all is there."""
    ok = True
    qt_dir = qt_directory()
    if qt_dir is None:
        print("PySide6: not installed; install layergraph with `pip install -e .` (README.md, Set-up).")
        return 1
    print(f"PySide6: {qt_dir.parent}")
    if sys.platform.startswith("linux"):
        requirements = read_requirements()
        missing = missing_libraries(requirements, plugin_libraries(qt_dir), loadable or can_load)
        if missing:
            ok = False
            print(describe_missing(missing))
        else:
            print(f"system libraries: all {sum(len(r.libraries) for r in requirements)} found")
            error = _plugin_loads(qt_dir)
            if error:
                ok = False
                print(f"Qt's xcb platform plugin does not load: {error}")
            else:
                print("Qt's xcb platform plugin: loads")
        from designer.app import display_problem

        display = display_problem()
        ok = ok and display is None
        print(f"display: {display}" if display else
              f"display: {os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY') or 'set by QT_QPA_PLATFORM'}")
    print("The designer can start." if ok else "The designer cannot start until the above is fixed.")
    return 0 if ok else 1
