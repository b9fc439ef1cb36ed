"""Progress bars of the long commands (train, features, metrics, ufm, asymptotic): one rule, on
stderr, on by default only when stderr is a terminal (`--progress/--no-progress` decide).

Without a bar, training and feature extraction write one log line per epoch / checkpoint instead
(`log_line`): a job's log (SLURM's, results/logs/) shows where it is while it runs."""

from __future__ import annotations


def bar(*, total: int, desc: str, unit: str, progress: bool | None):
    """A tqdm bar; `progress` None lets tqdm decide (off unless stderr is a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, disable=None if progress is None else not progress)


def wanted(progress: bool | None) -> bool:
    """Whether progress is shown: as asked, else only when stderr is a terminal (the bars' rule)."""
    import sys

    return sys.stderr.isatty() if progress is None else progress


# ------------------------------------------------------------------------- log lines
# Where no bar is shown (a SLURM job, a Snakemake log: stderr is a file) the long network jobs
# print one line per unit of work instead, so that the log says where a run is while it runs.


def duration(seconds: float) -> str:
    """h:mm:ss (or d h:mm:ss past a day): how a log line writes elapsed and remaining time."""
    seconds = max(0, int(round(seconds)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


def log_line(text: str) -> None:
    """One line on stderr, flushed at once (a log file must show it before the job ends)."""
    import sys

    print(text, file=sys.stderr, flush=True)
