"""Write generated files atomically, or check that they are up to date (the `--check` mode).

Shared by the scripts that generate committed files from one description (dvc_pipelines.py,
config_schema.py): a stale file is named on stderr with the command that regenerates it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def sync(files: dict[Path, str], *, check: bool, root: Path, command: str) -> int:
    """Write each path whose content differs (to a temporary file beside it, then renamed), or,
    with `check`, only name it; 1 when `check` found a stale file, else 0."""
    stale = 0
    for path, text in files.items():
        if path.is_file() and path.read_text() == text:
            continue
        if check:
            print(f"{path.relative_to(root)}: out of date; run {command}", file=sys.stderr)
            stale = 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
    return stale
