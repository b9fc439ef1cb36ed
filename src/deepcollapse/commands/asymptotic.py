"""`deepcollapse asymptotic`: the Theorem 5.1 study (fixed noisy features, finite n against the limit)."""

from __future__ import annotations

import argparse

from ._options import add_allow_large, add_out, add_progress

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

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
    add_allow_large(parser)
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    from ..asymptotic import Config, budget, run as run_study, write
    from ..config import from_yaml
    from ..cost import check
    from ..outputs import reserve
    from ..progress import bar

    config = from_yaml(Config, args.config, key=args.key)  # bad input fails here, before any output
    source = ("<stdin>" if args.config == "-" else str(args.config)) + (f" [{args.key}]" if args.key else "")
    check(budget.estimate(config), source=source, allow=args.allow_large)  # before any draw
    with reserve(args.out, "asymptotic", force=args.force):
        with bar(total=len(config.n) * config.seeds, desc="asymptotic", unit="draw", progress=args.progress) as shown:
            ds = run_study(config, progress=shown.update)
        write(ds, args.out, config)
    print(summary(ds, args.out))
    return 0


def summary(ds, out) -> str:
    """One line on success, like `ufm`'s: the cells, the largest n's error against the limit, the fitted rate."""
    import numpy as np

    largest = ds["relative_error"].isel(n=-1)
    noisy = largest.where(ds["sigma"] > 0)
    worst = float(noisy.max()) if bool(np.isfinite(noisy).any()) else float("nan")
    rate = ds["rate_exponent"].where(ds["sigma"] > 0)
    rate_text = f"n^{float(rate.mean()):.2f}" if bool(np.isfinite(rate).any()) else "not fitted (too few n)"
    return (
        f"Theorem 5.1: {ds.sizes['sigma']} sigma x {ds.sizes['n']} n x {ds.sizes['seed']} seeds; at n={int(ds['n'][-1])} "
        f"the classifier is within relative error {worst:.3g} of its limit (sigma > 0), mean fitted rate {rate_text} -> {out}"
    )
