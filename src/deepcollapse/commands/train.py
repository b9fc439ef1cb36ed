"""`deepcollapse train`: train ResNet18 with checkpoints; rerunning resumes.

Exit statuses: 0 done (or already complete), 2 bad input or a diverged loss (one line on
stderr; a diverged run that saved no training progress is removed, so that its run.json and
initial checkpoint do not look like a run to resume), 75 pre-empted by SIGTERM/SIGUSR1 after saving a resume checkpoint (rerun to continue;
`deepcollapse.nets.trainer.PREEMPTED_EXIT_STATUS`).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ..errors import EXIT_PREEMPTED, InputError
from ._options import add_allow_large, add_progress

# lazy imports: package modules are imported inside the functions (every `deepcollapse` call imports every command module)

HELP = "train ResNet18 (paper recipe by default) with checkpoints into RUN_DIR; resumes an existing RUN_DIR"
# Not a --dry-run here: what a run costs is `deepcollapse info --cost --config ...`, so that the cost
# model's code is no code dependency of training (a change to it must not rerun the networks).


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP + ". Its cost first: `deepcollapse info --cost --config FILE` (steps, disk, memory)."
    parser.add_argument("--config", required=True, help="YAML/JSON file of TrainConfig fields ('-' reads stdin)")
    parser.add_argument(
        "--key", default=None,
        help="dotted key of the run's fields inside a larger YAML, e.g. networks.train of params.yaml "
        "(the pipeline adds dataset and loss per run; without them the defaults, digits and mse, apply)",
    )
    parser.add_argument("--out", required=True, help="run directory (created, or resumed if it is a deepcollapse run directory)")
    parser.add_argument(
        "--force", action="store_true",
        help="use OUT as the run directory even if it is a non-empty directory deepcollapse did not write (nothing in it is deleted)",
    )
    parser.add_argument("--device", default=None, help="override the config's device (cpu, cuda, cuda:1)")
    parser.add_argument(
        "--threads", type=int, default=None, metavar="N",
        help="override the config's threads: torch's CPU threads, 0 = torch's default (the pipeline passes params.yaml networks.threads)",
    )
    parser.add_argument(
        "--restart-if-changed", action="store_true",
        help="when RUN_DIR holds a run made with other science parameters or data, delete it and start over "
        "(default: refuse; device, threads and other execution settings never count as a change)",
    )
    add_allow_large(parser)
    add_progress(parser)


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
    from ..cost import check
    from ..nets import budget
    from ..nets.config import TrainConfig
    from ..nets.trainer import PREEMPTED_EXIT_STATUS, Preempted, TrainingDiverged, train
    from ..outputs import reserve

    source = "<stdin>" if args.config == "-" else args.config
    mapping = load_yaml(args.config, key=args.key)
    if args.threads is not None and isinstance(mapping, dict):  # checked with the config's own rule
        mapping = {**mapping, "threads": args.threads}
    config = from_mapping(TrainConfig, mapping, source=source if not args.key else f"{source} [{args.key}]")
    if args.device:
        config = dataclasses.replace(config, device=args.device)
    check(budget.estimate(config), source=source if not args.key else f"{source} [{args.key}]", allow=args.allow_large)
    with reserve(args.out, "run", force=args.force):  # one writer per run directory
        try:
            summary = train(config, args.out, progress=args.progress, restart_if_changed=args.restart_if_changed)
        except Preempted as exc:
            print(f"deepcollapse train: {exc}", file=sys.stderr)
            return PREEMPTED_EXIT_STATUS
        except TrainingDiverged as exc:
            raise InputError(f"{exc}; {_after_divergence(Path(args.out))}") from None
    print(f"{args.out}: {summary['epochs']} epochs, final training loss {summary['final_loss']}, accuracy {summary['final_accuracy']}")
    return 0


def _after_divergence(run_dir: Path) -> str:
    """Remove a diverged run's files if it saved no training progress (only run.json and the
    initial checkpoint: a later `train` would resume a run that cannot succeed); say what is left."""
    from ..nets import checkpoint
    from ..rundir import history_path, meta_path

    kept = checkpoint.kept_epochs(run_dir)
    resume = checkpoint.directory(run_dir) / checkpoint.RESUME_NAME
    if resume.exists() or any(epoch > 0 for epoch in kept):
        return f"the checkpoints saved before the divergence are kept in {run_dir}"
    for path in [*kept.values(), meta_path(run_dir), history_path(run_dir)]:
        path.unlink(missing_ok=True)
    for folder in (checkpoint.directory(run_dir), run_dir):
        try:
            folder.rmdir()  # only if empty: files deepcollapse did not write stay
        except OSError:
            pass
    return "nothing was saved"
