"""`deepcollapse asymptotic`: the Theorem 5.1 study (fixed noisy features, finite n against the limit)."""

from __future__ import annotations

import argparse

from ._options import add_out

HELP = "Theorem 5.1: optimal classifier for fixed noisy features over growing n, against its limit"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE.yaml",
        help="YAML/JSON mapping of deepcollapse.asymptotic.Config fields ('-' reads stdin)",
    )
    parser.add_argument(
        "--key",
        default=None,
        metavar="DOTTED.PATH",
        help="select a nested mapping of the file, e.g. 'asymptotic' to run params.yaml's section",
    )
    add_out(parser, metavar="RESULT.zarr", help="Zarr store to write (atomically)")


def run(args: argparse.Namespace) -> int:
    from ..asymptotic import Config, run as run_study, write
    from ..config import from_yaml
    from ..outputs import reserve

    config = from_yaml(Config, args.config, key=args.key)  # bad input fails here, before any output
    with reserve(args.out, "asymptotic", force=args.force):
        write(run_study(config), args.out, config)
    return 0
