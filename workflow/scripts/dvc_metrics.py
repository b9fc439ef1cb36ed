"""The few numbers `dvc metrics show` prints: one screen, read from the full results.

    python dvc_metrics.py networks results/summary/networks.json OUT   # final NC of each run's last layer
    python dvc_metrics.py theory results/theory/agreement.json OUT     # the closed-form agreement summary

The full tables stay where they are (DVC outputs, pushed and pulled with the rest); these files
only select from them, so they hold no number of their own.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# The penultimate layer's final values (the layer the paper's figures follow) and the accuracy.
NETWORK_KEYS = ("NC1", "NC2_ETF", "NC2_W_ETF", "NC3_ETF", "NC4", "test_accuracy")
LAYER = "penultimate"


def networks(summary: dict) -> dict:
    out = {}
    for run, values in summary.items():
        out[run] = {key: values[key][LAYER] if isinstance(values[key], dict) else values[key]
                    for key in NETWORK_KEYS if key in values}  # fmt: skip
        out[run]["layer"] = LAYER
    return out


def theory(agreement: dict) -> dict:
    """The numbers of the table's summary (counts per verdict, largest gap) and its tolerance; the
    per-problem rows stay in the table."""
    summary = agreement.get("summary", agreement)
    out = {key: value for key, value in summary.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}
    if isinstance(agreement.get("tolerance"), (int, float)):
        out["tolerance"] = agreement["tolerance"]
    return out


def main(argv) -> int:
    if len(argv) != 3 or argv[0] not in ("networks", "theory"):
        print("usage: dvc_metrics.py networks|theory IN OUT", file=sys.stderr)
        return 2
    kind, source, out = argv
    try:
        data = json.loads(Path(source).read_text())
        selected = {"networks": networks, "theory": theory}[kind](data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"{source}: cannot read the {kind} summary: {exc!r}", file=sys.stderr)
        return 2
    selected["source"] = source  # where every number comes from (strings are not DVC metrics)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{out}.tmp-{os.getpid()}"
    Path(tmp).write_text(json.dumps(selected, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
