"""Are two output roots of the pipeline equal?  The before/after check of a refactoring.

    python workflow/scripts/compare_outputs.py BEFORE AFTER [--allow-removed PATTERN]... [--allow-added PATTERN]...
    e.g.  compare_outputs.py /work/before/demo /work/after/demo     (two `make run`s: demo/ of each checkout)

A refactoring must not change a result: every store, table, metric and page value of a `make run`
on one commit must be those of a `make run` on the other, on the same machine.  This walks both
trees and compares what each file means, not its bytes:

  Zarr store        every array (nested groups too): dtype, shape, dimension names, and the values
                    BIT FOR BIT (NaN equals NaN with the same payload; -0.0 is not 0.0); the
                    attributes of the store and of every array.  Chunking and codecs are storage,
                    not results: not compared.
  JSON, YAML        parsed, compared key by key: key order and number formatting do not matter, a
                    changed digit does (numbers compared by value, exactly).  dvc.lock: the params
                    of every stage (its hashes cover code and provenance, which differ by design).
  CSV               parsed: same columns (in any order), same rows in the same order, each cell
                    compared as a number when both sides parse as one, else as text.
  checkpoint (.pt)  torch.load'ed, compared entry by entry, tensors bit for bit.
  figure (.png/.svg) byte for byte: the package writes them without dates or random ids
                    (reports.figures) so that equal data give equal bytes.
  page (.html)      the text, with the provenance blocks (they name the commit, the time and the
                    rendering machine) and the notebook cell ids (papermill's are random) cut out:
                    numbers, verdicts and embedded images remain.
                    --no-rendered lists figures and pages as not compared instead.
  any other file    byte for byte (nothing escapes unseen for want of a parser).
  not compared      executed notebooks (.ipynb: papermill records cell timings), logs, dvc.yaml
                    (its code-dependency lists change with the code), hidden files (.snakemake/,
                    locks); listed with a count.

Only the fields of `VOLATILE` are excluded, wherever they occur: they differ between two runs of
the same computation by construction.  A refactoring may remove (or add) a field on purpose; it is
declared with --allow-removed / --allow-added PATTERN (fnmatch, `*` crosses `/`) against the
locations printed for differences:

    results/ufm/fig2a.zarr                        a file or store
    results/ufm/fig2a.zarr/theory_objective       an array of a store
    results/ufm/fig2a.zarr@theory                 an attribute of a store (…/ARRAY@key: of an array)
    results/theory/agreement.json@summary.agrees  a key of a JSON/YAML document or checkpoint
    reports/data/theory/fig.csv@value             a column of a CSV table

An allowed removal is printed, never silently ignored; a pattern that matched nothing is printed too.
The head of the output names the revision(s) that wrote each tree (read from the provenance records
that VOLATILE excuses), so that comparing a tree with itself, or with a run of the wrong checkout,
shows.  Prints one table and the differences (first differing key/index with both values).  Exit status 0
when everything compared is equal, 1 when something differs (or exists on one side only, not
allowed), 2 with one line on stderr when a root is not a directory.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import html
import json
import math
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------------------------------------
# Fields that differ between two runs of the same computation, matched by the end of their key
# path (dict keys only; list indices are skipped) in any attribute, JSON document or checkpoint.
# This is the only place that excuses a difference; everything else in `provenance`
# (deepcollapse.provenance.collect: params, seed, package versions, device, job) is compared.
VOLATILE: dict[tuple[str, ...], str] = {
    ("provenance", "git"): "commit and dirty flag of the source tree: differ between two commits by construction",
    ("provenance", "created"): "wall-clock time the artifact was written",
    ("provenance", "host"): "hostname of the machine that wrote it (a rerun in a fresh container has another)",
    ("runtime_s",): "wall time of a UFM solve (GD store attrs)",
    ("seconds",): "wall time of a training epoch (run's history.json, checkpoints' history)",
}

# What a page's HTML holds that differs between two renderings of the same data, cut out before
# comparing: the provenance blocks (reports.provenance.to_html on every page, reports.index's own
# record: commit, times, the rendering machine) and the notebook cells' ids (papermill gives the
# parameters cell it injects a random id, which nbconvert writes into the page as id="cell-id=…").
_PAGE_VOLATILE = (
    re.compile(r'<div class="provenance">.*?</div>', re.S),
    re.compile(r"<section><h2>Provenance of this index</h2><pre>.*?</pre></section>", re.S),
    re.compile(r' id="cell-id=[^"]*"'),
)

# file suffix -> category; a category compared by no function below is listed as not compared
_SUFFIX_CATEGORY = {
    ".json": "json", ".csv": "csv", ".yaml": "yaml", ".yml": "yaml", ".pt": "checkpoint",
    ".png": "figure", ".svg": "figure", ".html": "page",
    ".ipynb": "notebook", ".log": "log",
}  # fmt: skip
_NAME_CATEGORY = {"dvc.lock": "dvc-lock", "dvc.yaml": "pipeline"}
_NOT_COMPARED_WHY = {
    "notebook": "executed notebooks: papermill records cell timings; their content is the pages'",
    "log": "logs: timings and progress",
    "pipeline": "dvc.yaml: its code-dependency lists change with the code",
    "figure": "rendered (--no-rendered)",
    "page": "rendered (--no-rendered)",
}
_SHOWN_PER_FILE = 5  # differences printed per file (the count says how many more)
_BLOCK_BYTES = 256 * 2**20  # a large array is read and compared in blocks of rows of about this size


# ------------------------------------------------------------------------------ bookkeeping
@dataclass
class Outcome:
    """What comparing one file found."""

    differences: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)


@dataclass
class Rules:
    allow_removed: Sequence[str] = ()
    allow_added: Sequence[str] = ()
    rendered: bool = True
    used: set[str] = field(default_factory=set)

    def one_sided(self, location: str, removed: bool, outcome: Outcome) -> None:
        """Record `location` present on one side only: allowed by a pattern, or a difference."""
        patterns = self.allow_removed if removed else self.allow_added
        what = "removed" if removed else "added"
        for pattern in patterns:
            if fnmatch.fnmatchcase(location, pattern):
                self.used.add(f"{what}:{pattern}")
                outcome.allowed.append(f"{location}: {what} (allowed by {pattern!r})")
                return
        outcome.differences.append(f"{location}: {'only before' if removed else 'only after'}")


def _volatile(path: Sequence[str | int]) -> bool:
    keys = tuple(str(p) for p in path if not isinstance(p, int))
    return any(keys[-len(suffix):] == suffix for suffix in VOLATILE)


def _where(base: str, path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return f"{base}@{out}" if out else base


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------ values
def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _numbers_equal(a: float, b: float) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _as_array(x: Any):
    """numpy view of an array-like (numpy array, torch tensor), or None."""
    import numpy as np

    if isinstance(x, np.ndarray):
        return x
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        import torch

        t = x.detach().cpu()
        if t.dtype == torch.bfloat16:  # no numpy dtype: compare its bits
            t = t.view(torch.int16)
        return t.contiguous().numpy()
    return None


def _mismatch(a, b):
    """Boolean mask of the elements of two same-shape arrays that differ bit for bit (elements
    without a fixed width -- strings, objects -- by value, NaN equal to NaN)."""
    import numpy as np

    if a.dtype.kind in "biufcmMV?" and a.dtype.itemsize:
        width = a.dtype.itemsize
        av = np.ascontiguousarray(a).view(np.uint8).reshape(a.shape + (width,))
        bv = np.ascontiguousarray(b).view(np.uint8).reshape(b.shape + (width,))
        return (av != bv).any(axis=-1)
    same = np.frompyfunc(lambda x, y: x == y or (x != x and y != y), 2, 1)
    return ~np.asarray(same(a.astype(object), b.astype(object)), dtype=bool).reshape(a.shape)


def _element(array, index) -> Any:
    value = array[index]
    return value.item() if hasattr(value, "item") else value


def compare_arrays(a, b, where: str, outcome: Outcome) -> None:
    """dtype, shape and every element bit for bit; the first differing index with both values.
    `a`, `b`: numpy arrays, or Zarr arrays (read in blocks of rows of at most _BLOCK_BYTES)."""
    import numpy as np

    if a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape):
        outcome.differences.append(f"{where}: dtype/shape {a.dtype}{list(a.shape)} != {b.dtype}{list(b.shape)}")
        return
    row_bytes = max(1, int(np.prod(a.shape[1:], dtype=np.int64)) * max(1, a.dtype.itemsize))
    step = max(1, _BLOCK_BYTES // row_bytes) if a.ndim else 1
    count, first = 0, None
    for start in range(0, a.shape[0] if a.ndim else 1, step):
        block = slice(start, start + step) if a.ndim else ()
        block_a, block_b = np.asarray(a[block]), np.asarray(b[block])
        mask = _mismatch(block_a, block_b)
        count += int(np.count_nonzero(mask))
        if count and first is None:
            local = tuple(int(i) for i in np.argwhere(mask)[0])
            first = ((local[0] + start, *local[1:]) if a.ndim else (), _element(block_a, local), _element(block_b, local))
    if count:
        index, value_a, value_b = first
        size = int(np.prod(a.shape, dtype=np.int64))
        outcome.differences.append(f"{where}: {count} of {size} elements differ, first at {list(index)}: {_show(value_a)} != {_show(value_b)}")


def compare_values(a: Any, b: Any, base: str, outcome: Outcome, rules: Rules, path: tuple = ()) -> None:
    """Recursive comparison of parsed documents (mappings, sequences, numbers, strings, arrays)."""
    if _volatile(path):
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            sub = (*path, str(key))
            if _volatile(sub):
                continue
            if key not in b:
                rules.one_sided(_where(base, sub), True, outcome)
            elif key not in a:
                rules.one_sided(_where(base, sub), False, outcome)
            else:
                compare_values(a[key], b[key], base, outcome, rules, sub)
        return
    arr_a, arr_b = _as_array(a), _as_array(b)
    if arr_a is not None and arr_b is not None:
        compare_arrays(arr_a, arr_b, _where(base, path), outcome)
        return
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            outcome.differences.append(f"{_where(base, path)}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            compare_values(x, y, base, outcome, rules, (*path, i))
        return
    a, b = _scalar(a), _scalar(b)
    if _is_number(a) and _is_number(b):
        equal = _numbers_equal(a, b)
    else:
        equal = type(a) is type(b) and a == b
    if not equal:
        outcome.differences.append(f"{_where(base, path)}: {_show(a)} != {_show(b)}")


def _scalar(x: Any) -> Any:
    """numpy/torch scalars as Python numbers (a float32 keeps its exact value as a float)."""
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", 0) == 0 and type(x).__module__ != "builtins":
        try:
            return x.item()
        except (TypeError, ValueError):
            return x
    return x


# ------------------------------------------------------------------------------ file kinds
def compare_zarr(before: Path, after: Path, rel: str, rules: Rules) -> Outcome:
    import zarr

    outcome = Outcome()
    groups = []
    for path in (before, after):
        with warnings.catch_warnings():
            # Snakemake's .snakemake_timestamp in a directory() output is no part of the store
            warnings.filterwarnings("ignore", message="Object at .* is not recognized as a component")
            root = zarr.open_group(path, mode="r", use_consolidated=False)  # each node's own metadata, not the index
            groups.append({"": root, **dict(root.members(max_depth=None))})
    a_nodes, b_nodes = groups
    for name in sorted(set(a_nodes) | set(b_nodes)):
        where = f"{rel}/{name}" if name else rel
        if name not in b_nodes:
            rules.one_sided(where, True, outcome)
            continue
        if name not in a_nodes:
            rules.one_sided(where, False, outcome)
            continue
        a, b = a_nodes[name], b_nodes[name]
        if isinstance(a, zarr.Group) != isinstance(b, zarr.Group):
            outcome.differences.append(f"{where}: a {type(a).__name__} before, a {type(b).__name__} after")
            continue
        compare_values(a.attrs.asdict(), b.attrs.asdict(), where, outcome, rules)
        if isinstance(a, zarr.Group):
            continue
        dims = [getattr(node.metadata, "dimension_names", None) for node in (a, b)]
        if dims[0] != dims[1]:
            outcome.differences.append(f"{where}: dimensions {dims[0]} != {dims[1]}")
        compare_arrays(a, b, where, outcome)
    return outcome


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _load_yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text())


def _dvc_lock_params(path: Path) -> dict:
    """A dvc.lock's stages with their params only: the deps/outs hashes cover code and provenance."""
    lock = _load_yaml(path) or {}
    return {name: {"params": stage.get("params", {})} for name, stage in (lock.get("stages") or {}).items()}


