"""Wall-time accounting per stage, for the benchmarks (no effect when no timer is given)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Timer", "stage"]

#: Wall time per stage (s), summed over calls.
Timer = dict[str, float]


@contextmanager
def stage(timer: Timer | None, name: str) -> Iterator[None]:
    """Add the wall time of the ``with`` block to ``timer[name]``.

    >>> t: Timer = {}
    >>> with stage(t, "x"):
    ...     pass
    >>> list(t)
    ['x']
    """
    start = time.perf_counter()
    try:
        yield
    finally:
        if timer is not None:
            timer[name] = timer.get(name, 0.0) + time.perf_counter() - start
