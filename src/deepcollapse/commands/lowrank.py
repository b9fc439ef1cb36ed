"""`deepcollapse lowrank`: the low-rank-bias study of the deep UFM (GD against deep neural collapse)."""

from __future__ import annotations

import argparse

from ._options import add_allow_large, add_out, add_progress

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "run the low-rank-bias study of the deep UFM by gradient descent (its page compares it with deep neural collapse)"

EPILOG = """\
The config is the mapping params.yaml keeps under ufm.studies.lowrank: depths, sizes (a list of
{K, n, d}), lambda_ratios (multiples of the deep linear MSE collapse threshold), activations,
losses, seeds, init_scale, lr, iters, log_every, device.
Example:
  deepcollapse lowrank --config params.yaml --key ufm.studies.lowrank --out results/lowrank/study.zarr
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML/JSON study config ('-' reads standard input)")
    parser.add_argument("--key", default=None, help="dotted path of the study inside FILE, e.g. ufm.studies.lowrank")
    add_out(parser, metavar="STUDY.zarr", help="result store (written atomically)")
    add_allow_large(parser)
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..config import load_yaml
    from ..cost import check
    from ..provenance import collect
    from ..outputs import reserve
    from ..progress import wanted
    from ..store import write_dataset
    from ..ufm import lowrank

    source = "<stdin>" if args.config == "-" else str(args.config)
    source += f" [{args.key}]" if args.key else ""
    study = lowrank.Study.from_mapping(load_yaml(args.config, key=args.key), source=source)
    check(lowrank.estimate(study), source=source, allow=args.allow_large)
    with reserve(args.out, "lowrank", force=args.force):
        # one line per batched sweep (a handful of them), on stderr when progress is wanted
        say = (lambda line: print(line, file=sys.stderr, flush=True)) if wanted(args.progress) else None
        ds = lowrank.run(study, progress=say)
        ds.attrs["provenance"] = collect(params=ds.attrs["study"], device=study.device)
        write_dataset(ds, args.out, kind="lowrank")
    # GD's numbers only: the DNC values and reasons are joined on the page (`ufm.lowrank_theory`), so
    # that this command's stage does not depend on the closed forms
    print(f"low-rank study: {int(ds['objective'].size)} GD runs -> {args.out}")
    return 0
