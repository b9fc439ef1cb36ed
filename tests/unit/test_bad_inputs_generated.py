"""Bad inputs generated from what the package declares, not listed by hand (the hand-written table
of found cases is tests/unit/test_bad_inputs.py; the contract is the same):

* every invalid value of every declared constraint (`constraints.Constraint.invalid_values`) of
  every configuration a command reads (ufm per model, lowrank, asymptotic, train);
* every way the one config reader (`config.load_yaml`) refuses a file, for every such command;
* every key a cost estimate grows with (`cost.Estimate.keys`), set absurdly large;
* `--out` through a symbolic link for each output format (store, JSON, HTML), and outputs that share a path.

Each refusal: exit 2, one line naming the file (and the key, where there is one), no traceback,
nothing written or left behind (no output, temporary or lock file), in well under a second of
checking (an absurd size is refused before anything is allocated).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import yaml

from deepcollapse import config as config_reader
from deepcollapse.asymptotic import Config as AsymptoticConfig, budget as asymptotic_budget
from deepcollapse.asymptotic.configs import ExtendedConfig
from deepcollapse.constraints import declarations
from deepcollapse.nets import budget as train_budget
from deepcollapse.nets.config import TrainConfig
from deepcollapse.outputs import artifact_kind
from deepcollapse.ufm import budget as ufm_budget, models
from deepcollapse.ufm.config import Config as UfmConfig
from deepcollapse.ufm.lowrank import Study, estimate as lowrank_estimate
from deepcollapse.ufm import papers
from tests.support.tiny_artifacts import ASYMPTOTIC, TRAIN, UFM, build, cli, copy, tree_hashes

LOWRANK = {"depths": [2], "sizes": [{"K": 3, "n": 2, "d": 4}], "lambda_ratios": [0.5], "activations": ["linear"],
           "losses": ["mse"], "seeds": [0], "iters": 10, "log_every": 5}
#: command -> (its base config, a valid and tiny one)
PAPERS = {"s": {"depths": [2], "Ks": [3], "n": 2, "widths": [4], "lambdas": [0.01], "seeds": [0], "iters": 10, "log_every": 5}}
BASES = {"ufm": UFM, "lowrank": LOWRANK, "asymptotic": ASYMPTOTIC, "train": {**TRAIN, "epochs": 1}, "papers": PAPERS}


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    return build(tmp_path_factory.mktemp("shared"))


def _argv(command: str, config: Path, d: Path) -> list:
    out = d / ("run" if command == "train" else f"{command}.zarr")
    return [command, "--config", config, "--out", out, *(["--no-progress"] if command != "asymptotic" else [])]


def _refused(argv, d: Path, capsys, *names: str) -> str:
    """Run `argv` in folder `d`: exit 2, one line naming every one of `names`, nothing left in `d` but what was there."""
    before = tree_hashes(d)
    capsys.readouterr()
    status = cli(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert status == 2, captured.err
    assert "Traceback" not in captured.err + captured.out and len(lines) == 1, captured.err
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert tree_hashes(d) == before  # no output, no temporary or lock file
    return lines[0]


# ------------------------------------------------------------------ every invalid declared value
def _ufm_fields() -> list[tuple[str, dict, str, object]]:
    """(model, base, field, invalid value) for every model's fields and the common ones."""
    out = []
    for name in models.names():
        fields = models.get(name).fields
        base = {**{k: v for k, v in UFM.items() if k in fields or k not in models.model_fields()}, "model": name,
                **({"depth": 2} if "depth" in fields else {})}
        declared = {**declarations(UfmConfig), **models.get(name).parameter_constraints}
        for field, constraint in declared.items():
            for value in constraint.invalid_values():
                out.append((name, base, field, value))
    return out


def _flat_fields(cls, base: dict, prefix: str = "") -> list[tuple[dict, str, object]]:
    out = []
    for field, constraint in declarations(cls).items():
        for value in constraint.invalid_values():
            out.append((base, prefix + field, value))
    return out


