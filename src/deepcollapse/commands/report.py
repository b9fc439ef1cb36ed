"""`deepcollapse report`: the pipeline's report plumbing (no science).

    deepcollapse report index --pages reports/a.html reports/b.html --out reports/index.html
    deepcollapse report summary --store run1=results/metrics/run1.zarr --along epoch --out final.json
"""

from __future__ import annotations

import argparse

from ..errors import InputError
from ._options import add_out

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "write the report index (reports/index.html) or a JSON summary of final metric values"


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    index = actions.add_parser("index", help="link rendered report pages and their figures into one HTML page")
    index.add_argument("--pages", nargs="+", required=True, metavar="PAGE.html", help="rendered report pages, in order")
    index.add_argument(
        "--figures", default=None, metavar="DIR", help="figure root holding one folder per page (default: OUT's folder/figures)"
    )
    index.add_argument("--data", default=None, metavar="DIR", help="root of the figures' CSV data, one folder per page (default: OUT's folder/data)")
    index.add_argument("--title", default="deepcollapse reports")
    index.add_argument("--note", default="", help="a note shown at the top, e.g. that the pages were not made with the paper's settings")
    add_out(index, metavar="INDEX.html", help="the index page")
    summary = actions.add_parser("summary", help="final value of every metric of result stores, as JSON (a DVC metric)")
    summary.add_argument("--store", nargs="+", required=True, metavar="NAME=STORE.zarr", help="stores to summarise, by name")
    summary.add_argument("--along", default="epoch", help="dimension whose last index is the final value (default: epoch)")
    add_out(summary, metavar="SUMMARY.json", help="the JSON summary")


def _named(pairs: list[str]) -> dict[str, str]:
    named = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--store {pair!r}: expected NAME=PATH")
        if name in named:  # a dict would keep the last silently
            raise InputError(f"--store {pair!r}: name {name!r} is given twice (first for {named[name]}); names must differ")
        named[name] = path
    return named


def run(args: argparse.Namespace) -> int:
    from ..outputs import reserve

    if args.action == "index":
        from ..reports.index import build

        with reserve(args.out, "index", force=args.force):
            build(pages=args.pages, out=args.out, figures_root=args.figures, data_root=args.data, title=args.title, note=args.note)
    else:
        from ..reports.summary import final_values
        from ..store import reading, write_json

        stores = _named(args.store)
        with reserve(args.out, "summary", force=args.force):
            summary = {}
            for name, path in stores.items():
                with reading(path):
                    summary[name] = final_values(path, along=args.along)
            write_json(summary, args.out, kind="summary")
    return 0
