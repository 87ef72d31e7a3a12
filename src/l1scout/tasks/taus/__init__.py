"""Soft hadronic-tau identification in the Phase-2 Level-1 scouting stream.

Taus of 5-60 GeV visible pT reconstructed from the L1T PUPPI candidates
(CLUE clusters, anti-kT R = 0.4 jets, NNPuppiTau's seeded cones), identified
by the NNPuppiTau network (the baseline) or a transformer over the
constituents, and evaluated as di-tau working points at a fixed zero-bias rate.
"""

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
    "DITAU_RATE_KHZ",
    "MATCH_DR",
    "NNPUPPITAU_SPEC",
    "DiTauSearch",
    "DiTauWorkingPoint",
    "DoubleTauMenu",
    "GenRecord",
    "NNPuppiTau",
    "NNPuppiTauTraining",
    "ScoredCandidates",
    "SoftTauTransformer",
    "TauMatch",
    "TauTargets",
    "TransformerConfig",
    "TransformerInputs",
    "TransformerTrainResult",
    "TruthTaus",
    "binned_cp_efficiency",
    "build_nnpuppitau_firmware",
    "charge_accuracy",
    "comparison_row",
    "comparison_table",
    "decay_mode_code",
    "decode_outputs",
    "ditau_decisions",
    "double_tau_decision",
    "evaluate_ditau",
    "export_transformer",
    "fake_fraction",
    "fakes_per_event",
    "gen_record",
    "load_transformer_config",
    "match_taus",
    "nnpuppitau_emulator",
    "nnpuppitau_inputs",
    "offline_tau_pt",
    "predict_nnpuppitau",
    "regression_response",
    "response",
    "search_ditau",
    "tau_efficiency",
    "train_nnpuppitau",
    "train_transformer",
    "transformer_inputs",
    "transformer_op_count",
    "truth_taus",
]
