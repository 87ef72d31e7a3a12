"""Production: the per-file pipeline (generate -> detector views -> Parquet) and sharded production.

:func:`run_generation` writes one file; :func:`produce` makes every shard of a
:class:`ProductionPlan` on Dask (or in this process), resumable and
byte-reproducible; :func:`check_dataset` verifies a production folder against
its manifest. Seeds, plans, manifests and engines live in their own modules.
"""

from l1scout.production.check import CheckReport, Problem, check_dataset
from l1scout.production.driver import ProductionSummary, produce
from l1scout.production.job import GenerationConfig, GenerationResult, output_path, run_generation
from l1scout.production.plan import EngineSpec, ProductionPlan, ShardSpec, load_plan

__all__ = [
    "CheckReport",
    "EngineSpec",
    "GenerationConfig",
    "GenerationResult",
    "Problem",
    "ProductionPlan",
    "ProductionSummary",
    "ShardSpec",
    "check_dataset",
    "load_plan",
    "output_path",
    "produce",
    "run_generation",
]
