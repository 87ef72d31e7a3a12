"""Pythia 8 generation, the minimum-bias pool and the pileup overlay.

This layer knows the process catalog and the shared helpers only; running the
detector views and writing files is :mod:`l1scout.production`.
"""

from l1scout.generate.pileup import MinBiasPool, build_pool, draw_pileup, load_or_build_pool
from l1scout.generate.pythia import PythiaSource, RawEvents, derive_seed, process_settings
from l1scout.generate.vertex import PileupSpec

__all__ = [
    "MinBiasPool",
    "PileupSpec",
    "PythiaSource",
    "RawEvents",
    "build_pool",
    "derive_seed",
    "draw_pileup",
    "load_or_build_pool",
    "process_settings",
]
