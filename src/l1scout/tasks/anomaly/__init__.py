"""Anomaly-detection trigger (the AXOL1TL family): data, models, rate-based evaluation, pipeline.

Data: :mod:`.data` (zero bias and signals, produced if missing; the zero bias
split train / validation / test, every signal validation / test) and
:mod:`.inputs` (reading and splits). Models and training: :mod:`.config`
(typed configs), :mod:`.models`, :mod:`.distance` (the VICReg distance score),
:mod:`.augment`, :mod:`.train` (these import torch; import them directly).
Evaluation at trigger rates: :mod:`l1scout.tasks.rates` (shared with the other
tasks: thresholds, efficiencies, and the rate normalisation: Phase-2 by
default, Run 3 as an option; its main names are re-exported here), :mod:`.metrics`,
:mod:`.menu` (the reference menu), :mod:`.selection` (the model is chosen on
the validation split, reported on the test split), :mod:`.report`.
Deployment: :mod:`.deployment`, :mod:`.parity`. The whole study:
:mod:`.pipeline_config` and :mod:`.pipeline` (``l1scout run anomaly``).
Nothing here imports torch, mlflow or matplotlib at import time.
"""

from l1scout.tasks.anomaly.config import (
    AugmentConfig,
    ModelConfig,
    TrainConfig,
    VAEConfig,
    VICRegConfig,
    load_model_config,
)
from l1scout.tasks.anomaly.data import (
    AnomalyData,
    AnomalyDataConfig,
    SampleRequest,
    anomaly_data_from_files,
    ensure_samples,
    load_anomaly_data,
    load_inputs,
)
from l1scout.tasks.anomaly.menu import Menu, Seed, calibrate_menu, load_menu, menu_decisions
from l1scout.tasks.anomaly.metrics import Evaluation, auc, evaluate, roc_curve
from l1scout.tasks.anomaly.parity import decision_agreement, max_lsb_difference
from l1scout.tasks.anomaly.pipeline import PipelineResult, run_pipeline
from l1scout.tasks.anomaly.pipeline_config import PipelineConfig, demo_config, load_pipeline_config
from l1scout.tasks.anomaly.report import write_report
from l1scout.tasks.rates import (
    CROSSING_RATE_KHZ,
    CROSSING_RATES_KHZ,
    DEFAULT_RATES_KHZ,
    Efficiency,
    Threshold,
    efficiency,
    threshold_for_rate,
)

__all__ = [
    "CROSSING_RATES_KHZ",
    "CROSSING_RATE_KHZ",
    "DEFAULT_RATES_KHZ",
    "AnomalyData",
    "AnomalyDataConfig",
    "AugmentConfig",
    "Efficiency",
    "Evaluation",
    "Menu",
    "ModelConfig",
    "PipelineConfig",
    "PipelineResult",
    "SampleRequest",
    "Seed",
    "Threshold",
    "TrainConfig",
    "VAEConfig",
    "VICRegConfig",
    "anomaly_data_from_files",
    "auc",
    "calibrate_menu",
    "decision_agreement",
    "demo_config",
    "efficiency",
    "ensure_samples",
    "evaluate",
    "load_anomaly_data",
    "load_inputs",
    "load_menu",
    "load_model_config",
    "load_pipeline_config",
    "max_lsb_difference",
    "menu_decisions",
    "roc_curve",
    "run_pipeline",
    "threshold_for_rate",
    "write_report",
]
