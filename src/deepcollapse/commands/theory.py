"""`deepcollapse theory`: the closed form against gradient descent for every UFM result given."""

from __future__ import annotations

import argparse

from ._options import add_out

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "tabulate closed-form minima against the GD endpoints of UFM result stores (JSON, CSV)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", nargs="+", required=True, metavar="RESULT.zarr", help="stores written by `deepcollapse ufm`")
    add_out(parser, metavar="TABLE.json", help="agreement table as JSON (summary + one row per problem)")
    parser.add_argument("--csv", default=None, metavar="TABLE.csv", help="the same rows as CSV")


def run(args: argparse.Namespace) -> int:
    import contextlib
    from pathlib import Path

    from ..outputs import distinct, reserve
    from ..store import open_dataset, reading, write_json, write_text
    from ..ufm import agreement

    distinct({"--out": args.out, "--csv": args.csv})
    with contextlib.ExitStack() as outputs:
        outputs.enter_context(reserve(args.out, "theory", force=args.force))
        if args.csv:
            outputs.enter_context(reserve(args.csv, "theory-csv", force=args.force))
        table = []
        for path in args.runs:
            name = Path(path).name.removesuffix(".zarr")
            with reading(path):
                table.extend(agreement.rows(open_dataset(path), run=name))
        document = agreement.document(table)
        if args.csv:
            write_text(agreement.to_csv(table), args.csv, kind="theory-csv")
        write_json(document, args.out, kind="theory")
    print(agreement.format_table(table))
    return 0
