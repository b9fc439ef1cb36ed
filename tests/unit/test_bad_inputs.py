"""Bad inputs over every subcommand, as a table: each case sets up a folder, runs the command and
checks the contract of DESIGN.md "Stored artifacts" and docs/outputs.md's "Outputs are safe":

* exit status 0 or 2 (the expected one per case), at most one line on stderr, never a traceback;
* every file that existed before and is not the output is untouched (hashed before and after),
  the shared artifacts included; a refused or failed command leaves nothing new behind (no
  partial output, no temporary or lock file).

Append a case when a new bad input is found.  The artifacts are built once (`tiny_artifacts`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from deepcollapse import rundir
from deepcollapse.config import from_mapping
from deepcollapse.constraints import Interval, OrNone, declarations
from deepcollapse.errors import InputError
from deepcollapse.nets.config import TrainConfig
from deepcollapse.outputs import MARKER, artifact_kind, claim
from tests.support.tiny_artifacts import TRAIN, UFM, build, chunk_files, cli, copy, json_file, tree_hashes


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    return build(tmp_path_factory.mktemp("shared"))


# a valid, tiny low-rank study (its output is refused before any GD runs)
LOWRANK = {"depths": [2], "sizes": [{"K": 3, "n": 2, "d": 4}], "lambda_ratios": [0.5], "activations": ["linear"],
           "losses": ["mse"], "seeds": [0], "iters": 10, "log_every": 5}
# a valid, tiny study at the papers' settings (refused before any GD runs)
PAPERS = {"s": {"depths": [2], "Ks": [3], "n": 2, "widths": [4], "lambdas": [0.01], "seeds": [0], "iters": 10, "log_every": 5}}


@dataclass
class Case:
    id: str
    argv: Callable[[dict, Path], list]  # (artifacts, case folder) -> argv
    exit: int
    setup: Callable[[dict, Path], None] = lambda art, d: None
    out: str | None = None  # the output path relative to the case folder (may change on exit 0)
    says: str = ""  # a word the error line must contain (the file, key or value at fault)
    extra: list[str] = field(default_factory=list)  # other paths the command may write (exit 0)


def _write(d: Path, name: str, text: str) -> Path:
    (d / name).parent.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)
    return d / name


def _foreign_dir(d: Path, name: str) -> None:
    _write(d, f"{name}/README", "my notes\n")
    _write(d, f"{name}/other-run.zarr/zarr.json", json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))


def _train_yaml(d: Path, **changes) -> Path:
    return _write(d, "train.yaml", yaml.safe_dump({**TRAIN, **changes}))


def _damage_chunk(store: Path, array: str, how: str) -> None:
    chunk = chunk_files(store, array)[-1]
    data = bytearray(chunk.read_bytes())
    if how == "truncate":
        chunk.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "delete":
        chunk.unlink()
    else:  # overwrite bytes in the middle: every chunk carries a CRC32C (store.to_zarr)
        at = len(data) // 2
        data[at - 4: at + 4] = bytes(255 - b for b in data[at - 4: at + 4])
        chunk.write_bytes(bytes(data))


def _copy_as(name: str, as_: str):
    return lambda art, d: copy(art[name], d / as_)


def _then(*steps):
    def setup(art, d):
        for step in steps:
            step(art, d)
    return setup


CASES = [
    # ------------------------------------------------------------------ data loss (issue 14)
    Case("metrics-out-folder-of-other-stores", lambda a, d: ["metrics", "--features", a["features.zarr"], "--out", d / "mets"], 2,
         lambda a, d: _foreign_dir(d, "mets"), says="mets"),
    Case("features-out-the-run-directory", lambda a, d: ["features", "--run", d / "run", "--out", d / "run"], 2,
         _copy_as("run", "run"), says="training run directory"),
    Case("ufm-out-foreign-directory", lambda a, d: ["ufm", "--config", a["ufm.yaml"], "--out", d / "out"], 2,
         lambda a, d: _foreign_dir(d, "out"), says="did not write"),
    Case("ufm-out-regular-file", lambda a, d: ["ufm", "--config", a["ufm.yaml"], "--out", d / "f"], 2,
         lambda a, d: _write(d, "f", "x"), says="regular file"),
    Case("lowrank-out-foreign-directory", lambda a, d: ["lowrank", "--config", d / "lowrank.yaml", "--out", d / "out"], 2,
         lambda a, d: (_foreign_dir(d, "out"), _write(d, "lowrank.yaml", yaml.safe_dump(LOWRANK))), says="did not write"),
    Case("lowrank-config-a-ufm-experiment", lambda a, d: ["lowrank", "--config", a["ufm.yaml"], "--out", d / "s.zarr"], 2,
         says="ufm.yaml"),
    Case("papers-out-foreign-directory", lambda a, d: ["papers", "--config", d / "papers.yaml", "--out", d / "out"], 2,
         lambda a, d: (_foreign_dir(d, "out"), _write(d, "papers.yaml", yaml.safe_dump(PAPERS))), says="did not write"),
    Case("papers-config-a-ufm-experiment", lambda a, d: ["papers", "--config", a["ufm.yaml"], "--out", d / "p.zarr"], 2,
         says="ufm.yaml"),
    Case("theorem1-out-regular-file", lambda a, d: ["theorem1", "--config", d / "t1.yaml", "--out", d / "f"], 2,
         lambda a, d: (_write(d, "f", "x"), _write(d, "t1.yaml", "Ks: [4]\ndepths: [2]\nk_rho: [0.3]\n")), says="regular file"),
    Case("theorem1-config-a-ufm-experiment", lambda a, d: ["theorem1", "--config", a["ufm.yaml"], "--out", d / "m.json"], 2,
         says="ufm.yaml"),
    Case("data-out-regular-file", lambda a, d: ["data", "--dataset", "digits", "--train-per-class", "2", "--out", d / "f"], 2,
         lambda a, d: _write(d, "f", "x"), says="regular file"),
    Case("features-out-regular-file", lambda a, d: ["features", "--run", a["run"], "--out", d / "f"], 2,
         lambda a, d: _write(d, "f", "x"), says="regular file"),
    Case("metrics-out-regular-file", lambda a, d: ["metrics", "--features", a["features.zarr"], "--out", d / "f"], 2,
         lambda a, d: _write(d, "f", "x"), says="regular file"),
    Case("asymptotic-out-regular-file", lambda a, d: ["asymptotic", "--config", a["asymptotic.yaml"], "--out", d / "f"], 2,
         lambda a, d: _write(d, "f", "x"), says="regular file"),
    Case("train-out-foreign-folder", lambda a, d: ["train", "--config", a["train.yaml"], "--out", d / "mine", "--no-progress"], 2,
         lambda a, d: _foreign_dir(d, "mine"), says="did not write"),
    Case("train-out-regular-file", lambda a, d: ["train", "--config", a["train.yaml"], "--out", d / "f", "--no-progress"], 2,
         lambda a, d: _write(d, "f", "x"), says="regular file"),
    Case("train-out-a-zarr-store", lambda a, d: ["train", "--config", a["train.yaml"], "--out", d / "u.zarr", "--no-progress"], 2,
         _copy_as("ufm.zarr", "u.zarr"), says="ufm"),
    Case("ufm-out-dot", lambda a, d: ["ufm", "--config", a["ufm.yaml"], "--out", "."], 2, says="current directory"),
    Case("ufm-out-parent-of-cwd", lambda a, d: ["ufm", "--config", a["ufm.yaml"], "--out", ".."], 2, says="current directory"),
    Case("ufm-out-below-regular-file", lambda a, d: ["ufm", "--config", a["ufm.yaml"], "--out", d / "f" / "u.zarr"], 2,
         lambda a, d: _write(d, "f", "x"), says="regular file"),
    Case("theory-out-below-regular-file", lambda a, d: ["theory", "--runs", a["ufm.zarr"], "--out", d / "f" / "t.json"], 2,
         lambda a, d: _write(d, "f", "x"), says="regular file"),
    Case("metrics-out-a-features-store", lambda a, d: ["metrics", "--features", a["features.zarr"], "--out", d / "f.zarr"], 2,
         _copy_as("features.zarr", "f.zarr"), says="features"),
    Case("ufm-out-an-asymptotic-store-by-name", lambda a, d: ["ufm", "--config", a["ufm.yaml"], "--out", d / "m.zarr"], 2,
         _copy_as("metrics.zarr", "m.zarr"), says="metrics"),
    Case("theory-out-foreign-json", lambda a, d: ["theory", "--runs", a["ufm.zarr"], "--out", d / "notes.json"], 2,
         lambda a, d: _write(d, "notes.json", '{"mine": 1}'), says="notes.json"),
    Case("theory-csv-foreign-file", lambda a, d: ["theory", "--runs", a["ufm.zarr"], "--out", d / "t.json", "--csv", d / "README"], 2,
         lambda a, d: _write(d, "README", "hello\n"), says="README"),
    Case("summary-out-foreign-file", lambda a, d: ["report", "summary", "--store", f"m={a['metrics.zarr']}", "--out", d / "s.json"], 2,
         lambda a, d: _write(d, "s.json", "[1, 2]"), says="s.json"),
    Case("index-out-a-directory", lambda a, d: ["report", "index", "--pages", d / "p.html", "--out", d / "idx"], 2,
         lambda a, d: (_write(d, "p.html", "<h1>x</h1>"), _write(d, "idx/a", "1")), says="idx"),
    # replacing our own artifact of the same kind, or anything with --force: allowed
    Case("ufm-out-own-ufm-store", lambda a, d: ["ufm", "--config", a["ufm.yaml"], "--out", d / "u.zarr"], 0,
         _copy_as("ufm.zarr", "u.zarr"), out="u.zarr"),
    Case("ufm-out-empty-directory", lambda a, d: ["ufm", "--config", a["ufm.yaml"], "--out", d / "empty"], 0,
         lambda a, d: (d / "empty").mkdir(), out="empty"),
    Case("ufm-force-over-foreign-directory", lambda a, d: ["ufm", "--config", a["ufm.yaml"], "--out", d / "out", "--force"], 0,
         lambda a, d: _foreign_dir(d, "out"), out="out"),
    Case("summary-out-own-summary", lambda a, d: ["report", "summary", "--store", f"m={a['metrics.zarr']}", "--out", d / "s.json"], 0,
         lambda a, d: _write(d, "s.json", '{"old": {"NC1": 1.0}}'), out="s.json"),
    Case("theory-out-own-table", lambda a, d: ["theory", "--runs", a["ufm.zarr"], "--out", d / "t.json"], 0,
         _copy_as("theory.json", "t.json"), out="t.json"),
    Case("metrics-out-own-metrics-store", lambda a, d: ["metrics", "--features", a["features.zarr"], "--out", d / "m.zarr", "--no-progress"], 0,
         _copy_as("metrics.zarr", "m.zarr"), out="m.zarr"),
    Case("train-resumes-own-complete-run", lambda a, d: ["train", "--config", a["train.yaml"], "--out", d / "run", "--no-progress"], 0,
         _copy_as("run", "run"), out="run"),
    # ------------------------------------------------------------------ damaged inputs
    Case("metrics-of-overwritten-chunk", lambda a, d: ["metrics", "--features", d / "f.zarr", "--out", d / "m.zarr"], 2,
         _then(_copy_as("features.zarr", "f.zarr"), lambda a, d: _damage_chunk(d / "f.zarr", "stage2", "overwrite")), says="stage2"),
    Case("metrics-of-truncated-shard", lambda a, d: ["metrics", "--features", d / "f.zarr", "--out", d / "m.zarr"], 2,
         _then(_copy_as("features.zarr", "f.zarr"), lambda a, d: _damage_chunk(d / "f.zarr", "penultimate", "truncate")), says="penultimate"),
    Case("metrics-of-deleted-shard", lambda a, d: ["metrics", "--features", d / "f.zarr", "--out", d / "m.zarr"], 2,
         _then(_copy_as("features.zarr", "f.zarr"), lambda a, d: _damage_chunk(d / "f.zarr", "stage3", "delete")), says="stage3"),
    Case("summary-of-truncated-store", lambda a, d: ["report", "summary", "--store", f"m={d / 'm.zarr'}", "--out", d / "s.json"], 2,
         _then(_copy_as("metrics.zarr", "m.zarr"), lambda a, d: _damage_chunk(d / "m.zarr", "NC1", "truncate")), says="NC1"),
    Case("summary-of-deleted-chunk", lambda a, d: ["report", "summary", "--store", f"m={d / 'm.zarr'}", "--out", d / "s.json"], 2,
         _then(_copy_as("metrics.zarr", "m.zarr"), lambda a, d: _damage_chunk(d / "m.zarr", "accuracy", "delete")), says="accuracy"),
    Case("theory-of-overwritten-chunk", lambda a, d: ["theory", "--runs", d / "u.zarr", "--out", d / "t.json"], 2,
         _then(_copy_as("ufm.zarr", "u.zarr"), lambda a, d: _damage_chunk(d / "u.zarr", "objective", "overwrite")), says="objective"),
    Case("train-from-damaged-data-store", lambda a, d: ["train", "--config", d / "train.yaml", "--out", d / "run", "--no-progress"], 2,
         _then(_copy_as("data.zarr", "data.zarr"), lambda a, d: _damage_chunk(d / "data.zarr", "train_image", "overwrite"),
               lambda a, d: _train_yaml(d, data=str(d / "data.zarr"), train_per_class=None, test_per_class=None)), says="train_image"),
    Case("metrics-of-a-regular-file", lambda a, d: ["metrics", "--features", d / "f", "--out", d / "m.zarr"], 2,
         lambda a, d: _write(d, "f", "x"), says="not a Zarr store"),
    Case("metrics-of-missing-store", lambda a, d: ["metrics", "--features", d / "none.zarr", "--out", d / "m.zarr"], 2, says="none.zarr"),
    Case("features-checkpoint-of-another-width", lambda a, d: ["features", "--run", d / "run", "--out", d / "f.zarr"], 2,
         _then(_copy_as("run", "run"), lambda a, d: _set_run_json(d / "run", width=0.125)), says="epoch-0000.pt"),
    Case("features-run-json-a-list", lambda a, d: ["features", "--run", d / "run", "--out", d / "f.zarr"], 2,
         _then(_copy_as("run", "run"), lambda a, d: json_file(rundir.meta_path(d / "run"), [1, 2])), says=rundir.META),
    Case("features-run-json-config-a-number", lambda a, d: ["features", "--run", d / "run", "--out", d / "f.zarr"], 2,
         _then(_copy_as("run", "run"), lambda a, d: json_file(rundir.meta_path(d / "run"), {"config": 1, "data": {}})), says=rundir.META),
    Case("features-of-missing-run", lambda a, d: ["features", "--run", d / "none", "--out", d / "f.zarr"], 2, says="none"),
    # ------------------------------------------------------------------ meaningless values
    Case("data-seed-negative", lambda a, d: ["data", "--dataset", "digits", "--train-per-class", "2", "--seed", "-1", "--out", d / "x.zarr"], 2, says="-1"),
    Case("data-seed-not-a-number", lambda a, d: ["data", "--dataset", "digits", "--seed", "abc", "--out", d / "x.zarr"], 2, says="abc"),
    Case("data-unknown-dataset", lambda a, d: ["data", "--dataset", "nope", "--out", d / "x.zarr"], 2, says="nope"),
    Case("train-batch-size-1", lambda a, d: ["train", "--config", d / "train.yaml", "--out", d / "run"], 2,
         lambda a, d: _train_yaml(d, batch_size=1), says="batch_size"),
    Case("train-width-inf", lambda a, d: ["train", "--config", d / "train.yaml", "--out", d / "run"], 2,
         lambda a, d: _write(d, "train.yaml", yaml.safe_dump(TRAIN).replace("width: 0.0625", "width: .inf")), says="width"),
    Case("train-width-1e-6", lambda a, d: ["train", "--config", d / "train.yaml", "--out", d / "run"], 2,
         lambda a, d: _train_yaml(d, width=1e-6), says="width"),
    Case("train-seed-negative", lambda a, d: ["train", "--config", d / "train.yaml", "--out", d / "run"], 2,
         lambda a, d: _train_yaml(d, seed=-1), says="seed"),
    Case("train-lr-nan", lambda a, d: ["train", "--config", d / "train.yaml", "--out", d / "run"], 2,
         lambda a, d: _write(d, "train.yaml", yaml.safe_dump(TRAIN) + "lr: .nan\n"), says="lr"),
    Case("train-unknown-key", lambda a, d: ["train", "--config", d / "train.yaml", "--out", d / "run"], 2,
         lambda a, d: _train_yaml(d, widht=1), says="widht"),
    Case("train-diverges-and-saves-nothing", lambda a, d: ["train", "--config", d / "train.yaml", "--out", d / "run", "--no-progress"], 2,
         lambda a, d: _train_yaml(d, lr=1e12, momentum=0.0), says="diverged"),
    Case("train-resume-with-run-json-a-list", lambda a, d: ["train", "--config", a["train.yaml"], "--out", d / "run", "--no-progress"], 2,
         _then(_copy_as("run", "run"), lambda a, d: json_file(rundir.meta_path(d / "run"), [1])), says="did not write"),
    Case("ufm-config-not-a-mapping", lambda a, d: ["ufm", "--config", d / "u.yaml", "--out", d / "u.zarr"], 2,
         lambda a, d: _write(d, "u.yaml", "[1, 2]"), says="u.yaml"),
    Case("ufm-unknown-key", lambda a, d: ["ufm", "--config", d / "u.yaml", "--out", d / "u.zarr"], 2,
         lambda a, d: _write(d, "u.yaml", yaml.safe_dump({**UFM, "iter": 3})), says="iter"),
    Case("asymptotic-missing-config", lambda a, d: ["asymptotic", "--config", d / "none.yaml", "--out", d / "a.zarr"], 2, says="none.yaml"),
    Case("theory-of-a-metrics-store", lambda a, d: ["theory", "--runs", a["metrics.zarr"], "--out", d / "t.json"], 2),
    Case("summary-bad-pair", lambda a, d: ["report", "summary", "--store", "nope", "--out", d / "s.json"], 2, says="nope"),
    Case("summary-no-such-dimension", lambda a, d: ["report", "summary", "--store", f"m={a['metrics.zarr']}", "--along", "time", "--out", d / "s.json"], 2, says="time"),
    Case("index-missing-page", lambda a, d: ["report", "index", "--pages", d / "none.html", "--out", d / "i.html"], 2, says="none.html"),
    # ------------------------------------------------------------------ accepted nonsense (issue 23)
    Case("summary-same-name-twice", lambda a, d: ["report", "summary", "--store", f"m={a['metrics.zarr']}", f"m={a['metrics.zarr']}", "--out", d / "s.json"], 2,
         says="given twice"),
    Case("index-links-a-binary-file", lambda a, d: ["report", "index", "--pages", d / "p.html", "--out", d / "i.html"], 2,
         lambda a, d: (d / "p.html").write_bytes(bytes(range(256)) * 4), says="not an HTML page"),
    Case("info-device-tpu", lambda a, d: ["info", "--device", "tpu"], 2, says="tpu"),
    Case("info-device-cuda-99", lambda a, d: ["info", "--device", "cuda:99"], 2, says="cuda:99"),
    Case("asymptotic-rate-fit-above-every-n", lambda a, d: ["asymptotic", "--config", d / "a.yaml", "--out", d / "a.zarr"], 2,
         lambda a, d: _write(d, "a.yaml", yaml.safe_dump({"n": [10, 20], "seeds": 1, "rate_fit_n_min": 100})), says="rate_fit_n_min"),
    Case("metrics-of-nan-W", lambda a, d: ["metrics", "--features", d / "f.zarr", "--out", d / "m.zarr"], 2,
         _then(_copy_as("features.zarr", "f.zarr"), lambda a, d: _set_array(d / "f.zarr", "W", math.inf)), says="f.zarr: layer penultimate at epoch 0: W contains NaN or inf"),
    Case("data-per-class-more-than-a-class-has", lambda a, d: ["data", "--dataset", "digits", "--train-per-class", "100000", "--out", d / "x.zarr"], 2,
         says="--train-per-class"),
    Case("data-per-class-zero", lambda a, d: ["data", "--dataset", "digits", "--test-per-class", "0", "--out", d / "x.zarr"], 2,
         says="--test-per-class"),
    Case("no-subcommand", lambda a, d: [], 2),
    Case("unknown-subcommand", lambda a, d: ["frobnicate"], 2, says="frobnicate"),
]


def _set_array(store: Path, name: str, value) -> None:
    import zarr

    array = zarr.open_array(str(store / name), mode="r+")
    array[...] = value


def _set_run_json(run: Path, **config) -> None:
    meta = json.loads(rundir.meta_path(run).read_text())
    meta["config"].update(config)
    rundir.meta_path(run).write_text(json.dumps(meta))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, art, tmp_path, monkeypatch, capsys):
    d = tmp_path / "case"
    d.mkdir()
    case.setup(art, d)
    monkeypatch.chdir(d)
    shared = Path(art["run"]).parent
    before = tree_hashes(d, shared)
    capsys.readouterr()
    status = cli(case.argv(art, d))
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert status == case.exit, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert len(lines) <= 1, captured.err
    if case.exit == 2:
        assert lines and "error" in lines[0]
        assert case.says in lines[0], lines[0]
    after = tree_hashes(d, shared)
    if case.out is None:
        assert after == before  # nothing changed, nothing left behind
    else:
        out = str(d / case.out)
        outside = lambda paths: {p: h for p, h in paths.items() if p != out and not p.startswith(out + os.sep)}
        assert outside(after) == outside(before)
        assert artifact_kind(d / case.out) is not None


def test_the_table_covers_every_subcommand_with_an_output():
    from deepcollapse.cli import SUBCOMMANDS

    dummy = {k: Path(k) for k in ("run", "features.zarr", "metrics.zarr", "ufm.zarr", "data.zarr", "ufm.yaml", "asymptotic.yaml", "train.yaml", "theory.json")}
    names = {str(argv[0]) for argv in (c.argv(dummy, Path("d")) for c in CASES) if argv}
    assert set(SUBCOMMANDS) <= names
    refused = {str(argv[0]) for c in CASES if c.exit == 2 and "out" in c.id for argv in [c.argv(dummy, Path("d"))] if argv}
    assert set(SUBCOMMANDS) - {"info"} <= refused | {"report"}


# ------------------------------------------------------------------ properties of configs
_values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.integers(-3, 300), max_size=4), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([f.name for f in __import__("dataclasses").fields(TrainConfig)] + ["bogus"]), _values, max_size=4))
def test_any_train_mapping_is_accepted_or_refused_with_one_input_error(mapping):
    try:
        config = from_mapping(TrainConfig, mapping, source="t.yaml")
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("t.yaml")
        return
    for name, constraint in declarations(TrainConfig).items():  # an accepted config is within every constraint
        value = getattr(config, name)
        assert constraint.accepts(value, config), (name, value)


def _interval(constraint):
    return constraint.item if isinstance(constraint, OrNone) else constraint


_BOUNDED = sorted(name for name, c in declarations(TrainConfig).items() if isinstance(_interval(c), Interval))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_BOUNDED), st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**9, 10**9)))
def test_a_bounded_train_field_is_refused_exactly_outside_its_bound(name, value):
    field_type = TrainConfig.__dataclass_fields__[name].type
    if "int" in str(field_type) and isinstance(value, float):
        value = int(value) if math.isfinite(value) else value
    mapping = {name: value, "checkpoints": [0], "epochs": 3} if name != "epochs" else {name: value, "checkpoints": [0]}
    interval = _interval(declarations(TrainConfig)[name])
    try:
        from_mapping(TrainConfig, mapping, source="t.yaml")
    except InputError as exc:
        assert not interval.accepts(value) or "expected" in str(exc) or "checkpoints" in str(exc), (name, value, str(exc))
    else:
        assert interval.accepts(value), (name, value)


def test_declared_bounds_are_introspectable_and_named_in_errors():
    declared = declarations(TrainConfig)
    assert declared["batch_size"].low == 2 and declared["width"].low == 1 / 64 and declared["width"].high == 64
    with pytest.raises(InputError, match=r"t.yaml: width must be a number >= 0.015625 and <= 64, got 1e-06 \(64\*width channels"):
        from_mapping(TrainConfig, {"width": 1e-6}, source="t.yaml")
    with pytest.raises(InputError, match=r"width must be a number >= 0.015625 and <= 64, got inf"):
        from_mapping(TrainConfig, {"width": math.inf})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(k for k in __import__("deepcollapse.outputs", fromlist=["KINDS"]).KINDS)),
       st.sampled_from(["missing", "empty", "file", "foreign", "ufm", "metrics", "run"]), st.booleans())
def test_claim_allows_only_same_kind_or_force(tmp_path_factory, kind, existing, force):
    d = tmp_path_factory.mktemp("claim")
    target = d / "target"
    if existing == "empty":
        target.mkdir()
    elif existing == "file":
        target.write_text("x")
    elif existing == "foreign":
        _foreign_dir(d, "target")
    elif existing in ("ufm", "metrics"):
        _write(d, "target/zarr.json", json.dumps({"node_type": "group", "attributes": {MARKER: existing}}))
    elif existing == "run":
        json_file(rundir.meta_path(target.mkdir() or target), {MARKER: "run", "config": {}, "data": {"content_hash": "x"}})
    from deepcollapse.outputs import KINDS

    allowed = existing == "missing" or force or existing == kind or (existing == "empty" and KINDS[kind] in ("zarr", "run"))
    if allowed:
        assert claim(target, kind, force=force) == target
    else:
        with pytest.raises(InputError, match="target"):
            claim(target, kind, force=force)
