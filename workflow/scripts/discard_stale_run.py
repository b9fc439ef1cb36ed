"""Remove a training run directory whose run was made with other science parameters.

    printf '%s' "$CONFIG_JSON" | python workflow/scripts/discard_stale_run.py RUN_DIR

Why: the train rule's declared output is a marker, not the run directory, so that a pre-empted or
retried job finds its checkpoints and resumes (Snakemake deletes declared outputs before a job
runs).  When Snakemake reruns the job because a training parameter changed, the old checkpoints
must go instead: `deepcollapse train` rightly refuses to resume a run made with other science.
Parameters that only change how a run executes (device, threads, ...: `EXECUTION_FIELDS`) keep it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def science(mapping: dict) -> dict:
    from deepcollapse.config import from_mapping, to_dict
    from deepcollapse.nets.config import EXECUTION_FIELDS, TrainConfig

    resolved = to_dict(from_mapping(TrainConfig, mapping, source="training config"))
    return {k: v for k, v in resolved.items() if k not in EXECUTION_FIELDS}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    meta = run_dir / "run.json"
    if not meta.is_file():
        return 0
    new = science(json.loads(sys.stdin.read()))
    try:
        old = science(json.loads(meta.read_text())["config"])
    except Exception as exc:  # unreadable or from an older package version: start over
        old, why = None, f"unreadable run.json ({type(exc).__name__})"
    else:
        changed = sorted(k for k in set(new) | set(old) if new.get(k) != old.get(k))
        why = "changed: " + ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in changed)
    if old != new:
        print(f"{run_dir}: removing the previous run ({why})", file=sys.stderr)
        shutil.rmtree(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
