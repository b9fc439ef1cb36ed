"""`deepcollapse theory`: the closed form against gradient descent for every UFM result given."""

from __future__ import annotations

import argparse

HELP = "tabulate closed-form minima against the GD endpoints of UFM result stores (JSON, CSV)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", nargs="+", required=True, metavar="RESULT.zarr", help="stores written by `deepcollapse ufm`")
    parser.add_argument("--out", required=True, metavar="TABLE.json", help="agreement table as JSON (summary + one row per problem)")
    parser.add_argument("--csv", default=None, metavar="TABLE.csv", help="the same rows as CSV")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..store import open_dataset, write_json, write_text
    from ..ufm import agreement

    table = []
    for path in args.runs:
        name = Path(path).name.removesuffix(".zarr")
        table.extend(agreement.rows(open_dataset(path), run=name))
    document = agreement.document(table)
    if args.csv:
        write_text(agreement.to_csv(table), args.csv)
    write_json(document, args.out)
    print(agreement.format_table(table))
    return 0
