"""workflow/scripts/compare_outputs.py: the before/after equality check of two output roots (issue 19,
"no result may change").  Tiny trees made here: a UFM-like Zarr store with provenance, JSON, CSV,
a checkpoint and a page; each test changes one thing and checks the exit status and what is named."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr


def _script() -> Path:
    # the test may live in tests/ or a tier below it: find the repository root by the script itself
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "workflow/scripts/compare_outputs.py"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("workflow/scripts/compare_outputs.py")


SCRIPT = _script()
_spec = importlib.util.spec_from_file_location("compare_outputs", SCRIPT)
compare_outputs = importlib.util.module_from_spec(_spec)
sys.modules["compare_outputs"] = compare_outputs  # dataclasses look their module up
_spec.loader.exec_module(compare_outputs)

PROVENANCE = {
    "created": "2026-12-06T21:39:55+00:00", "host": "vm", "device": "cpu (x86_64, 2 logical cores)",
    "git": {"commit": "1" * 40, "dirty": False}, "versions": {"deepcollapse": "0.1.0", "numpy": "2.4.6"},
    "params": {"K": 4, "lr": 0.1}, "seed": 0,
}  # fmt: skip
PAGE = ('<html><body><h1>Theory</h1><div class="jp-Cell" id="cell-id={cell}"><p>agrees: 176 of 187</p></div>\n<div class="provenance"><h2>Provenance</h2>'
        "<table><tr><td>{commit}</td><td>{created}</td></tr></table></div>\n<p>max gap 0.0871</p></body></html>\n")  # fmt: skip


def make_tree(root: Path, *, provenance=PROVENANCE, objective=None, runtime_s=3.109, drop_array=None, cell="433d4a43") -> Path:
    """An output root: a GD store, a JSON summary, a CSV table, a page, a log and a lock file."""
    store = root / "results/ufm/fig2a.zarr"
    group = zarr.create_group(store=str(store), zarr_format=3)
    group.attrs.update({"config": {"K": 4, "lr": 0.1}, "runtime_s": runtime_s, "theory": {"objective": 0.1314},
                        "provenance": provenance, "deepcollapse_artifact": "ufm"})  # fmt: skip
    arrays = {
        "objective": objective if objective is not None else np.array([1.0, 0.5, np.nan, 0.1314]),
        "theory_objective": np.array(0.1314),
        "W": np.arange(8, dtype=np.float32).reshape(2, 4),
        "layer": np.array(["H1", "H2"], dtype=np.dtypes.StringDType()),
    }
    for name, data in arrays.items():
        if name != drop_array:
            array = group.create_array(name, shape=data.shape, dtype=data.dtype, dimension_names=[f"{name}_{i}" for i in range(data.ndim)])
            array[...] = data
            array.attrs["description"] = f"the {name}"
    summary = root / "results/summary/networks.json"
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"run": {"NC1": 0.25, "accuracy": 1.0, "provenance": provenance}}))
    table = root / "results/theory/agreement.csv"
    table.parent.mkdir(parents=True)
    table.write_text("run,point,gap,verdict\nfig2a,0,1.5e-08,agrees\nfig9d,0,nan,no closed form\n")
    page = root / "reports/pages/theory.html"
    page.parent.mkdir(parents=True)
    page.write_text(PAGE.format(commit=provenance["git"]["commit"], created=provenance["created"], cell=cell))
    (root / "results/logs").mkdir(parents=True)
    (root / "results/logs/fig2a.log").write_text(f"100000 iterations in {runtime_s} s\n")
    (root / "results/ufm/.fig2a.zarr.lock").write_text("1234 vm\n")
    return root


def run(before, after, *options, capsys):
    status = compare_outputs.main([str(before), str(after), *options])
    return status, capsys.readouterr().out


@pytest.fixture
def before(tmp_path):
    return make_tree(tmp_path / "before")


def test_equal_trees(before, tmp_path, capsys):
    after = make_tree(tmp_path / "after")
    status, out = run(before, after, capsys=capsys)
    assert status == 0, out
    assert "EQUAL" in out
    assert "written by 111111111111 (clean) x1" in out and "same revision: this checks reproducibility" in out
    # every kind was compared, the log and the lock were only listed
    for category, files in (("zarr", 1), ("json", 1), ("csv", 1), ("page", 1)):
        assert any(line.split()[:3] == [category, str(files), str(files)] for line in out.splitlines()), (category, out)
    assert any(line.split()[:2] == ["log", "1"] for line in out.splitlines()), out


def test_flipped_bit_in_one_array_is_named(before, tmp_path, capsys):
    objective = np.array([1.0, 0.5, np.nan, 0.1314])
    objective.view(np.uint64)[3] ^= 1  # the last bit of the final objective
    after = make_tree(tmp_path / "after", objective=objective)
    status, out = run(before, after, capsys=capsys)
    assert status == 1
    line = next(line for line in out.splitlines() if "fig2a.zarr/objective:" in line)
    assert "first at [3]" in line and "1 of 4 elements" in line, line
    assert f"0.1314 != {float(objective[3])!r}" in line and float(objective[3]) != 0.1314, line


def test_large_array_read_in_blocks_names_the_global_index(before, tmp_path, capsys, monkeypatch):
    after = make_tree(tmp_path / "after")
    array = zarr.open_group(str(after / "results/ufm/fig2a.zarr"), mode="r+")["W"]
    array[1, 2] = 6.5
    monkeypatch.setattr(compare_outputs, "_BLOCK_BYTES", 16)  # one row of W (4 float32) per block
    status, out = run(before, after, capsys=capsys)
    assert status == 1 and "fig2a.zarr/W: 1 of 8 elements differ, first at [1, 2]: 6.0 != 6.5" in out, out


def test_nan_equals_nan_only_bit_for_bit(before, tmp_path, capsys):
    # NaN equals NaN only bit for bit: a store is equal to itself, a NaN with another payload differs
    objective = np.array([1.0, 0.5, np.nan, 0.1314])
    objective.view(np.uint64)[2] ^= 1
    status, out = run(before, make_tree(tmp_path / "after", objective=objective), capsys=capsys)
    assert status == 1 and "first at [2]" in out


def test_provenance_only_difference_is_equal(before, tmp_path, capsys):
    other = dict(PROVENANCE, created="2026-12-07T01:02:03+00:00", host="elsewhere", git={"commit": "2" * 40, "dirty": True})
    # and papermill's random id of the parameters cell it injects, which nbconvert writes into the page
    after = make_tree(tmp_path / "after", provenance=other, runtime_s=9.9, cell="6d8f64ae")
    status, out = run(before, after, capsys=capsys)
    assert status == 0, out
    # what the excused fields hide is stated: which code wrote each tree
    assert "(written by 111111111111 (clean) x1)" in out and "(written by 222222222222 (dirty) x1)" in out
    assert "same revision" not in out


def test_provenance_params_are_compared(before, tmp_path, capsys):
    # only the VOLATILE fields of a provenance record are excused: the parameters it records are not
    other = dict(PROVENANCE, params={"K": 4, "lr": 0.2})
    status, out = run(before, make_tree(tmp_path / "after", provenance=other), capsys=capsys)
    assert status == 1
    assert "results/ufm/fig2a.zarr@provenance.params.lr: 0.1 != 0.2" in out
    assert "results/summary/networks.json@run.provenance.params.lr: 0.1 != 0.2" in out
    assert "reports/pages/theory.html" not in out  # the page's provenance block is cut out


def test_removed_array_needs_allow_removed(before, tmp_path, capsys):
    after = make_tree(tmp_path / "after", drop_array="theory_objective")
    status, out = run(before, after, capsys=capsys)
    assert status == 1
    assert "results/ufm/fig2a.zarr/theory_objective: only before" in out

    status, out = run(before, after, "--allow-removed", "results/ufm/*.zarr/theory_*", capsys=capsys)
    assert status == 0, out
    assert "results/ufm/fig2a.zarr/theory_objective: removed (allowed by 'results/ufm/*.zarr/theory_*')" in out


def test_removed_attribute_and_unused_pattern(before, tmp_path, capsys):
    after = make_tree(tmp_path / "after")
    group = zarr.open_group(str(after / "results/ufm/fig2a.zarr"), mode="r+")
    group.attrs.asdict()  # noqa: B018 (zarr attrs are read lazily)
    del group.attrs["theory"]
    status, out = run(before, after, capsys=capsys)
    assert status == 1 and "results/ufm/fig2a.zarr@theory: only before" in out
    status, out = run(before, after, "--allow-removed", "*.zarr@theory", "--allow-removed", "*typo*", capsys=capsys)
    assert status == 0, out
    assert "matched nothing" in out and "*typo*" in out


def test_added_attribute_is_a_difference(before, tmp_path, capsys):
    after = make_tree(tmp_path / "after")
    zarr.open_group(str(after / "results/ufm/fig2a.zarr"), mode="r+").attrs["new"] = 1
    status, out = run(before, after, capsys=capsys)
    assert status == 1 and "results/ufm/fig2a.zarr@new: only after" in out
    assert run(before, after, "--allow-added", "*@new", capsys=capsys)[0] == 0


def test_json_and_csv_are_parsed_not_diffed(before, tmp_path, capsys):
    after = make_tree(tmp_path / "after")
    summary = after / "results/summary/networks.json"
    # other key order, indentation and number spelling: equal
    summary.write_text(json.dumps({"run": {"provenance": PROVENANCE, "accuracy": 1, "NC1": 2.5e-1}}, indent=3))
    table = after / "results/theory/agreement.csv"
    table.write_text("run,point,verdict,gap\nfig2a,0,agrees,0.000000015\nfig9d,0,no closed form,NaN\n")
    status, out = run(before, after, capsys=capsys)
    assert status == 0, out
    # a changed digit is not
    summary.write_text(json.dumps({"run": {"provenance": PROVENANCE, "accuracy": 1, "NC1": 0.26}}))
    table.write_text("run,point,verdict,gap\nfig2a,0,agrees,1.6e-08\nfig9d,0,no closed form,nan\n")
    status, out = run(before, after, capsys=capsys)
    assert status == 1
    assert "results/summary/networks.json@run.NC1: 0.25 != 0.26" in out
    assert "results/theory/agreement.csv@gap: line 2: '1.5e-08' != '1.6e-08'" in out


def test_file_only_in_one_tree(before, tmp_path, capsys):
    after = make_tree(tmp_path / "after")
    (after / "results/theory/agreement.csv").unlink()
    status, out = run(before, after, capsys=capsys)
    assert status == 1 and "results/theory/agreement.csv: only before" in out


def test_unknown_file_type_compared_byte_for_byte(before, tmp_path, capsys):
    after = make_tree(tmp_path / "after")
    (before / "results/notes.txt").write_text("NC1 0.25\n")
    (after / "results/notes.txt").write_text("NC1 0.26\n")
    status, out = run(before, after, capsys=capsys)
    assert status == 1 and "results/notes.txt: bytes differ (sizes 9, 9; first at byte 7)" in out, out


def test_page_text_outside_provenance_is_compared(before, tmp_path, capsys):
    after = make_tree(tmp_path / "after")
    page = after / "reports/pages/theory.html"
    page.write_text(page.read_text().replace("0.0871", "0.0872"))
    status, out = run(before, after, capsys=capsys)
    assert status == 1 and "reports/pages/theory.html: line 3" in out and "0.0872" in out
    status, out = run(before, after, "--no-rendered", capsys=capsys)
    assert status == 0 and "rendered (--no-rendered)" in out


def test_checkpoints_compared_tensor_by_tensor(before, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    after = make_tree(tmp_path / "after")
    state = {"epoch": 3, "model": {"fc.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3)},
             "history": [{"epoch": 1, "loss": 0.5, "seconds": 0.01}]}  # fmt: skip
    for root, seconds in ((before, 0.01), (after, 0.02)):
        (root / "results/runs/a/checkpoints").mkdir(parents=True)
        torch.save(dict(state, history=[{"epoch": 1, "loss": 0.5, "seconds": seconds}]), root / "results/runs/a/checkpoints/epoch-0003.pt")
    status, out = run(before, after, capsys=capsys)
    assert status == 0, out  # the epoch's wall time is VOLATILE
    state["model"]["fc.weight"][1, 2] = 5.5
    torch.save(state, after / "results/runs/a/checkpoints/epoch-0003.pt")
    status, out = run(before, after, capsys=capsys)
    assert status == 1
    assert "results/runs/a/checkpoints/epoch-0003.pt@model.fc.weight: 1 of 6 elements differ, first at [1, 2]: 5.0 != 5.5" in out


def test_missing_root_is_bad_input(before, tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), str(before), str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nowhere: not a directory" in result.stderr
    assert result.stdout == ""


def test_module_imports_no_heavy_package():
    code = f"import importlib.util, sys; s = importlib.util.spec_from_file_location('m', {str(SCRIPT)!r}); m = importlib.util.module_from_spec(s); sys.modules['m'] = m; s.loader.exec_module(m); print(sorted({{'numpy', 'zarr', 'torch', 'yaml'}} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
