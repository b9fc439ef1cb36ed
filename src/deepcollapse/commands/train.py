"""`deepcollapse train`: train ResNet18 with checkpoints; rerunning resumes.

Exit statuses: 0 done (or already complete), 2 bad input or a diverged loss (one line on
stderr), 75 pre-empted by SIGTERM/SIGUSR1 after saving a resume checkpoint (rerun to continue;
`deepcollapse.nets.trainer.PREEMPTED_EXIT_STATUS`).
"""

from __future__ import annotations

import argparse
import signal
import sys

from ..errors import EXIT_PREEMPTED

HELP = "train ResNet18 (paper recipe by default) with checkpoints into RUN_DIR; resumes an existing RUN_DIR"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML/JSON file of TrainConfig fields ('-' reads stdin)")
    parser.add_argument("--key", default=None, help="dotted key of the run inside a larger YAML, e.g. networks.runs.mnist_mse")
    parser.add_argument("--out", required=True, help="run directory (created, or resumed if it exists)")
    parser.add_argument("--device", default=None, help="override the config's device (cpu, cuda, cuda:1)")
    parser.add_argument(
        "--restart-if-changed", action="store_true",
        help="when RUN_DIR holds a run made with other science parameters or data, delete it and start over "
        "(default: refuse; device, threads and other execution settings never count as a change)",
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: on a terminal)")


def _preempted_before_training(signum: int, frame) -> None:
    # Until the trainer installs its own handlers (after torch is imported and the data loaded)
    # nothing needs saving: stop at once, with the status that tells a scheduler to rerun.
    print(f"deepcollapse train: {signal.Signals(signum).name} before training started; nothing to save", file=sys.stderr)
    raise SystemExit(EXIT_PREEMPTED)


def run(args: argparse.Namespace) -> int:
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, _preempted_before_training)

    import dataclasses

    from ..config import from_mapping, load_yaml
    from ..nets.config import TrainConfig
    from ..nets.trainer import PREEMPTED_EXIT_STATUS, Preempted, train

    source = "<stdin>" if args.config == "-" else args.config
    mapping = load_yaml(args.config, key=args.key)
    config = from_mapping(TrainConfig, mapping, source=source if not args.key else f"{source} [{args.key}]")
    if args.device:
        config = dataclasses.replace(config, device=args.device)
    try:
        summary = train(config, args.out, progress=args.progress, restart_if_changed=args.restart_if_changed)
    except Preempted as exc:
        print(f"deepcollapse train: {exc}", file=sys.stderr)
        return PREEMPTED_EXIT_STATUS
    print(f"{args.out}: {summary['epochs']} epochs, final training loss {summary['final_loss']}, accuracy {summary['final_accuracy']}")
    return 0