GENERATED = (
    [("ufm", base, field, value) for _, base, field, value in _ufm_fields()]
    + [("lowrank", LOWRANK, field, value) for _, field, value in _flat_fields(Study, LOWRANK)]
    + [("asymptotic", ASYMPTOTIC, field, value) for _, field, value in _flat_fields(AsymptoticConfig, ASYMPTOTIC) if field != "extended"]
    + [("asymptotic", ASYMPTOTIC, field, value) for _, field, value in _flat_fields(ExtendedConfig, ASYMPTOTIC, "extended.") if field != "extended.enabled"]
    + [("train", BASES["train"], field, value) for _, field, value in _flat_fields(TrainConfig, BASES["train"])]
    + [("papers", PAPERS, field, value) for _, field, value in _flat_fields(papers.Setting, PAPERS, "s.")]
)


def _with(base: dict, dotted: str, value) -> dict:
    mapping = json.loads(json.dumps(base))
    node = mapping
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return mapping


@pytest.mark.parametrize(("command", "base", "field", "value"), GENERATED,
                         ids=[f"{c}-{b.get('model', '')}-{f}-{v!r}"[:80] for c, b, f, v in GENERATED])
def test_every_invalid_declared_value_is_one_line_naming_file_and_key(command, base, field, value, tmp_path, monkeypatch, capsys):
    d = tmp_path / "case"
    d.mkdir()
    monkeypatch.chdir(d)
    path = d / "c.yaml"
    path.write_text(yaml.safe_dump(_with(base, field, value)))
    _refused(_argv(command, path, d), d, capsys, "c.yaml", field.split(".")[-1])


def test_the_generated_table_reaches_every_configuration_and_model():
    commands = {c for c, *_ in GENERATED}
    assert commands == set(BASES)
    assert {b.get("model") for c, b, *_ in GENERATED if c == "ufm"} == set(models.names())
    assert len(GENERATED) > 300


# ------------------------------------------------------------------ the one config reader
def _bomb(key: str) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + f"\n{key}: *a8\n"


READER = {
    "empty": (lambda base: b"", "empty document"),
    "only-a-comment": (lambda base: b"# nothing\n", "not a mapping"),
    "a-list": (lambda base: b"- 1\n- 2\n", "not a mapping"),
    "a-scalar": (lambda base: b"42\n", "not a mapping"),
    "utf-16": (lambda base: yaml.safe_dump(base).encode("utf-16"), "not UTF-8"),
    "latin-1": (lambda base: "# caf\xe9\n".encode("latin-1") + yaml.safe_dump(base).encode(), "not UTF-8"),
    "too-large": (lambda base: b"#" * (config_reader.MAX_CONFIG_BYTES + 1), "larger than"),
    "duplicate-key": (lambda base: (yaml.safe_dump(base) + f"{next(iter(base))}: 1\n").encode(), "duplicate key"),
    "alias-bomb": (lambda base: _bomb(next(iter(base))).encode(), "aliases expand"),
    "recursive-alias": (lambda base: b"a: &a [*a]\n", "aliases expand"),
    "invalid-yaml": (lambda base: b"a: [1, 2\n", "invalid YAML"),
    "deep-nesting": (lambda base: b"a: " + b"[" * 300 + b"]" * 300 + b"\n", ""),
    # the first key's value: 5,000 numbers (~30 kB), far past errors.QUOTE_LIMIT, written without PyYAML's
    # pure-Python emitter (100,000 of them cost ~15 CPU-s per command to write and parse, for the same check)
    "huge-value-quoted-short": (lambda base: _huge_first_value(base, 5000), ""),
}


def _huge_first_value(base: dict, n: int) -> bytes:
    first = next(iter(base))
    rest = {key: value for key, value in base.items() if key != first}
    return f"{first}: [{', '.join(map(str, range(n)))}]\n".encode() + yaml.safe_dump(rest).encode()


@pytest.mark.parametrize("command", sorted(BASES))
@pytest.mark.parametrize("kind", sorted(READER))
def test_the_config_reader_refuses_each_malformed_file_in_one_line(command, kind, tmp_path, monkeypatch, capsys):
    d = tmp_path / "case"
    d.mkdir()
    monkeypatch.chdir(d)
    make, says = READER[kind]
    path = d / "c.yaml"
    path.write_bytes(make(BASES[command]))
    line = _refused(_argv(command, path, d), d, capsys, "c.yaml", says)
    assert len(line) < 400  # a value is quoted only up to a bounded length (errors.QUOTE_LIMIT)


