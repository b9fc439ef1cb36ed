"""The provenance block shown on every report page.

Each page states what produced the numbers it shows: for every input artifact (and the upstream
artifacts whose records it carries, e.g. the training run behind a metrics dataset) the code
revision, the package version, the device, the seed and the resolved parameters recorded when it
was written (`deepcollapse.provenance.collect`), and the environment that rendered the page.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..provenance import collect
from ..rundir import meta_path
from ..store import open_dataset


def _metadata_of(path: str | os.PathLike) -> Mapping[str, Any] | None:
    """The metadata mapping of an artifact (a Zarr store's attrs, a JSON file, a run's run.json)."""
    path = Path(path)
    if path.suffix == ".zarr" or (path / "zarr.json").exists():
        return open_dataset(path).attrs
    for file in (path, meta_path(path)):  # a JSON file, or a training run directory (`deepcollapse train`)
        if file.suffix == ".json" and file.is_file():
            data = json.loads(file.read_text())
            return data if isinstance(data, dict) else None
    return None


def record_of(path: str | os.PathLike) -> dict[str, Any] | None:
    """The provenance record stored in an artifact (a Zarr store or a JSON file), or None."""
    metadata = _metadata_of(path)
    return None if metadata is None else metadata.get("provenance")


def upstream_records(metadata: Mapping[str, Any], *, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Provenance records of the artifacts this one was computed from, as ("a.b", record) pairs.

    Commands copy their input's metadata into their output (a metrics dataset keeps the features
    store's attrs, which keep the training run's config and provenance), so the page can show the
    parameters that produced the numbers (lr, epochs, width...), not only those of the last job.
    """
    found = []
    for key, value in metadata.items():
        if key == "provenance" or not isinstance(value, Mapping):
            continue
        where = f"{prefix}{key}"
        if isinstance(value.get("provenance"), Mapping):
            found.append((where, dict(value["provenance"])))
        found.extend(upstream_records(value, prefix=f"{where}."))
    return found


def _flatten(inputs: Mapping[str, Any] | Iterable[Any]) -> list[tuple[str, str]]:
    """(label, path) pairs from a mapping of labels to a path or a list of paths."""
    pairs: list[tuple[str, str]] = []
    items = inputs.items() if isinstance(inputs, Mapping) else ((str(p), p) for p in inputs)
    for label, value in items:
        if isinstance(value, (list, tuple)):
            pairs.extend((f"{label}: {Path(v).name}", str(v)) for v in value)
        elif isinstance(value, Mapping):
            pairs.extend((f"{label}: {k}", str(v)) for k, v in value.items())
        else:
            pairs.append((str(label), str(value)))
    return pairs


def summary_rows(inputs: Mapping[str, Any] | Iterable[Any]) -> list[dict[str, Any]]:
    """One row per input artifact: where it is and what produced it."""
    rows = []
    for label, path in _flatten(inputs):
        metadata = _metadata_of(path) or {}
        rec = metadata.get("provenance")
        if rec is None:  # e.g. a table derived from the other inputs listed
            rows.append({"input": label, "path": path, "created": "(no record: derived from the inputs below)",
                         "commit": "", "deepcollapse": "", "torch": "", "device": "", "machine": "", "seed": "", "params": None})
            continue
        rows.append(_row(label, path, rec))
        rows.extend(_row(f"{label} <- {where}", path, upstream) for where, upstream in upstream_records(metadata))
    return rows


def _row(label: str, path: str, rec: Mapping[str, Any]) -> dict[str, Any]:
    git = rec.get("git") or {}
    commit = str(git.get("commit", "unknown"))[:10] + (" (modified)" if git.get("dirty") else "")
    versions = rec.get("versions") or {}
    return {
        "input": label,
        "path": path,
        "created": rec.get("created", "unknown"),
        "commit": commit,
        "deepcollapse": versions.get("deepcollapse", "?"),
        "torch": versions.get("torch", "?"),
        "device": rec.get("device", "?"),
        "machine": machine_summary(rec.get("machine")),
        "seed": rec.get("seed", ""),
        "params": rec.get("params"),
    }


def machine_summary(machine: Mapping[str, Any] | None) -> str:
    """'AMD EPYC; openblas 0.3.31 (2 threads), openmp (2 threads); torch: mkl, 2 threads' from a
    record's machine (older records have none: '?')."""
    if not machine:
        return "?"
    libs = ", ".join(f"{lib.get('api')}{' ' + str(lib['version']) if lib.get('version') else ''} ({lib.get('threads')} threads)"
                     for lib in machine.get("blas", []))
    text = f"{machine.get('cpu', '?')}; {libs or 'no BLAS loaded'}"
    threads = machine.get("threads", {})
    if "torch_intra_op" in threads:
        text += f"; torch: {machine.get('torch_build', {}).get('blas_info', '?')}, {threads['torch_intra_op']} threads"
    return text


def to_html(inputs: Mapping[str, Any] | Iterable[Any], *, page_params: Mapping[str, Any] | None = None) -> str:
    """The HTML provenance block: a table of inputs, their parameters, and the rendering environment."""
    esc = html.escape
    rows = summary_rows(inputs)
    head = ("input", "created", "commit", "deepcollapse", "torch", "device", "machine", "seed")
    out = ['<div class="provenance"><h2>Provenance</h2>']
    out.append("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>")
    for row in rows:
        cells = "".join(f"<td>{esc(str(row[h]))}</td>" for h in head)
        out.append(f'<tr title="{esc(row["path"])}">{cells}</tr>')
    out.append("</tbody></table>")
    params = {row["input"]: row["params"] for row in rows if row["params"] is not None}
    if params:
        out.append("<details><summary>Resolved parameters of every input</summary><pre>")
        out.append(esc(json.dumps(params, indent=1, sort_keys=True)))
        out.append("</pre></details>")
    renderer = collect()
    if page_params is not None:
        renderer["page parameters"] = dict(page_params)
    out.append("<details><summary>Rendered by</summary><pre>")
    out.append(esc(json.dumps(renderer, indent=1, sort_keys=True, default=str)))
    out.append("</pre></details></div>")
    return "\n".join(out)


def show(inputs: Mapping[str, Any] | Iterable[Any], *, page_params: Mapping[str, Any] | None = None) -> None:
    """Display the provenance block in a notebook."""
    from IPython.display import HTML, display

    display(HTML(to_html(inputs, page_params=page_params)))
