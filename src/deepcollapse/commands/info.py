"""`deepcollapse info`: the provenance record this installation writes into every artifact, or
(`--cost`) what a network run will cost before it is paid.

The cost is here, not a `train --dry-run`: the train command's imports are training's code
dependencies (workflow/scripts/code_deps.py), and a change to the cost model must not rerun the
networks."""

from __future__ import annotations

import argparse
import json

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "print package versions, git revision and device (the provenance stored in every result); --cost: a run's estimated cost"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="device to describe (default: cpu)")
    parser.add_argument(
        "--cost", action="store_true",
        help="with --config: the training run's estimated steps, disk for checkpoints and features, and memory "
        "(from the config alone: nothing is read or trained)",
    )
    parser.add_argument("--config", default=None, help="with --cost: YAML/JSON file of `deepcollapse train` fields ('-' reads stdin)")
    parser.add_argument("--key", default=None, help="with --cost: dotted key of the run's fields inside a larger YAML, e.g. networks.train")


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError

    if args.cost != (args.config is not None) or (args.key and not args.cost):
        raise InputError("--cost and --config go together, --key only with them (the cost of the run that --config describes)")
    if args.cost:
        from ..config import from_mapping, load_yaml
        from ..nets.config import TrainConfig
        from ..nets.cost import describe, estimate

        source = "<stdin>" if args.config == "-" else args.config
        mapping = load_yaml(args.config, key=args.key)
        config = from_mapping(TrainConfig, mapping, source=source if not args.key else f"{source} [{args.key}]")
        print(describe(estimate(config), config))
        return 0

    from ..devices import resolve
    from ..provenance import collect

    device = resolve(args.device) if args.device is not None else None  # 'tpu', a missing GPU: one line, exit 2
    print(json.dumps(collect(device=args.device if device is not None else None), indent=2))
    return 0
