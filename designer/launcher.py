"""The ``layergraph`` console script: headless subcommands go to ``engine.cli`` without importing Qt;
no subcommand (or ``open``) starts the designer."""
from __future__ import annotations

import sys

from engine.cli import COMMANDS


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from engine.cli import main as cli_main

        return cli_main(argv)
    if argv and argv[0] == "open":
        argv = argv[1:]
    try:
        from designer.app import main as designer_main
    except ImportError as exc:
        print(f"layergraph: the designer cannot start ({exc}); install layergraph with its Qt dependencies "
              "and the system libraries listed in README.md.", file=sys.stderr)
        return 1
    return designer_main(argv)


if __name__ == "__main__":
    sys.exit(main())
