"""Progress bars of the long commands (train, features, metrics, ufm, asymptotic): one rule, on
stderr, on by default only when stderr is a terminal (`--progress/--no-progress` decide)."""

from __future__ import annotations


def bar(*, total: int, desc: str, unit: str, progress: bool | None):
    """A tqdm bar; `progress` None lets tqdm decide (off unless stderr is a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, disable=None if progress is None else not progress)


def wanted(progress: bool | None) -> bool:
    """Whether progress is shown: as asked, else only when stderr is a terminal (the bars' rule)."""
    import sys

    return sys.stderr.isatty() if progress is None else progress
