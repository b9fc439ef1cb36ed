"""Streaming over the rows of a large feature matrix in blocks of bounded memory.

One rule for every chunked loop of the package (`metrics.nc`, the layer metrics of a features
store, the ridge classifier's Gram accumulation): blocks of rows whose float64 copy stays near
64 MB whatever the row length d is, and, for the NC metrics, the Accumulator's one or two passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

#: float64 elements per block (64 MB).
BLOCK_ELEMENTS = 1 << 23


def row_blocks(n_rows: int, row_size: int, *, block_elements: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive row blocks of at most `block_elements` (default BLOCK_ELEMENTS,
    read at call time) elements each, at least one row per block."""
    budget = BLOCK_ELEMENTS if block_elements is None else block_elements
    rows = max(1, budget // max(int(row_size), 1))
    for start in range(0, n_rows, rows):
        yield start, min(n_rows, start + rows)


def measure(
    acc: Any,
    read: Callable[[int, int], Any],
    labels: Any,
    n_rows: int,
    *,
    W: Any = None,
    b: Any = None,
    block_elements: int | None = None,
) -> dict[str, float]:
    """Feed rows `read(start, stop)` with `labels[start:stop]` to the Accumulator `acc`, block by
    block, with the second pass only where the metrics need it; its `result()`."""
    for start, stop in row_blocks(n_rows, acc.d, block_elements=block_elements):
        acc.update(read(start, stop), labels[start:stop])
    if acc.needs_second_pass(W=W):
        acc.begin_second_pass(W=W, b=b)
        for start, stop in row_blocks(n_rows, acc.d, block_elements=block_elements):
            acc.update(read(start, stop), labels[start:stop])
    result = acc.result()
    acc.release_buffers()
    return result
