"""`deepcollapse ufm`: one UFM experiment (or a sweep of them) by gradient descent, stored as Zarr."""

from __future__ import annotations

import argparse

from ._options import add_allow_large, add_out, add_progress

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "solve a UFM experiment (or a sweep) by gradient descent; store what GD produced (`deepcollapse theory` compares it with the closed form)"

EPILOG = """\
The config is a mapping of ufm.Config fields (model: plain | extended | deep, activation, bias,
loss, K, n, depth, d, d1, d2, lambda_*, lr, iters, log_every, log_spaced, init_scale,
init_scale_features, seed, reinit_dead, dtype, device); deep: d and lambda_W one value or a list
per layer.  A run that diverges (non-finite parameters or objective) exits 2 naming the iteration.
An optional `sweep:` entry solves a grid of configs as one batch, one result dimension per entry:
  sweep:
    seed: [0, 1, 2]                                   # dimension "seed"
    lambda: {fields: [lambda_W, lambda_H], values: [0.005, 0.02, 0.05]}
Examples:
  deepcollapse ufm --config params.yaml --key ufm.experiments.fig2a --out results/ufm/fig2a.zarr
  echo '{"model": "plain", "iters": 20000}' | deepcollapse ufm --config - --out run.zarr
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML/JSON config ('-' reads standard input)")
    parser.add_argument("--key", default=None, help="dotted path of the config inside FILE, e.g. ufm.experiments.fig2a")
    add_out(parser, metavar="RESULT.zarr", help="result store (written atomically)")
    add_allow_large(parser)
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    from ..config import load_yaml
    from ..cost import check
    from ..outputs import reserve
    from ..progress import bar
    from ..store import write_dataset
    from ..ufm import batched, budget, solve, solve_sweep

    source = "<stdin>" if args.config == "-" else str(args.config)
    if args.key:
        source += f" [{args.key}]"
    config, sweep = batched.from_mapping(load_yaml(args.config, key=args.key), source=source)
    check(budget.estimate(config, sweep.size if sweep else 1), source=source, allow=args.allow_large)  # before any allocation
    with reserve(args.out, "ufm", force=args.force):
        with bar(total=config.iters, desc=f"ufm {config.model}", unit="it", progress=args.progress) as shown:
            def progress(t: int) -> None:
                shown.update(t - shown.n)

            ds = solve(config, progress=progress) if sweep is None else solve_sweep(config, sweep, progress=progress)
            shown.update(config.iters - shown.n)
        write_dataset(ds, args.out, kind="ufm")
    print(_summary(ds, args.out))
    return 0


def _summary(ds, out) -> str:
    """One line: the run and its final objective(s).  No closed form: that is `deepcollapse theory`'s
    job, so that this command (hours of GD in the pipeline) never depends on the theory's code."""
    import numpy as np

    final = np.atleast_1d(ds["objective"].isel(iteration=-1).values).ravel()
    head = f"{ds.attrs['description'].split(':')[0]}, {int(ds['iteration'][-1])} iterations in {ds.attrs['runtime_s']:.1f} s"
    if final.size == 1:
        return f"{head}: objective {float(final[0]):.12g} -> {out}"
    return f"{head}: {final.size} problems, final objectives {float(final.min()):.6g} to {float(final.max()):.6g} -> {out}"
