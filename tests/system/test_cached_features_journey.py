"""The DVC section of docs/operations.md ("Cached features: DVC remotes"), run as written: share a
demo run through a DVC remote, then a fresh clone elsewhere pulls it, opens a store, runs the example
notebook from the project root, and Snakemake and DVC both find nothing to redo.

The two fenced blocks after the document's marker comment ARE the script: each line runs in bash,
in the folder the previous `cd` left.  What a test cannot do literally is replaced, and only that:
* `make venv` (2 minutes, 6 GB per clone): the test's own environment stands in; `source
  .venv/bin/activate` becomes what it provides (the venv first on PATH, the checkout's src/
  imported, as the editable install does); `make X` reuses that environment (`-o .venv/.installed`);
* the document's placeholders: the remote directory and `<project-url>` (a scratch copy of this
  checkout), `~` (a scratch HOME);
* the demo's size: params.yaml and workflow/demo.yaml both hold the suite's reduced configuration
  (tests/support/reduced_config.py; overrides merge into params.yaml, so they can shrink a section's
  values but not drop its experiments), so the flow is the document's and the run takes minutes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from tests.support.dvc import ENV, files_under
from tests.support.pipeline import ROOT
from tests.support.reduced_config import keep_two_experiments, reduced_params

pytestmark = pytest.mark.slow

MARKER = "<!-- tests/test_cached_features_journey.py"
JOURNEY = ROOT / "docs" / "operations.md"  # the README's guide points there
VENV_BIN = str(Path(sys.executable).parent)
RUN = "digits-mse"


def readme_blocks(document: Path = JOURNEY) -> list[list[str]]:
    """The two bash blocks after the marker, as command lines (comments and blank lines dropped)."""
    text = document.read_text()
    after = text[text.index(MARKER):]
    blocks = re.findall(r"```bash\n(.*?)```", after, flags=re.S)[:2]
    assert len(blocks) == 2, f"{document.name}: two ```bash blocks expected after the journey marker"
    return [[line.split("  #")[0].strip() for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
            for block in blocks]  # fmt: skip


def reduced_demo() -> dict:
    """The demo shrunk like the end-to-end tests: two UFM experiments + the sweeps the report's phase
    diagram needs, short; a tiny network on `digits`."""
    params = reduced_params(ROOT / "params.yaml")
    keep_two_experiments(params)
    params["networks"]["losses"] = ["mse"]
    return params


class Shell:
    """Runs the document's lines one by one, keeping the working directory and environment between them."""

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
            raise AssertionError(f"journey line timed out after {timeout} s: {line}\n{out[-4000:]}") from None
        self.seconds[line] = time.perf_counter() - start
        assert proc.returncode == 0, f"journey line failed ({proc.returncode}) in {self.cwd}: {line}\n{out[-4000:]}"
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


def scratch_project(dest: Path) -> Path:
    """A git repository holding this checkout's files (committed or not), with the reduced demo."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file() and not src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for name in ("params.yaml", "workflow/demo.yaml"):
        (dest / name).write_text(yaml.safe_dump(reduced_demo(), sort_keys=False))
    subprocess.run([sys.executable, "workflow/scripts/dvc_pipelines.py"], cwd=dest, check=True, env=ENV)
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "project"]):
        subprocess.run(cmd, cwd=dest, check=True, env=ENV, capture_output=True)
    return dest


def digests(root: Path) -> dict[str, str]:
    """Content of a store, Snakemake's marker file left out (.dvcignore: DVC neither pushes nor pulls it)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files_under(root)
            if p.name != ".snakemake_timestamp"}  # fmt: skip


