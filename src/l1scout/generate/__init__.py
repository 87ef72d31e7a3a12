"""Pythia 8 generation, the minimum-bias pool and the pileup overlay."""

from l1scout.generate.job import GenerationConfig, GenerationResult, output_path, run_generation
from l1scout.generate.pileup import MinBiasPool, build_pool, draw_pileup, load_or_build_pool
from l1scout.generate.pythia import PythiaSource, RawEvents, derive_seed, process_settings

__all__ = [
    "GenerationConfig",
    "GenerationResult",
    "MinBiasPool",
    "PythiaSource",
    "RawEvents",
    "build_pool",
    "derive_seed",
    "draw_pileup",
    "load_or_build_pool",
    "output_path",
    "process_settings",
    "run_generation",
]
