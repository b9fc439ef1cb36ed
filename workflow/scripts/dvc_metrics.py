"""The few numbers `dvc metrics show` prints: one screen, read from the full results.

    python dvc_metrics.py networks results/summary/networks.json OUT_DIR  # OUT_DIR/<run>.json: a run's final NC values
    python dvc_metrics.py theory results/theory/agreement.json OUT        # the closed-form agreement summary

DVC prints every metric file as one table: a row per file, a column per key (nested keys
flattened, strings included).  A file of runs × keys would make one row of runs × keys columns
(~270 characters for the demo's two runs); one file per network run with the same six keys, plus
four theory numbers, keeps the table under 160 characters for the demo and the paper run
(tests/unit/workflow/test_dvc_metrics.py measures a real `dvc metrics show`).  No string keys: the source of
every number is this stage's dependency in dvc.yaml (recorded with its hash in the lock).

The full tables stay where they are (DVC outputs, pushed and pulled with the rest); these files
only select from them, so they hold no number of their own.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

# metric key -> the summary's key: the penultimate layer's final values (the layer the paper's
# figures follow) and the test accuracy
LAYER = "penultimate"
NETWORK_KEYS = {"NC1": "NC1", "NC2_ETF": "NC2_ETF", "NC2_W_ETF": "NC2_W_ETF", "NC3_ETF": "NC3_ETF", "NC4": "NC4",
                "test_acc": "test_accuracy"}  # fmt: skip
# the agreement table's summary: how many problems agree with their closed form, out of how many,
# how many refute it (GD strictly below the closed-form minimum), and the largest relative gap;
# the other verdicts' counts and every row stay in results/theory/agreement.{json,csv}
THEORY_KEYS = {"agrees": "agrees", "problems": "problems", "GD_below": "GD BELOW closed form",
               "max_gap": "max_abs_objective_rel_gap"}  # fmt: skip


def networks(summary: dict) -> dict[str, dict]:
    """{run: {key: final value of the penultimate layer}}, one metrics file per run."""
    # test_accuracy exists only when the features were computed with `features.test`
    return {run: {key: values[source][LAYER] if isinstance(values[source], dict) else values[source]
                  for key, source in NETWORK_KEYS.items() if source in values}
            for run, values in summary.items()}  # fmt: skip


def theory(agreement: dict) -> dict:
    summary = agreement["summary"]
    return {key: summary[source] for key, source in THEORY_KEYS.items()}


def _dump(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_networks(selected: dict[str, dict], out: Path) -> None:
    """OUT_DIR/<run>.json for every run and nothing else (a run dropped from the parameters leaves
    no stale row), swapped in whole."""
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True)
    for run, values in selected.items():
        (tmp / f"{run}.json").write_text(_dump(values))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def write_theory(selected: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    tmp.write_text(_dump(selected))
    os.replace(tmp, out)


def main(argv) -> int:
    if len(argv) != 3 or argv[0] not in ("networks", "theory"):
        print("usage: dvc_metrics.py networks SUMMARY OUT_DIR | theory AGREEMENT OUT", file=sys.stderr)
        return 2
    kind, source, out = argv
    try:
        data = json.loads(Path(source).read_text())
        selected = {"networks": networks, "theory": theory}[kind](data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"{source}: cannot read the {kind} summary: {exc!r}", file=sys.stderr)
        return 2
    {"networks": write_networks, "theory": write_theory}[kind](selected, Path(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
