"""README's two set-up commands are the ones CI runs and the ones a newcomer types."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commands():
    return [line.strip() for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith("    python3 -m venv")]


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    cmds = _commands()
    assert len(cmds) == 2, cmds
    launch, test = cmds
    assert launch.endswith("layergraph") and "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text()
    m = re.search(r"TEST_COMMAND='(.+)'", ci)
    assert m and m.group(1) == test


def test_readme_installs_exactly_the_system_packages_ci_installs_and_the_doctor_checks():
    """One list (resources/debian-packages.txt): README's set-up command is built from it, .ci/run reads it."""
    import subprocess

    from designer.system_check import apt_command, read_requirements

    packages = [r.package for r in read_requirements()]
    assert {"libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0", "python3-venv"} <= set(packages)
    readme = (ROOT / "README.md").read_text()
    apt_lines = [line.strip() for line in readme.splitlines() if "apt-get install" in line]
    assert apt_lines == [apt_command(packages)]
    assert "sudo apt-get" not in readme  # root has no sudo on a fresh Debian
    ci = (ROOT / ".ci" / "run").read_text()
    m = re.search(r"^PACKAGES=\$\((.+)\)$", ci, re.MULTILINE)
    assert m, "the package list in .ci/run"
    read_by_ci = subprocess.run(["bash", "-c", m.group(1)], capture_output=True, text=True, cwd=ROOT, check=True)
    assert read_by_ci.stdout.split() == packages
    assert "$PACKAGES" in ci and "libgl1" not in ci  # no second, hand-kept list
