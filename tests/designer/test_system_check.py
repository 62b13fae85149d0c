"""``layergraph doctor`` and the check before the designer starts: a missing Qt system library is named,
with its package and the command that installs it, instead of Qt's core dump."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from designer import launcher, system_check
from designer.system_check import (BASE_LIBRARIES, Requirement, apt_command, missing_libraries, needed_libraries,
                                   plugin_libraries, qt_directory, read_requirements, startup_problem)

ROOT = Path(__file__).resolve().parents[2]
X11 = {"DISPLAY": ":0"}
QT = qt_directory()
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux") or QT is None or not (QT / system_check.PLUGIN)
                                .exists(), reason="the xcb platform plugin exists on Linux only")


def _all_but(library: str):
    return lambda lib: lib != library


@linux_only
def test_needed_libraries_reads_the_plugins_elf_header():
    needed = needed_libraries(QT / system_check.PLUGIN)
    assert "libxcb-icccm.so.4" in needed and "libxcb-keysyms.so.1" in needed and "libQt6XcbQpa.so.6" in needed
    ldd = subprocess.run(["ldd", str(QT / system_check.PLUGIN)], capture_output=True, text=True).stdout
    assert all(name in ldd for name in needed)  # each direct need is among what the loader resolves


@linux_only
def test_the_package_list_covers_every_library_the_xcb_plugin_needs():
    listed = {lib for r in read_requirements() for lib in r.libraries}
    needed = plugin_libraries(QT)
    assert {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0", "libGL.so.1"} <= set(needed)
    assert set(needed) - listed - BASE_LIBRARIES == set()
    # a list with one entry removed: the check still finds that library by reading the plugin, and names it
    shorter = [r for r in read_requirements() if r.package != "libxcb-keysyms1"]
    assert missing_libraries(shorter, needed, _all_but("libxcb-keysyms.so.1")) == [("libxcb-keysyms.so.1", None)]


def test_a_missing_library_is_named_with_its_package_and_one_apt_command():
    problem = startup_problem(X11, "linux", loadable=_all_but("libxcb-icccm.so.4"))
    assert problem is not None
    assert "libxcb-icccm.so.4  (package libxcb-icccm4)" in problem
    assert apt_command(["libxcb-icccm4"]) in problem
    assert "libxcb-cursor" not in problem  # Qt's own message blamed libxcb-cursor0 whatever was missing


def test_a_library_missing_on_this_machine_is_found_by_the_real_loader():
    fake = Requirement("libfake-layergraph0", ("libfake-layergraph.so.0",))
    assert missing_libraries([*read_requirements(), fake]) == [("libfake-layergraph.so.0", "libfake-layergraph0")]
    assert missing_libraries(read_requirements()) == []  # everything else is installed here


@linux_only
def test_a_needed_library_no_listed_package_provides_is_still_named():
    problem = startup_problem(X11, "linux", loadable=_all_but("libxcb-sync.so.1"),
                              requirements=[r for r in read_requirements() if r.package != "libxcb-sync1"])
    assert problem is not None and "libxcb-sync.so.1  (find its package with `apt-file search" in problem


def test_other_platforms_are_not_checked():
    nothing_loads = lambda _lib: False  # noqa: E731
    assert startup_problem({"QT_QPA_PLATFORM": "offscreen", **X11}, "linux", loadable=nothing_loads) is None
    assert startup_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", loadable=nothing_loads) is None
    assert startup_problem(X11, "darwin", loadable=nothing_loads) is None
    assert startup_problem({"QT_QPA_PLATFORM": "xcb"}, "linux", loadable=nothing_loads) is not None


def test_the_launcher_prints_the_problem_instead_of_starting_qt(monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(system_check, "can_load", _all_but("libxcb-keysyms.so.1"))
    import designer.app

    monkeypatch.setattr(designer.app, "main", lambda argv: pytest.fail("Qt was started"))
    assert launcher.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("layergraph: Qt cannot start") and "libxcb-keysyms.so.1  (package libxcb-keysyms1)" in err
    assert apt_command(["libxcb-keysyms1"]) in err
    # the doctor says the same, and exits 1
    assert launcher.main(["doctor"]) == 1
    assert "libxcb-keysyms1" in capsys.readouterr().out


@linux_only
def test_the_launcher_process_reports_a_library_the_loader_cannot_use(tmp_path):
    """The real loader and the real launcher: an unusable ``libxcb-icccm.so.4`` first on the library path
    made Qt abort ("Aborted (core dumped)", blaming libxcb-cursor0); now the launcher names it and exits 1
    before Qt is started (so the fake display is never opened)."""
    (tmp_path / "libxcb-icccm.so.4").write_bytes(b"")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(LD_LIBRARY_PATH=str(tmp_path), DISPLAY=":99", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "designer.launcher"], env=env, capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert r.returncode == 1, r.stderr
    assert "libxcb-icccm.so.4  (package libxcb-icccm4)" in r.stderr and "Aborted" not in r.stderr


@linux_only
def test_doctor_on_this_machine_finds_everything(capsys):
    assert launcher.main(["doctor"]) == 0  # (conftest sets QT_QPA_PLATFORM=offscreen: no display needed)
    out = capsys.readouterr().out
    assert "xcb platform plugin: loads" in out and "The designer can start." in out


def test_one_install_command_works_as_root_and_as_a_user():
    cmd = apt_command(["libxcb-icccm4", "libxcb-keysyms1"])
    assert cmd.startswith("$(command -v sudo) sh -c '") and "apt-get update" in cmd
    assert cmd.endswith("install -y --no-install-recommends libxcb-icccm4 libxcb-keysyms1'")
