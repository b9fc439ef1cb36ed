"""Options shared by several subcommands, defined once: `--out`/`--force` (the output contract
of `deepcollapse.outputs`), `--threads` (torch's CPU threads), `--allow-large` (the cost check,
`deepcollapse.cost`) and `--progress` (a tqdm bar, on by default only on a terminal)."""

from __future__ import annotations

import argparse

FORCE_HELP = (
    "replace OUT even if it is not a deepcollapse artifact of this kind (a foreign directory or file, "
    "another kind of store); without it such an OUT is refused"
)


def add_out(parser: argparse.ArgumentParser, *, help: str, metavar: str | None = None) -> None:
    parser.add_argument("--out", required=True, metavar=metavar, help=help + "; replaces only an artifact of the same kind")
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)


def add_threads(parser: argparse.ArgumentParser, *, default: str = "torch's") -> None:
    parser.add_argument(
        "--threads", type=int, default=None, metavar="N",
        help=f"torch's CPU threads, 0 = torch's default (the pipeline passes params.yaml networks.threads; default: {default})",
    )


def add_allow_large(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-large", action="store_true",
        help="run even what the cost check estimates to exceed this machine's memory or a day of computing "
        "(deepcollapse.cost; docs/usage.md, 'Large jobs'); without it such a job is refused before it starts",
    )


def add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )
