"""Render a report page as the workflow does (papermill, then nbconvert with the offline template)."""

from __future__ import annotations

from pathlib import Path

from . import ROOT

NOTEBOOKS = ROOT / "workflow" / "notebooks"


def render(template: str, out: Path, *, html_dir: Path | None = None, name: str | None = None, **parameters) -> str:
    """Execute workflow/notebooks/<template>.ipynb with `parameters` (figures and data under `out`
    unless given) and export it to HTML (in `out`, or `html_dir`); the page's HTML."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    parameters.setdefault("figures_dir", str(out / "figures"))
    parameters.setdefault("data_dir", str(out / "data"))
    executed = out / f"{name or template}.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / f"{template}.ipynb"), str(executed), parameters=parameters,
                               kernel_name="python3", progress_bar=False, cwd=str(out))
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(ROOT / "workflow" / "nbconvert")],
                            exclude_input=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    target = (html_dir or out) / f"{name or template}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body)
    return body
