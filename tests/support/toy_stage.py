"""A toy stage, for the tests that add a stage: its command module and its stage-table entry.

Its "science" is a sorted list: the names of the runs it is given, written as a JSON artifact of
its own kind.  tests/unit/test_stages.py registers `TOY` in-process; tests/system/test_stage_added.py
writes `COMMAND` and `TABLE_ENTRY` into a scratch copy of the project.
"""

from deepcollapse.stages import Job, Output, Stage, cli

COMMAND = '''"""`deepcollapse toy`: a stage that only the tests add."""

from __future__ import annotations

import argparse

HELP = "write the toy table: the sorted names of the runs it is given"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    from ..store import write_json

    write_json({"runs": sorted(args.runs)}, args.out, kind="toy-table")
    return 0
'''

# its entry, as written into src/deepcollapse/stages.py (after the table)
TABLE_ENTRY = '''
STAGES["toy"] = Stage(
    "toy", params=("toy",), targets=("toy",),
    jobs=(Job("toy", cli("toy"), {"table": Output("results/toy/table.json", "toy-table")}),),
    inputs=("ufm.store",), tracked=("results/toy",), pages=("toy",),
)
'''

# the same entry as an object, for registering in-process
_table: dict = {}
exec(TABLE_ENTRY, {"STAGES": _table, "Stage": Stage, "Job": Job, "Output": Output, "cli": cli})
TOY: Stage = _table["toy"]