def compare_documents(before: Path, after: Path, rel: str, rules: Rules, load) -> Outcome:
    outcome = Outcome()
    compare_values(load(before), load(after), rel, outcome, rules)
    return outcome


def _cell(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def compare_csv(before: Path, after: Path, rel: str, rules: Rules) -> Outcome:
    outcome = Outcome()
    tables = []
    for path in (before, after):
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        tables.append((rows[0] if rows else [], rows[1:]))
    (head_a, rows_a), (head_b, rows_b) = tables
    for column in head_a:
        if column not in head_b:
            rules.one_sided(f"{rel}@{column}", True, outcome)
    for column in head_b:
        if column not in head_a:
            rules.one_sided(f"{rel}@{column}", False, outcome)
    if len(rows_a) != len(rows_b):
        outcome.differences.append(f"{rel}: {len(rows_a)} rows != {len(rows_b)}")
    common = [c for c in head_a if c in head_b]
    for number, (row_a, row_b) in enumerate(zip(rows_a, rows_b), start=2):  # line numbers, header = 1
        cells_a, cells_b = dict(zip(head_a, row_a)), dict(zip(head_b, row_b))
        for column in common:
            x, y = _cell(cells_a.get(column, "")), _cell(cells_b.get(column, ""))
            same = _numbers_equal(x, y) if _is_number(x) and _is_number(y) else x == y
            if not same:
                outcome.differences.append(f"{rel}@{column}: line {number}: {_show(cells_a.get(column))} != {_show(cells_b.get(column))}")
    return outcome


def _load_checkpoint(path: Path) -> Any:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def compare_bytes(before: Path, after: Path, rel: str, rules: Rules) -> Outcome:
    outcome = Outcome()
    a, b = before.read_bytes(), after.read_bytes()
    if a != b:
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        outcome.differences.append(f"{rel}: bytes differ (sizes {len(a)}, {len(b)}; first at byte {at})")
    return outcome


def page_text(path: Path) -> str:
    """A page's HTML without its provenance blocks and cell ids (`_PAGE_VOLATILE`)."""
    text = path.read_text(errors="replace")
    for pattern in _PAGE_VOLATILE:
        text = pattern.sub("", text)
    return text


def compare_page(before: Path, after: Path, rel: str, rules: Rules) -> Outcome:
    outcome = Outcome()
    a, b = page_text(before).splitlines(), page_text(after).splitlines()
    for number, (x, y) in enumerate(zip(a, b), start=1):
        if x != y:
            col = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
            lo = max(0, col - 30)
            outcome.differences.append(
                f"{rel}: line {number} (provenance, cell ids removed) differs at column {col + 1}: "
                f"{_show(html.unescape(x[lo:col + 50]))} != {_show(html.unescape(y[lo:col + 50]))}"
            )
            return outcome
    if len(a) != len(b):
        outcome.differences.append(f"{rel}: {len(a)} lines != {len(b)} (provenance, cell ids removed)")
    return outcome


def _comparer(category: str, rules: Rules):
    documents = {"json": _load_json, "yaml": _load_yaml, "dvc-lock": _dvc_lock_params, "checkpoint": _load_checkpoint}
    if category in documents:
        load = documents[category]
        return lambda a, b, rel, r: compare_documents(a, b, rel, r, load)
    rendered = {"figure": compare_bytes, "page": compare_page} if rules.rendered else {}
    return {"zarr": compare_zarr, "csv": compare_csv, "other": compare_bytes, **rendered}.get(category)


# ------------------------------------------------------------------------------ trees
def inventory(root: Path) -> tuple[dict[str, str], int]:
    """{relative path: category} of the files and Zarr stores under `root`, and the number of
    hidden entries skipped (.snakemake/, .NAME.lock, temporary siblings, .gitignore)."""
    found, hidden = {}, 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        hidden += sum(name.startswith(".") for name in dirnames + filenames)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in list(dirnames):
            if (here / name / "zarr.json").is_file():
                found[(here / name).relative_to(root).as_posix()] = "zarr"
                dirnames.remove(name)
        for name in filenames:
            if name.startswith("."):
                continue
            rel = (here / name).relative_to(root).as_posix()
            found[rel] = _NAME_CATEGORY.get(name) or _SUFFIX_CATEGORY.get(Path(name).suffix, "other")
    return found, hidden


def revisions(root: Path, files: Mapping[str, str]) -> Counter:
    """{"<commit> (clean|dirty)": artifacts} of the provenance records of the stores and JSON files
    under `root`: which code wrote the tree (the one thing VOLATILE hides that a reader must see)."""
    found: Counter = Counter()
    for rel, category in files.items():
        path = root / rel / "zarr.json" if category == "zarr" else root / rel
        if category not in ("zarr", "json"):
            continue
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if category == "zarr":
            document = document.get("attributes") if isinstance(document, dict) else None
        provenance = document.get("provenance") if isinstance(document, dict) else None
        git = provenance.get("git") if isinstance(provenance, dict) else None
        if isinstance(git, dict):
            found[f"{str(git.get('commit'))[:12]} ({'dirty' if git.get('dirty') else 'clean'})"] += 1
    return found


@dataclass
class Comparison:
    """What comparing two trees found."""

    counts: dict[str, list[int]] = field(default_factory=dict)  # category -> [compared, equal]
    differences: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    not_compared: Counter = field(default_factory=Counter)  # category -> files
    revisions: tuple[Counter, Counter] = (Counter(), Counter())  # before, after: see `revisions`


def compare_trees(before: Path, after: Path, rules: Rules) -> Comparison:
    files_a, hidden_a = inventory(before)
    files_b, hidden_b = inventory(after)
    result = Comparison(revisions=(revisions(before, files_a), revisions(after, files_b)))
    one_sided = Outcome()
    for rel in sorted(set(files_a) | set(files_b)):
        if rel not in files_b or rel not in files_a:
            rules.one_sided(rel, rel not in files_b, one_sided)
            continue
        category = files_a[rel]
        if files_b[rel] != category:
            result.differences.append(f"{rel}: a {category} before, a {files_b[rel]} after")
            continue
        compare = _comparer(category, rules)
        if compare is None:
            result.not_compared[category] += 1
            continue
        outcome = compare(before / rel, after / rel, rel, rules)
        row = result.counts.setdefault(category, [0, 0])
        row[0] += 1
        row[1] += not outcome.differences
        result.differences.extend(outcome.differences[:_SHOWN_PER_FILE])
        if len(outcome.differences) > _SHOWN_PER_FILE:
            result.differences.append(f"{rel}: ... and {len(outcome.differences) - _SHOWN_PER_FILE} more differences")
        result.allowed.extend(outcome.allowed)
    result.differences.extend(one_sided.differences)
    result.allowed.extend(one_sided.allowed)
    if hidden_a or hidden_b:
        result.not_compared["hidden"] = max(hidden_a, hidden_b)
    return result


def render(result: Comparison, rules: Rules, before: Path, after: Path) -> str:
    lines = []
    for side, root, found in (("before:", before, result.revisions[0]), ("after:", after, result.revisions[1])):
        written = ", ".join(f"{revision} x{count}" for revision, count in sorted(found.items())) or "no provenance record"
        lines.append(f"{side:<7} {root}  (written by {written})")
    if result.revisions[0] and set(result.revisions[0]) == set(result.revisions[1]):
        lines.append("note: both trees were written by the same revision: this checks reproducibility, not a change")
    lines.append("")
    lines.append(f"{'compared':<12} {'files':>6} {'equal':>6} {'differ':>6}")
    for category, (n, equal) in sorted(result.counts.items()):
        lines.append(f"{category:<12} {n:>6} {equal:>6} {n - equal:>6}")
    total, total_equal = (sum(row[i] for row in result.counts.values()) for i in (0, 1))
    lines.append(f"{'all':<12} {total:>6} {total_equal:>6} {total - total_equal:>6}")
    if result.not_compared:
        lines.append("")
        lines.append("not compared:")
        why = {**_NOT_COMPARED_WHY, "hidden": "hidden entries (.snakemake/, locks, temporary siblings)"}
        for category, count in sorted(result.not_compared.items()):
            lines.append(f"  {category:<10} {count:>5}  {why.get(category, '')}")
    lines.append("")
    lines.append("excluded fields (VOLATILE): " + ", ".join(".".join(k) for k in VOLATILE))
    if result.allowed:
        lines.append("")
        lines.append(f"allowed ({len(result.allowed)}):")
        lines.extend(f"  {item}" for item in result.allowed)
    for kind, patterns in (("removed", rules.allow_removed), ("added", rules.allow_added)):
        lines.extend(f"note: --allow-{kind} {p!r} matched nothing" for p in patterns if f"{kind}:{p}" not in rules.used)
    lines.append("")
    if result.differences:
        lines.append(f"DIFFERENCES ({len(result.differences)} lines):")
        lines.extend(f"  {d}" for d in result.differences)
    else:
        lines.append("EQUAL: everything compared is equal")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="output root of the reference run (e.g. /work/before/demo)")
    parser.add_argument("after", type=Path, help="output root of the run to check")
    parser.add_argument("--allow-removed", action="append", default=[], metavar="PATTERN",
                        help="a location present before only that is removed on purpose (repeatable)")
    parser.add_argument("--allow-added", action="append", default=[], metavar="PATTERN",
                        help="a location present after only that is added on purpose (repeatable)")
    parser.add_argument("--no-rendered", action="store_true", help="list figures and HTML pages as not compared")
    args = parser.parse_args(argv)
    for root in (args.before, args.after):
        if not root.is_dir():
            print(f"{root}: not a directory (expected an output root such as demo/)", file=sys.stderr)
            return 2
    rules = Rules(allow_removed=args.allow_removed, allow_added=args.allow_added, rendered=not args.no_rendered)
    result = compare_trees(args.before, args.after, rules)
    print(render(result, rules, args.before, args.after))
    return 1 if result.differences else 0


if __name__ == "__main__":
    sys.exit(main())
