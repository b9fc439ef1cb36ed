"""Networks against extended UFMs: the paper's §6 claim as measured criteria (pure numpy).

    from deepcollapse.compare import LevelTrajectories, compare, verdict
    relu = compare(network, relu_ufm, network_levels=("stage1", "stage2", "stage3", "penultimate"))
    linear = compare(network, linear_ufm, network_levels=(...))
    verdict({"ReLU": relu, "linear": linear}).closer_to

Loading the stores into `LevelTrajectories` is `deepcollapse.reports.comparison`'s job.
"""

from __future__ import annotations

from ._agreement import (
    DEFAULT_PAIRS,
    LOG_FLOOR,
    RATE_TIE,
    TOLERANCES,
    Agreement,
    LevelTrajectories,
    Verdict,
    collapse_rate,
    faster,
    common_grid,
    compare,
    depth_ordering,
    kendall_tau,
    log_metric,
    on_grid,
    spearman,
    structure,
    verdict,
)

__all__ = [
    "DEFAULT_PAIRS", "LOG_FLOOR", "RATE_TIE", "TOLERANCES", "Agreement", "LevelTrajectories", "Verdict",
    "collapse_rate", "faster", "common_grid", "compare", "depth_ordering", "kendall_tau", "log_metric", "on_grid",
    "spearman", "structure", "verdict",
]
