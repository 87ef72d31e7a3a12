"""The seed layout of a production: one Pythia seed per shard and per pool, injective by construction.

Pythia accepts seeds 1 ... 900,000,000 (:data:`~l1scout.generate.pythia.MAX_SEED`).
Hashing (plan seed, process, shard) into that range would collide at COLLIDE-2V
scale (83,000 shards give about four expected birthday collisions in 9e8), so
the seed is a mixed-radix number instead::

    seed = 1 + (((plan_seed - 1) * KINDS + kind) * PROCESS_SLOTS + slot) * SHARD_SLOTS + index

with

* ``plan_seed`` in 1 ... :data:`MAX_PLAN_SEED` (225): each plan seed owns a
  block of 4,000,000 consecutive Pythia seeds, so two plans never share one;
* ``kind``: :data:`KIND_EVENTS` (0) for a shard's events, :data:`KIND_POOL` (1)
  for a minimum-bias pileup pool;
* ``slot`` in 0 ... 99: 1 + the process's position in the catalog, or
  :data:`SHARED_SLOT` (0) for the plan-wide shared pool;
* ``index`` in 0 ... 19,999: the shard's index within its process.

:func:`seed_coordinates` is the inverse. Every numpy stream of a file is
derived from its seed (see :mod:`l1scout.production.job`), so they are unique too.

Example:
    >>> layout_seed(1, KIND_EVENTS, 1, 0), layout_seed(225, KIND_POOL, 99, 19_999)
    (20001, 900000000)
    >>> seed_coordinates(20001)
    SeedCoordinates(plan_seed=1, kind=0, slot=1, index=0)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from l1scout.errors import ConfigError
from l1scout.generate.pythia import MAX_SEED, check_seed
from l1scout.processes.catalog import load_catalog

__all__ = [
    "KINDS",
    "KIND_EVENTS",
    "KIND_POOL",
    "MAX_PLAN_SEED",
    "PROCESS_SLOTS",
    "SHARD_SLOTS",
    "SHARED_SLOT",
    "SeedCoordinates",
    "layout_seed",
    "pool_seed",
    "process_slot",
    "seed_coordinates",
    "shard_seed",
]

#: Process slots per (plan seed, kind): slot 0 is the shared pool, so at most 99 processes.
PROCESS_SLOTS = 100
#: Shards per process and plan seed.
SHARD_SLOTS = 20_000
#: Seed kinds: a shard's events, a pileup pool.
KINDS = 2
KIND_EVENTS = 0
KIND_POOL = 1
#: The slot of the plan-wide shared pileup pool.
SHARED_SLOT = 0
#: The largest plan seed: 900,000,000 / (2 * 100 * 20,000) = 225.
MAX_PLAN_SEED = MAX_SEED // (KINDS * PROCESS_SLOTS * SHARD_SLOTS)


@dataclass(frozen=True)
class SeedCoordinates:
    """Where a seed sits in the layout: plan seed, kind, slot and shard index."""

    plan_seed: int
    kind: int
    slot: int
    index: int


def _check(name: str, value: int, low: int, high: int, why: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        msg = f"{name} must be an integer in [{low}, {high}] ({why}), got {value!r}"
        raise ConfigError(msg)
    return value


def layout_seed(plan_seed: int, kind: int, slot: int, index: int) -> int:
    """The Pythia seed at the given coordinates (see the module docstring).

    Raises:
        ConfigError: a coordinate is out of its range; the message names it.
    """
    _check(
        "plan seed",
        plan_seed,
        1,
        MAX_PLAN_SEED,
        f"each plan seed owns {KINDS * PROCESS_SLOTS * SHARD_SLOTS:,} of Pythia's seeds",
    )
    _check("seed kind", kind, 0, KINDS - 1, "0: events, 1: pileup pool")
    _check(
        "process slot",
        slot,
        0,
        PROCESS_SLOTS - 1,
        f"a production seeds at most {PROCESS_SLOTS - 1} catalog processes",
    )
    _check(
        "shard index",
        index,
        0,
        SHARD_SLOTS - 1,
        f"at most {SHARD_SLOTS:,} shards per process and plan seed",
    )
    return 1 + (((plan_seed - 1) * KINDS + kind) * PROCESS_SLOTS + slot) * SHARD_SLOTS + index


def seed_coordinates(seed: int) -> SeedCoordinates:
    """The inverse of :func:`layout_seed`.

    >>> seed_coordinates(layout_seed(17, KIND_POOL, 42, 1234))
    SeedCoordinates(plan_seed=17, kind=1, slot=42, index=1234)
    """
    rest, index = divmod(check_seed(seed) - 1, SHARD_SLOTS)
    rest, slot = divmod(rest, PROCESS_SLOTS)
    plan0, kind = divmod(rest, KINDS)
    return SeedCoordinates(plan0 + 1, kind, slot, index)


def process_slot(process: str, catalog: Path | None = None) -> int:
    """The slot of a catalog process: 1 + its position in the catalog.

    Raises:
        ConfigError: the process is not in the catalog (with the closest
            names), or sits beyond the last slot.

    >>> process_slot("minbias")
    1
    """
    cat = load_catalog(catalog)
    cat.get(process)  # an unknown name raises with suggestions
    slot = cat.names().index(process) + 1
    if slot >= PROCESS_SLOTS:
        msg = (
            f"process {process!r} is number {slot} of the catalog; the seed layout has "
            f"slots for the first {PROCESS_SLOTS - 1} processes only"
        )
        raise ConfigError(msg)
    return slot


def shard_seed(plan_seed: int, process: str, index: int, catalog: Path | None = None) -> int:
    """The seed of shard *index* of *process* (its events, its file name's ``RS``).

    >>> shard_seed(1, "minbias", 3)
    20004
    """
    return layout_seed(plan_seed, KIND_EVENTS, process_slot(process, catalog), index)


def pool_seed(
    plan_seed: int, process: str | None = None, index: int = 0, catalog: Path | None = None
) -> int:
    """The seed of a pileup pool: the plan-wide shared one (no *process*) or a shard's own.

    >>> pool_seed(1), pool_seed(1, "minbias", 3)
    (2000001, 2020004)
    """
    if process is None:
        return layout_seed(plan_seed, KIND_POOL, SHARED_SLOT, 0)
    return layout_seed(plan_seed, KIND_POOL, process_slot(process, catalog), index)
