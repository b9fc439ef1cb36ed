"""`deepcollapse features`: per-checkpoint features of every ResNet18 stage into one Zarr store."""

from __future__ import annotations

import argparse

from ._options import add_out, add_progress, add_threads

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "extract per-checkpoint features (stage1..stage3 pooled, penultimate = stage4 pooled, W, b, loss, accuracy) of a run into Zarr"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run directory written by `deepcollapse train`")
    add_out(parser, help="output Zarr store, e.g. results/features/NAME.zarr")
    parser.add_argument("--test", action="store_true", help="also extract the test split (test_* variables)")
    parser.add_argument(
        "--test-per-class", type=int, default=None, metavar="N",
        help="with --test, a balanced subset of N test images per class (seeded by the run; no retraining)",
    )
    parser.add_argument("--maps-per-class", type=int, default=0, help="also store unpooled stage maps of this many training samples per class")
    parser.add_argument("--batch-size", type=int, default=512, help="evaluation batch size")
    parser.add_argument("--device", default=None, help="override the run's device (cpu, cuda, ...)")
    add_threads(parser, default="the run's `threads`")
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    from ..nets.features import extract_features
    from ..outputs import reserve

    with reserve(args.out, "features", force=args.force):
        out = extract_features(
            args.run, args.out, test=args.test, maps_per_class=args.maps_per_class, batch_size=args.batch_size,
            test_per_class=args.test_per_class, device=args.device, threads=args.threads, progress=args.progress,
        )
    print(f"{out}: features written")
    return 0
