"""One demo-sized run of the whole pipeline, shared by the system tests that check what it made.

The run is the first DVC block of docs/operations.md (the README's guide points there), run as written (`make run`, then commit the lock, add a
remote, push), on a scratch copy of this checkout whose params.yaml and workflow/demo.yaml both hold
the suite's reduced configuration (tests/support/reduced_config.py: every experiment, page and run
kept, each small).  The README journey goes on from it (a fresh clone pulls and analyses); the
end-to-end checks read its pages, figures and metrics.

It runs once per pytest session, also under pytest-xdist (`make test`: two worker processes): the
first worker that asks runs it under a file lock in the session's shared temporary folder and
writes a record; a worker that asks later waits for the lock and reads the record (or the failure).

What the README lines need that a test cannot do literally is replaced, and only that (Shell):
* `make venv` (2 minutes, 6 GB per clone): the test's own environment stands in; `source
  .venv/bin/activate` becomes what it provides (the venv first on PATH, the checkout's src/
  imported, as the editable install does); `make X` reuses that environment (`-o .venv/.installed`);
* the README's placeholders: the remote directory and `<project-url>` (the scratch project), `~`
  (a scratch HOME).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
import yaml

from . import ROOT
from .dvc import ENV
from .pipeline import copy_kernel_cache
from .reduced_config import reduced_params

MARKER = "<!-- tests/system/test_cached_features_journey.py"
VENV_BIN = str(Path(sys.executable).parent)


def readme_blocks(readme: Path = ROOT / "docs" / "operations.md") -> list[list[str]]:
    """The two bash blocks after the marker, as command lines (comments and blank lines dropped)."""
    text = readme.read_text()
    after = text[text.index(MARKER):]
    blocks = re.findall(r"```bash\n(.*?)```", after, flags=re.S)[:2]
    assert len(blocks) == 2, f"{readme.name}: two ```bash blocks expected after the journey marker"
    return [[line.split("  #")[0].strip() for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
            for block in blocks]  # fmt: skip


class Shell:
    """Runs README lines one by one, keeping the working directory and environment between them."""

    def __init__(self, cwd: Path, env: dict[str, str], substitutions: dict[str, str], state: Path):
        self.cwd, self.env, self.substitutions, self.seconds = cwd, env, substitutions, {}
        self.state = state
        state.mkdir(parents=True, exist_ok=True)

    def translate(self, line: str) -> str | None:
        for old, new in self.substitutions.items():
            line = line.replace(old, new)
        if line.startswith("make venv"):  # `make venv && source ...`: the environment stands in
            line = line.partition("&&")[2].strip()
        if line == "source .venv/bin/activate":
            return f'export PATH="{VENV_BIN}:$PATH" PYTHONPATH="$PWD/src"'
        if line.startswith("make "):
            return f"make -o .venv/.installed BIN={VENV_BIN} {line[5:]}"
        return line

    def run(self, line: str, timeout: float = 2400) -> str:  # a loaded 2-core machine: make run took 15 min
        command = self.translate(line)
        # where the line left the shell (cd) and what it exported (activate) carry over to the next
        script = f'set -eo pipefail\n{command}\npwd > "{self.state}/cwd"\nexport -p > "{self.state}/env"'
        start = time.perf_counter()
        # its own process group: on a timeout the whole tree goes (make -> dvc -> snakemake -> jobs)
        proc = subprocess.Popen(["bash", "-c", script], cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            out, _ = proc.communicate()
            raise AssertionError(f"README line timed out after {timeout} s: {line}\n{out[-4000:]}") from None
        self.seconds[line] = time.perf_counter() - start
        assert proc.returncode == 0, f"README line failed ({proc.returncode}) in {self.cwd}: {line}\n{out[-4000:]}"
        self.cwd = Path((self.state / "cwd").read_text().strip())
        self.env = _exported((self.state / "env").read_text())
        return out


def _exported(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        m = re.match(r'declare -x (\w+)(?:="(.*)")?$', line)
        if m and m.group(2) is not None:
            env[m.group(1)] = m.group(2).replace('\\"', '"').replace("\\$", "$").replace("\\\\", "\\")
    return env


def scratch_project(dest: Path, params: dict) -> Path:
    """A git repository holding this checkout's files (committed or not), with `params` as both
    params.yaml and the demo's overrides (workflow/demo.yaml)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file() and not src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    copy_kernel_cache(dest)  # not under git (ignored): the compiled UFM kernel, as a clone's first `make run` leaves it
    for name in ("params.yaml", "workflow/demo.yaml"):
        (dest / name).write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run([sys.executable, "workflow/scripts/dvc_pipelines.py"], cwd=dest, check=True, env=ENV)
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "project"]):
        subprocess.run(cmd, cwd=dest, check=True, env=ENV, capture_output=True)
    return dest


@dataclass
class DemoRun:
    """The scratch project after the README's share block, and what each of its lines printed."""

    origin: Path  # the project: demo/ holds the run's outputs
    home: Path  # the scratch HOME (`~`), empty: the journey clones into it
    substitutions: dict[str, str]  # the README's placeholders, as the share block was run with them
    outputs: dict[str, str]  # README line -> what it printed
    seconds: dict[str, float]  # README line -> wall seconds
    env: dict[str, str]  # the shell's environment after the block (activated)
    cwd: Path  # the shell's folder after the block
    porcelain: str  # `git status --porcelain` of the project right after the block

    @property
    def params(self) -> dict:
        """The configuration the run was made with (the demo's, merged: demo/params.yaml)."""
        return yaml.safe_load((self.origin / "demo/params.yaml").read_text())


def demo_config() -> dict:
    return reduced_params(ROOT / "params.yaml")


def run_share_block(folder: Path) -> DemoRun:
    share, _ = readme_blocks()
    origin = scratch_project(folder / "origin", demo_config())
    home = folder / "home"
    home.mkdir()
    env = dict(ENV, HOME=str(home), PYTHONPATH=str(origin / "src"))
    env.pop("SNAKEMAKE_PROFILE", None)
    substitutions = {"/shared/deepcollapse-dvc": str(folder / "remote"), "<project-url>": str(origin)}
    shell = Shell(origin, env, substitutions, folder / "shell")
    outputs = {line: shell.run(line) for line in share}
    porcelain = subprocess.run(["git", "status", "--porcelain"], cwd=origin, capture_output=True, text=True, check=True).stdout
    return DemoRun(origin, home, substitutions, outputs, shell.seconds, shell.env, shell.cwd, porcelain)


def shared_demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The session's one demo run: made by the first caller of any worker, read by the others."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # xdist: pytest-N/popen-gwK
    folder, record = shared / "demo-run", shared / "demo-run.json"
    with open(shared / "demo-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            try:
                run = run_share_block(folder)
            except BaseException:
                record.write_text(json.dumps({"error": traceback.format_exc()}))
                raise
            record.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(run).items()}))
        fields = json.loads(record.read_text())
    if "error" in fields:
        pytest.fail(f"the shared demo run failed (in another test):\n{fields['error'][-6000:]}", pytrace=False)
    return DemoRun(**{**fields, **{k: Path(fields[k]) for k in ("origin", "home", "cwd")}})
