"""Shared fixtures: a private pool cache, small generation settings, a handmade LHE file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep pileup pools built by tests out of the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("L1SCOUT_CACHE_DIR", str(tmp_path_factory.mktemp("l1scout-cache")))
    yield
    mp.undo()


def _lhe_event(rng: np.random.Generator) -> str:
    mz, mmu, ebeam = 91.1876, 0.10566, 7000.0
    x = mz / (2 * ebeam)
    cos_t = rng.uniform(-1, 1)
    phi = rng.uniform(0, 2 * math.pi)
    p = math.sqrt((mz / 2) ** 2 - mmu**2)
    sin_t = math.sqrt(1 - cos_t**2)
    px, py, pz = p * sin_t * math.cos(phi), p * sin_t * math.sin(phi), p * cos_t
    lines = [
        "<event>",
        f" 5 1 1.0 {mz:.4f} 0.0078 0.118",
        f" 2 -1 0 0 501 0 0.0 0.0 {x * ebeam:.6f} {x * ebeam:.6f} 0.0 0.0 9.0",
        f" -2 -1 0 0 0 501 0.0 0.0 {-x * ebeam:.6f} {x * ebeam:.6f} 0.0 0.0 9.0",
        f" 23 2 1 2 0 0 0.0 0.0 0.0 {mz:.6f} {mz:.6f} 0.0 9.0",
        f" 13 1 3 3 0 0 {px:.6f} {py:.6f} {pz:.6f} {mz / 2:.6f} {mmu} 0.0 9.0",
        f" -13 1 3 3 0 0 {-px:.6f} {-py:.6f} {-pz:.6f} {mz / 2:.6f} {mmu} 0.0 9.0",
        "</event>",
    ]
    return "\n".join(lines)


@pytest.fixture(scope="session")
def lhe_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five u ubar -> Z -> mu mu events at rest, in Les Houches format (hand-made)."""
    rng = np.random.default_rng(5)
    body = "\n".join(_lhe_event(rng) for _ in range(5))
    text = (
        '<LesHouchesEvents version="1.0">\n<init>\n'
        " 2212 2212 7000.0 7000.0 0 0 0 0 3 1\n 1000.0 1.0 1.0 1\n</init>\n"
        f"{body}\n</LesHouchesEvents>\n"
    )
    path = tmp_path_factory.mktemp("lhe") / "zmumu.lhe"
    path.write_text(text)
    return path
