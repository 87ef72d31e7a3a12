"""Shared fixtures of the compression tests: hand-made particle sets (no production)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from l1scout.tasks.compress.sets import N_FEATURES, ParticleSets


def synthetic_sets(n: int, k: int, seed: int = 0) -> ParticleSets:
    """Events of 2 ... k candidates: falling ln pT, eta, uniform phi, PUPPI weights, two codes."""
    rng = np.random.default_rng(seed)
    f = np.zeros((n, k, N_FEATURES), np.float32)
    m = np.zeros((n, k), bool)
    for i, c in enumerate(rng.integers(2, k + 1, n)):
        m[i, :c] = True
        phi = rng.uniform(-np.pi, np.pi, c)
        f[i, :c, 0] = np.sort(rng.normal(0.5, 0.7, c))[::-1]
        f[i, :c, 1] = rng.normal(0.0, 0.8, c)
        f[i, :c, 2], f[i, :c, 3] = np.cos(phi), np.sin(phi)
        f[i, :c, 5] = rng.uniform(0, 1, c)
        f[i, np.arange(c), 6 + rng.integers(0, 2, c)] = 1.0
    return ParticleSets(f, m)


@pytest.fixture(scope="session")
def make_sets() -> Callable[..., ParticleSets]:
    """:func:`synthetic_sets`: ``make_sets(n, k, seed=0)``."""
    return synthetic_sets
