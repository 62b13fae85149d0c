"""The ``layergraph`` console script: headless subcommands go to ``engine.cli`` without importing Qt;
``doctor`` checks what the designer needs; no subcommand (or ``open``) starts the designer, once
``system_check`` has found the system libraries Qt needs (Qt itself would abort with a core dump)."""
from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

from engine.cli import COMMANDS

ALL_COMMANDS = ("open", "doctor") + COMMANDS
_COMMAND_LIKE = re.compile(r"[a-z][a-z-]*")


def unknown_command(word: str) -> str | None:
    """The message for a first argument that is no file and looks like a mistyped command, else None."""
    if Path(word).exists() or not _COMMAND_LIKE.fullmatch(word):
        return None
    close = difflib.get_close_matches(word, ALL_COMMANDS, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    return f"layergraph: unknown command '{word}'{hint} Commands: {', '.join(ALL_COMMANDS)}."


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from engine.cli import main as cli_main

        return cli_main(argv)
    problem = unknown_command(argv[0]) if argv and argv[0] not in ("open", "doctor") else None
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from designer.system_check import doctor, missing_libraries, read_requirements, startup_problem

    if argv and argv[0] == "doctor":
        return doctor(argv[1:])
    if argv and argv[0] == "open":
        argv = argv[1:]
    problem = startup_problem()
    if problem:
        print(f"layergraph: {problem}", file=sys.stderr)
        return 1
    try:
        from designer.app import main as designer_main
    except ImportError as exc:
        print(f"layergraph: the designer cannot start ({exc}).", file=sys.stderr)
        missing = missing_libraries(read_requirements()) if sys.platform.startswith("linux") else []
        if missing:
            from designer.system_check import describe_missing

            print(describe_missing(missing), file=sys.stderr)
        else:
            print("Install layergraph with its Qt dependencies (README.md, Set-up); `layergraph doctor` "
                  "checks them.", file=sys.stderr)
        return 1
    return designer_main(argv)


if __name__ == "__main__":
    sys.exit(main())
