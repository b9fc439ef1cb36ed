"""`deepcollapse papers`: gradient descent on the deep UFM at the published papers' own settings."""

from __future__ import annotations

import argparse

from ._options import add_allow_large, add_out, add_progress

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "run the deep UFM by gradient descent at the papers' own settings (GK25, SLM24, SML23; the literature page reads it)"

EPILOG = """\
The config is the mapping params.yaml keeps under ufm.studies.papers: setting name -> {paper,
depths, Ks, n, widths, lambdas (absolute, on every parameter), activation, loss, seeds, lr,
init_scale, iters, log_every, device}.
Example:
  deepcollapse papers --config params.yaml --key ufm.studies.papers --out results/papers/runs.zarr
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML/JSON study config ('-' reads standard input)")
    parser.add_argument("--key", default=None, help="dotted path of the study inside FILE, e.g. ufm.studies.papers")
    add_out(parser, metavar="RUNS.zarr", help="result store (written atomically)")
    add_allow_large(parser)
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..config import load_yaml
    from ..cost import check
    from ..outputs import reserve
    from ..progress import wanted
    from ..provenance import collect
    from ..store import write_dataset
    from ..ufm import papers

    source = "<stdin>" if args.config == "-" else str(args.config)
    source += f" [{args.key}]" if args.key else ""
    study = papers.Study.from_mapping(load_yaml(args.config, key=args.key), source=source)
    check(papers.estimate(study), source=source, allow=args.allow_large)
    with reserve(args.out, "papers", force=args.force):
        say = (lambda line: print(line, file=sys.stderr, flush=True)) if wanted(args.progress) else None
        ds = papers.run(study, progress=say)
        devices = sorted({s.device for s in study.settings.values()})
        ds.attrs["provenance"] = collect(params=ds.attrs["study"], device=devices[0] if len(devices) == 1 else ",".join(devices))
        write_dataset(ds, args.out, kind="papers")
    # GD's numbers only: DNC's and SRG's values are joined on the page (`ufm.papers_theory`)
    print(f"papers' settings: {int(ds.sizes['run'])} GD runs -> {args.out}")
    return 0