@pytest.mark.parametrize("command", sorted(BASES))
def test_config_dev_zero_is_refused(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _refused(_argv(command, Path("/dev/zero"), tmp_path), tmp_path, capsys, "/dev/zero", "larger than")


def test_a_merge_key_may_override_but_a_key_written_twice_may_not():
    assert config_reader.parse_yaml("b: &b {K: 3, n: 2}\nc:\n  <<: *b\n  K: 4\n")["c"] == {"K": 4, "n": 2}
    with pytest.raises(Exception, match="duplicate key 'K' at line 2"):
        config_reader.parse_yaml("K: 3\nK: 4\n")


# ------------------------------------------------------------------ the cost check
def _estimates():
    """(command, key path, absurd value) for every key an estimate of a command's base config names."""
    cases = []
    estimates = {
        "ufm": ufm_budget.estimate(UfmConfig(**UFM)),
        "lowrank": lowrank_estimate(Study.from_mapping(LOWRANK)),
        "asymptotic": asymptotic_budget.estimate(config_reader.from_mapping(AsymptoticConfig, ASYMPTOTIC)),
        "train": train_budget.estimate(config_reader.from_mapping(TrainConfig, BASES["train"])),
        "papers": papers.estimate(papers.Study.from_mapping(PAPERS)),
    }
    for command, estimate in estimates.items():
        for key, (value, _) in estimate.keys.items():
            if " " in key:  # not a config key (the sweep's point count): its own test below
                continue
            if key in ("log_spaced", "batch_size"):
                # absurd alone but cheap: log-spaced points beyond the iterations round to every
                # iteration, a batch beyond the data set is the whole set (both run, as they should)
                continue
            if key.startswith("sizes["):
                key = "sizes.0." + key.split(".")[-1]
            base = BASES[command]
            current = _get(base, key)
            if isinstance(current, list) and current and isinstance(current[0], (int, float)) and key in ("n",):
                absurd = [10**12]
            elif isinstance(current, list):
                continue  # a count of values (seeds, lambda_ratios): bounded by the config file's size cap
            else:
                absurd = 10**12 if isinstance(value, int) or float(value).is_integer() else 1e12
            cases.append((command, key, absurd))
    return cases


def _get(base, dotted: str):
    node = base
    for part in dotted.split("."):
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _set(base, dotted: str, value):
    mapping = json.loads(json.dumps(base))
    node = mapping
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return mapping


COSTLY = _estimates()


@pytest.mark.parametrize(("command", "key", "absurd"), COSTLY, ids=[f"{c}-{k}" for c, k, _ in COSTLY])
def test_every_key_an_estimate_grows_with_is_refused_when_absurd(command, key, absurd, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_set(BASES[command], key, absurd)))
    shown_key = key.split(".")[-1]
    _refused(_argv(command, path, tmp_path), tmp_path, capsys, "c.yaml", shown_key)


@pytest.mark.parametrize(("overrides", "says"), [
    ({"model": "deep", "depth": 3, "d": [10**9, 8, 8]}, "d[0]=1000000000"),
    ({"iters": 10**12}, "iters=1000000000000"),
    ({"log_spaced": 10**9, "iters": 10**8, "log_every": 10**8}, "log_spaced=1000000000"),
    ({"sweep": {"seed": list(range(1000)), "lr": [0.001 * (i + 1) for i in range(1000)]}}, "sweep points (1000000)"),
])
def test_ufm_absurd_sizes_name_the_key_and_the_estimate(overrides, says, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**UFM, **overrides}))
    line = _refused(_argv("ufm", path, tmp_path), tmp_path, capsys, "c.yaml", says, "--allow-large")
    assert "memory" in line or "multiply-adds" in line


