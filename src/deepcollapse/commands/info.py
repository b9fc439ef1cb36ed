"""`deepcollapse info`: the provenance record this installation writes into every artifact."""

from __future__ import annotations

import argparse
import json

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "print package versions, git revision and device (the provenance stored in every result)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="device to describe (default: cpu)")


def run(args: argparse.Namespace) -> int:
    from ..devices import resolve
    from ..provenance import collect

    device = resolve(args.device) if args.device is not None else None  # 'tpu', a missing GPU: one line, exit 2
    print(json.dumps(collect(device=args.device if device is not None else None), indent=2))
    return 0
