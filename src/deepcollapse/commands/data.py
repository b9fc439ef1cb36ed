"""`deepcollapse data`: fetch, verify and convert a dataset once into a uint8 array store."""

from __future__ import annotations

import argparse

from ._options import add_out

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "fetch/verify a dataset (digits, mnist, fashion-mnist, cifar10) and convert it to a uint8 Zarr store"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="digits | mnist | fashion-mnist | cifar10")
    parser.add_argument(
        "--root", default=None,
        help="local directory holding the standard files (flat, e.g. /usr/share/datasets/fashion-mnist, or "
        "torchvision's layout); without it, torchvision downloads them (MD5-checked) into a temporary folder",
    )
    parser.add_argument("--no-download", action="store_true", help="never use the network")
    parser.add_argument("--no-verify", action="store_true", help="accept files whose checksum is unknown (recorded as unverified)")
    parser.add_argument("--train-per-class", type=int, default=None, help="balanced subsample of the training split")
    parser.add_argument("--test-per-class", type=int, default=None, help="balanced subsample of the test split")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subsample")
    add_out(parser, help="output store, e.g. data/fashion-mnist.zarr")


def run(args: argparse.Namespace) -> int:
    from .. import data
    from ..outputs import reserve
    from ..provenance import collect

    with reserve(args.out, "data", force=args.force):
        images = data.convert(
            args.dataset, root=args.root, download=not args.no_download, verify=not args.no_verify,
            train_per_class=args.train_per_class, test_per_class=args.test_per_class, seed=args.seed,
            names=("--train-per-class", "--test-per-class"),
        )
        params = {k: v for k, v in vars(args).items() if not k.startswith("_")}
        data.write(images, args.out, provenance=collect(params=params, seed=args.seed))
    sizes = ", ".join(f"{s} {len(images.labels[s])}" for s in ("train", "test"))
    print(f"{args.out}: {images.name} ({sizes} images, sha256 {images.content_hash[:12]})")
    return 0