def test_readme_dvc_journey_share_clone_pull_analyse(tmp_path):
    share, analyse = readme_blocks()
    origin = scratch_project(tmp_path / "origin")
    home = tmp_path / "home"
    home.mkdir()
    env = dict(ENV, HOME=str(home), PYTHONPATH=str(origin / "src"))
    env.pop("SNAKEMAKE_PROFILE", None)
    substitutions = {"/shared/deepcollapse-dvc": str(tmp_path / "remote"), "<project-url>": str(origin)}
    shell = Shell(origin, env, substitutions, tmp_path / "shell")

    outputs = {}
    for line in share:
        outputs[line] = shell.run(line)
        if line.startswith("git status"):  # after the demo: nothing but the new lock
            assert outputs[line].split("\n")[0:2] == ["?? demo/dvc.lock", ""], outputs[line]
        if line.startswith("dvc status"):
            assert "Data and pipelines are up to date" in outputs[line]
    assert subprocess.run(["git", "status", "--porcelain"], cwd=origin, capture_output=True, text=True).stdout == ""

    # the lock records the parameters the outputs were made with: the demo's, merged
    lock = yaml.safe_load((origin / "demo/dvc.lock").read_text())
    demo = yaml.safe_load((origin / "demo/params.yaml").read_text())
    assert lock["stages"]["ufm"]["params"]["params.yaml"]["ufm"] == demo["ufm"]
    assert lock["stages"]["train"]["params"]["params.yaml"]["networks"]["train"]["epochs"] == reduced_demo()["networks"]["train"]["epochs"]
    assert not (origin / "results").exists() and not (origin / "dvc.lock").exists()  # the paper run's root untouched

    # dvc metrics show fits a screen
    shown = subprocess.run(["dvc", "metrics", "show"], cwd=origin, env=shell.env, capture_output=True, text=True)
    assert shown.returncode == 0 and "NC1" in shown.stdout and len(shown.stdout.splitlines()) < 40, shown.stdout + shown.stderr
    assert max(map(len, shown.stdout.splitlines())) <= 160, shown.stdout  # tests/unit/workflow/test_dvc_metrics.py: the paper run's too

    # dvc plots show renders the figures' data (CSV, DVC's templates), not Snakemake's marker files
    plots = subprocess.run(["dvc", "plots", "show", "demo/dvc.yaml", "-o", str(tmp_path / "plots")], cwd=origin, env=shell.env,
                           capture_output=True, text=True)  # fmt: skip
    assert plots.returncode == 0 and "snakemake_timestamp" not in plots.stdout + plots.stderr, plots.stdout + plots.stderr
    assert (tmp_path / "plots/index.html").is_file()

    analysed = [(line, shell.run(line)) for line in analyse]  # (a line may repeat one of the first block)
    clone = home / "deepcollapse"
    assert shell.cwd == clone
    features = f"demo/results/features/{RUN}.zarr"
    assert digests(clone / features) == digests(origin / features)
    assert "Nothing to be done" in next(out for line, out in analysed if " -n " in line)
    assert analysed[-1][0].startswith("dvc status") and "Data and pipelines are up to date" in analysed[-1][1]

    # a metric recomputed from the pulled store with deepcollapse.metrics equals the stored one
    sys.path.insert(0, str(clone / "src"))
    from deepcollapse import metrics

    store = xr.open_zarr(clone / features)
    stored = xr.open_zarr(clone / f"demo/results/metrics/{RUN}.zarr")
    last = store.isel(epoch=-1)
    nc = metrics.nc(last["penultimate"].values, last["label"].values, W=last["W"].values, b=last["b"].values)
    np.testing.assert_allclose(nc["NC1"], float(stored["NC1"].sel(epoch=int(last["epoch"]), layer="penultimate")), rtol=1e-9)
    executed = json.loads((clone / "demo/reports/cached_features.ipynb").read_text())
    assert not executed["metadata"]["papermill"]["exception"]  # papermill: None when no cell raised

    timings = {key: round(sec, 1) for key, sec in shell.seconds.items() if key.split()[0] in ("make", "dvc", "papermill")}
    print("journey timings (s):", json.dumps(timings, indent=1))
