"""`deepcollapse theorem1`: the Theorem-1 map of the deep linear CE UFM (the reduced problem against Garrod & Keating's Theorem 1)."""

from __future__ import annotations

import argparse

from ._options import add_out, add_progress

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "map the certified structure of the deep linear CE UFM over (K, L, K rho) against GK25's Theorem 1"

EPILOG = """\
The config is the mapping params.yaml keeps under ufm.studies.theorem1: Ks, depths, k_rho (values
of K rho_L), starts (multi-starts per point), confirm_starts (the second certificate of a point
beyond the theorem), seed.
Example:
  deepcollapse theorem1 --config params.yaml --key ufm.studies.theorem1 --out results/theorem1/map.json
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML/JSON study config ('-' reads standard input)")
    parser.add_argument("--key", default=None, help="dotted path of the study inside FILE, e.g. ufm.studies.theorem1")
    add_out(parser, metavar="MAP.json", help="the map (written atomically)")
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..config import load_yaml
    from ..outputs import reserve
    from ..progress import wanted
    from ..provenance import collect
    from ..store import write_json
    from ..ufm import theorem1

    source = "<stdin>" if args.config == "-" else str(args.config)
    study = theorem1.Study.from_mapping(load_yaml(args.config, key=args.key), source=source + (f" [{args.key}]" if args.key else ""))
    with reserve(args.out, "theorem1", force=args.force):
        say = (lambda line: print(line, file=sys.stderr, flush=True)) if wanted(args.progress) else None
        document = theorem1.run(study, progress=say)
        document["provenance"] = collect(params=document["study"], device="cpu")
        write_json(document, args.out, kind="theorem1")
    counts = ", ".join(f"{n} {relation}" for relation, n in document["counts"].items())
    print(f"Theorem-1 map: {len(document['rows'])} points ({counts}) -> {args.out}")
    return 0
