"""Soft hadronic-tau identification in the Phase-2 Level-1 scouting stream.

Taus of 5-60 GeV visible pT reconstructed from the L1T PUPPI candidates
(CLUE clusters, anti-kT R = 0.4 jets, NNPuppiTau's seeded cones), identified
by the NNPuppiTau network (the baseline) or a transformer over the
constituents, and evaluated as di-tau working points at a fixed zero-bias rate;
``l1scout run taus [CONFIG]`` runs the whole study (:func:`run_taus`).
"""

from l1scout.tasks.taus.clue_scan import ClueScanPoint, scan_clue
from l1scout.tasks.taus.config import (
    DEFAULT_TAU_SIGNALS,
    METHODS,
    DeployConfig,
    EvaluationConfig,
    TauConfig,
    TrackingConfig,
    demo_config,
    load_tau_config,
)
from l1scout.tasks.taus.data import (
    TauSampleFiles,
    ensure_tau_samples,
    production_plans,
    tau_sample_files,
)
from l1scout.tasks.taus.dataset import (
    TauDataset,
    TauEvents,
    build_tau_dataset,
    load_tau_datasets,
    load_tau_events,
)
from l1scout.tasks.taus.ditau import (
    DITAU_RATE_KHZ,
    DiTauSearch,
    DiTauWorkingPoint,
    ScoredCandidates,
    comparison_row,
    comparison_table,
    ditau_decisions,
    evaluate_ditau,
    search_ditau,
)
from l1scout.tasks.taus.metrics import (
    binned_cp_efficiency,
    charge_accuracy,
    fake_fraction,
    fakes_per_event,
    regression_response,
    response,
    tau_efficiency,
)
from l1scout.tasks.taus.nnpuppitau import (
    NNPUPPITAU_SPEC,
    DoubleTauMenu,
    NNPuppiTau,
    NNPuppiTauTraining,
    build_nnpuppitau_firmware,
    double_tau_decision,
    nnpuppitau_emulator,
    nnpuppitau_inputs,
    offline_tau_pt,
    predict_nnpuppitau,
    train_nnpuppitau,
)
from l1scout.tasks.taus.pipeline import (
    FirmwareCheck,
    OnnxCheck,
    TauPipelineResult,
    run_taus,
)
from l1scout.tasks.taus.report import (
    write_tau_report,
)
from l1scout.tasks.taus.results import (
    CandidateScores,
    DiTauResult,
    MethodEvaluation,
    TauEvaluation,
    TauModels,
    Verdict,
    compare_efficiencies,
)
from l1scout.tasks.taus.study import (
    candidate_scores,
    evaluate_scores,
    evaluate_tau_models,
    train_tau_models,
)
from l1scout.tasks.taus.transformer import (
    SoftTauTransformer,
    TransformerConfig,
    TransformerInputs,
    decode_outputs,
    export_transformer,
    load_transformer_config,
    transformer_inputs,
    transformer_op_count,
)
from l1scout.tasks.taus.transformer_training import (
    TauTargets,
    TransformerTrainResult,
    train_transformer,
)
from l1scout.tasks.taus.truth import (
    MATCH_DR,
    GenRecord,
    TauMatch,
    TruthTaus,
    decay_mode_code,
    gen_record,
    match_taus,
    truth_taus,
)

__all__ = [
    "DEFAULT_TAU_SIGNALS",
    "DITAU_RATE_KHZ",
    "MATCH_DR",
    "METHODS",
    "NNPUPPITAU_SPEC",
    "CandidateScores",
    "ClueScanPoint",
    "DeployConfig",
    "DiTauResult",
    "DiTauSearch",
    "DiTauWorkingPoint",
    "DoubleTauMenu",
    "EvaluationConfig",
    "FirmwareCheck",
    "GenRecord",
    "MethodEvaluation",
    "NNPuppiTau",
    "NNPuppiTauTraining",
    "OnnxCheck",
    "ScoredCandidates",
    "SoftTauTransformer",
    "TauConfig",
    "TauDataset",
    "TauEvaluation",
    "TauEvents",
    "TauMatch",
    "TauModels",
    "TauPipelineResult",
    "TauSampleFiles",
    "TauTargets",
    "TrackingConfig",
    "TransformerConfig",
    "TransformerInputs",
    "TransformerTrainResult",
    "TruthTaus",
    "Verdict",
    "binned_cp_efficiency",
    "build_nnpuppitau_firmware",
    "build_tau_dataset",
    "candidate_scores",
    "charge_accuracy",
    "compare_efficiencies",
    "comparison_row",
    "comparison_table",
    "decay_mode_code",
    "decode_outputs",
    "demo_config",
    "ditau_decisions",
    "double_tau_decision",
    "ensure_tau_samples",
    "evaluate_ditau",
    "evaluate_scores",
    "evaluate_tau_models",
    "export_transformer",
    "fake_fraction",
    "fakes_per_event",
    "gen_record",
    "load_tau_config",
    "load_tau_datasets",
    "load_tau_events",
    "load_transformer_config",
    "match_taus",
    "nnpuppitau_emulator",
    "nnpuppitau_inputs",
    "offline_tau_pt",
    "predict_nnpuppitau",
    "production_plans",
    "regression_response",
    "response",
    "run_taus",
    "scan_clue",
    "search_ditau",
    "tau_efficiency",
    "tau_sample_files",
    "train_nnpuppitau",
    "train_tau_models",
    "train_transformer",
    "transformer_inputs",
    "transformer_op_count",
    "truth_taus",
    "write_tau_report",
]