def test_train_epochs_1e9_is_refused_and_allow_large_is_the_override(tmp_path):
    config = config_reader.from_mapping(TrainConfig, {**BASES["train"], "epochs": 10**9, "checkpoints": [0]})
    from deepcollapse.cost import check
    from deepcollapse.errors import InputError

    with pytest.raises(InputError, match=r"t.yaml: epochs=1000000000 asks for about .* days|years"):
        check(train_budget.estimate(config), source="t.yaml")
    check(train_budget.estimate(config), source="t.yaml", allow=True)  # --allow-large: a long run may run


def test_the_paper_and_demo_configs_pass_the_cost_check():
    """Every experiment the project runs is within the limits (on the device it names)."""
    from deepcollapse.cost import check
    from deepcollapse.ufm import batched

    root = Path(__file__).resolve().parents[2]
    for params in (root / "params.yaml", root / "demo" / "params.yaml"):
        doc = config_reader.load_yaml(params)
        for name, mapping in doc["ufm"]["experiments"].items():
            config, sweep = batched.from_mapping(mapping, source=name)
            check(ufm_budget.estimate(config, sweep.size if sweep else 1), source=f"{params}: {name}")
        check(lowrank_estimate(Study.from_mapping(doc["ufm"]["studies"]["lowrank"])), source=str(params))
        check(papers.estimate(papers.Study.from_mapping(doc["ufm"]["studies"]["papers"])), source=str(params))
        check(asymptotic_budget.estimate(config_reader.from_mapping(AsymptoticConfig, doc["asymptotic"])), source=str(params))


# ------------------------------------------------------------------ symbolic links and shared paths
@pytest.mark.parametrize("kind", ["ufm-store", "summary-json", "theory-json", "index-html", "dangling-store"])
def test_out_through_a_symlink_replaces_the_target_and_keeps_the_link(kind, art, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "real"
    real.mkdir()
    name, argv = {
        "ufm-store": ("u.zarr", ["ufm", "--config", art["ufm.yaml"]]),
        "dangling-store": ("u.zarr", ["ufm", "--config", art["ufm.yaml"]]),
        "summary-json": ("s.json", ["report", "summary", "--store", f"m={art['metrics.zarr']}"]),
        "theory-json": ("t.json", ["theory", "--runs", art["ufm.zarr"]]),
        "index-html": ("i.html", ["report", "index", "--pages", tmp_path / "p.html"]),
    }[kind]
    (tmp_path / "p.html").write_text("<h1>page</h1>")
    target = real / name
    if kind == "ufm-store":
        copy(art["ufm.zarr"], target)
    elif kind == "theory-json":
        copy(art["theory.json"], target)
    elif kind == "summary-json":
        target.write_text('{"old": {"NC1": 1.0}}')
    elif kind == "index-html":
        target.write_text('<meta name="deepcollapse-artifact" content="index"><p>old</p>')
    link = tmp_path / f"link-{name}"
    link.symlink_to(target)
    assert cli([*argv, "--out", link]) == 0, capsys.readouterr().err
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link is kept
    assert artifact_kind(target) is not None and artifact_kind(link) == artifact_kind(target)
    assert sorted(p.name for p in real.iterdir()) == [name]  # no temporary, old or lock file
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_out_a_symlink_to_a_foreign_file_is_refused_naming_the_users_path(art, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.json").write_text('{"mine": 1}')
    (tmp_path / "link.json").symlink_to(tmp_path / "notes.json")
    line = _refused(["theory", "--runs", art["ufm.zarr"], "--out", tmp_path / "link.json"], tmp_path, capsys, "link.json")
    assert ".tmp-" not in line


@pytest.mark.parametrize("how", ["same-path", "a-link-to-the-other"])
def test_outputs_sharing_a_path_are_refused_before_anything_is_written(how, art, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    copy(art["theory.json"], tmp_path / "t.json")
    csv = tmp_path / "t.json"
    if how == "a-link-to-the-other":
        csv = tmp_path / "t.csv"
        csv.symlink_to(tmp_path / "t.json")
    _refused(["theory", "--runs", art["ufm.zarr"], "--out", tmp_path / "t.json", "--csv", csv], tmp_path, capsys, "--csv", "same file")
