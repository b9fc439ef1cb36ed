"""The `deepcollapse` command line: a thin dispatcher over `deepcollapse.commands.*`.

Each subcommand lives in its own module exposing ``HELP``, ``configure(parser)`` and
``run(args) -> int``.  Those modules only parse arguments; the science is in the package, so the
Snakemake workflow (which calls this CLI) and Python users run the very same code.

Exit status: 0 on success, 2 on bad input (one line on stderr naming what is wrong), 130 when
interrupted.  Subcommands that can be pre-empted (training) define their own extra statuses.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import InputError

# name -> module under deepcollapse.commands (order = order in --help)
SUBCOMMANDS = ("ufm", "theory", "lowrank", "asymptotic", "data", "train", "features", "metrics", "report", "info")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepcollapse",
        description="Unconstrained features models, exact neural-collapse metrics and ResNet18 "
        "experiments (Tirer & Bruna, ICML 2022).",
    )
    parser.add_argument("--version", action="version", version=f"deepcollapse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"deepcollapse.commands.{name}")
        sp = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sp)
        sp.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except InputError as exc:
        message = " ".join(str(exc).split())  # exactly one line
        print(f"deepcollapse {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"deepcollapse {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
