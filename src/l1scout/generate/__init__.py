"""Pythia 8 generation, the minimum-bias pool and the pileup overlay, and sharded production."""

from l1scout.generate.check import CheckReport, Problem, check_dataset
from l1scout.generate.job import GenerationConfig, GenerationResult, output_path, run_generation
from l1scout.generate.pileup import MinBiasPool, build_pool, draw_pileup, load_or_build_pool
from l1scout.generate.plan import EngineSpec, ProductionPlan, ShardSpec, load_plan
from l1scout.generate.production import ProductionSummary, produce
from l1scout.generate.pythia import PythiaSource, RawEvents, derive_seed, process_settings

__all__ = [
    "CheckReport",
    "EngineSpec",
    "GenerationConfig",
    "GenerationResult",
    "MinBiasPool",
    "Problem",
    "ProductionPlan",
    "ProductionSummary",
    "PythiaSource",
    "RawEvents",
    "ShardSpec",
    "build_pool",
    "check_dataset",
    "derive_seed",
    "draw_pileup",
    "load_or_build_pool",
    "load_plan",
    "output_path",
    "process_settings",
    "produce",
    "run_generation",
]
