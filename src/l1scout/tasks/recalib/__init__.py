"""Re-calibration of L1 muons and jets toward offline: neural networks vs Nystrom kernel ridge regression.

Data: :mod:`.hardware` (the objects as the trigger stores them), :mod:`.matching`,
:mod:`.dataset` (the dataset recipe of the re-calibration study), :mod:`.samples` (production). Models:
:mod:`.nn`, :mod:`.krr` (these import torch; import them directly), operation
counts :mod:`.ops`. Results: :mod:`.metrics`, :mod:`.report`. The study:
:mod:`.config`, :mod:`.study` and :mod:`.results` (``l1scout run recalib``).
"""

from l1scout._jagged import OneToOneMatch, match_one_to_one
from l1scout.tasks.recalib.config import RecalibConfig, load_config
from l1scout.tasks.recalib.dataset import (
    JET_FEATURES,
    MUON_FEATURES,
    TARGET_NAMES,
    RegressionData,
    jet_dataset,
    muon_dataset,
    offline_at_station,
)
from l1scout.tasks.recalib.hardware import (
    HardwareJets,
    HardwareMuons,
    MuonBending,
    l1_jets,
    l1_muons,
    l1_standalone_muons,
    phi_at_station,
)
from l1scout.tasks.recalib.matching import JetMatch, jet_match_table, match_jets
from l1scout.tasks.recalib.metrics import RMSETable, rmse_table
from l1scout.tasks.recalib.results import StudyResult
from l1scout.tasks.recalib.samples import (
    RecalibSampleConfig,
    SampleRequest,
    ensure_recalib_samples,
    load_events,
)
from l1scout.tasks.recalib.study import run_study

__all__ = [
    "JET_FEATURES",
    "MUON_FEATURES",
    "TARGET_NAMES",
    "HardwareJets",
    "HardwareMuons",
    "JetMatch",
    "MuonBending",
    "OneToOneMatch",
    "RMSETable",
    "RecalibConfig",
    "RecalibSampleConfig",
    "RegressionData",
    "SampleRequest",
    "StudyResult",
    "ensure_recalib_samples",
    "jet_dataset",
    "jet_match_table",
    "l1_jets",
    "l1_muons",
    "l1_standalone_muons",
    "load_config",
    "load_events",
    "match_jets",
    "match_one_to_one",
    "muon_dataset",
    "offline_at_station",
    "phi_at_station",
    "rmse_table",
    "run_study",
]
