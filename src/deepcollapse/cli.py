"""The `deepcollapse` command line: a thin dispatcher over `deepcollapse.commands.*`.

Each subcommand lives in its own module exposing ``HELP``, ``configure(parser)`` and
``run(args) -> int``.  Those modules only parse arguments; the science is in the package, so the
Snakemake workflow (which calls this CLI) and Python users run the very same code.

Exit status: 0 on success, 2 on bad input or an I/O error (one line on stderr naming the file,
key or value), 130 on SIGINT and 143 on SIGTERM (the temporary output is removed, nothing is
written).  Subcommands that can be pre-empted (training) define their own extra statuses.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from . import __version__, stages
from .errors import InputError

#: Subcommands no pipeline stage runs; the others come from the stage table (deepcollapse.stages).
NOT_IN_STAGES = ("info",)


def subcommands() -> tuple[str, ...]:
    """Each a module under deepcollapse.commands, in --help order: the stages' commands in table order, then the rest."""
    return (*stages.commands(), *NOT_IN_STAGES)


SUBCOMMANDS = subcommands()


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (exit 2, like every bad input): the full usage
    stays one `--help` away."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="deepcollapse",
        description="Unconstrained features models, exact neural-collapse metrics and ResNet18 "
        "experiments (Tirer & Bruna, ICML 2022).",
    )
    parser.add_argument("--version", action="version", version=f"deepcollapse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for name in subcommands():
        module = importlib.import_module(f"deepcollapse.commands.{name}")
        sp = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sp)
        sp.set_defaults(_run=module.run)
    return parser


class Terminated(BaseException):
    """SIGTERM as an exception, so that the writers' cleanup (`atomic.atomic_path`) runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame) -> None:
    raise Terminated(signum)


def _stopped(command: str, args: argparse.Namespace, why: str) -> None:
    out = getattr(args, "out", None)
    if command == "train":
        where = f"; {out} keeps its checkpoints (rerun to resume)"
    else:
        where = f"; nothing was written to {out} (its temporary files were removed)" if out else ""
    print(f"deepcollapse {command}: {why}{where}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command + (f" {args.action}" if getattr(args, "action", None) else "")
    previous = None
    if threading.current_thread() is threading.main_thread():
        # by default SIGTERM kills at once and leaves temporary outputs behind; `train` installs its
        # own handlers (pre-emption saves a checkpoint)
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(command, args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(command: str, args: argparse.Namespace) -> int:
    try:
        return int(args._run(args) or 0)
    except InputError as exc:
        message = " ".join(str(exc).split())  # exactly one line
        print(f"deepcollapse {command}: error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:
        # the environment, not the code: a read-only or full file system, a permission
        where = exc.filename or "I/O"
        reason = exc.strerror or " ".join(str(exc).split())
        print(f"deepcollapse {command}: error: {where}: {reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _stopped(command, args, "interrupted (SIGINT)")
        return 130
    except Terminated as exc:
        _stopped(command, args, f"stopped by {signal.Signals(exc.signum).name}")
        return 128 + exc.signum


def entry() -> None:
    """The process entry point (the `deepcollapse` script, `python -m deepcollapse`): `main`, then exit.

    Once `main` has returned, the output is whole and the lock released; a SIGINT or SIGTERM that
    lands during interpreter shutdown (seconds, with torch loaded, on a busy machine) would otherwise
    turn a finished command's status 0 into death by signal, with a traceback for SIGINT. Only the
    process entry ignores them: `main` called in-process (tests, notebooks) leaves the handlers alone.
    """
    status = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(status)


if __name__ == "__main__":
    entry()
