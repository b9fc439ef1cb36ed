"""`deepcollapse metrics`: NC metrics per checkpoint epoch and layer of a features store."""

from __future__ import annotations

import argparse

from ._options import add_out, add_progress, add_threads

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "NC metrics (NC1..NC4) per epoch x layer, loss and accuracy, from a features store, into an xarray Zarr store"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", required=True, help="features store written by `deepcollapse features`")
    add_out(parser, help="output Zarr store, e.g. results/metrics/NAME.zarr")
    parser.add_argument("--split", choices=("train", "test"), default="train", help="which split's features (test needs `features --test`)")
    add_threads(parser)
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    from ..nets.layerwise import layer_metrics
    from ..outputs import reserve
    from ..store import reading

    with reserve(args.out, "metrics", force=args.force), reading(args.features):
        out = layer_metrics(args.features, args.out, split=args.split, threads=args.threads, progress=args.progress)
    print(f"{out}: metrics written")
    return 0
