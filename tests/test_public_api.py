"""The public API, pinned: every package's ``__all__``.

A change of a package's public names must be deliberate: update ``PINNED`` below
and announce the change in ``docs/changelog.md`` in the same commit. The other
tests check that every public module declares an ``__all__`` whose names exist,
so a name cannot be exported by accident or vanish unnoticed.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import l1scout

# fmt: off
PINNED: dict[str, list[str]] = {
    "l1scout": ["__version__"],
    "l1scout.cli": ["main"],
    "l1scout.deploy": ["FLOAT_DEFAULT", "FirmwareProject", "FixedPoint", "FixedPointEmulator", "FpgaEstimate", "OnnxModel", "OpCount", "QuantSpec", "TritonTensor", "accumulator_format", "build_firmware", "count_ops", "estimate_fpga", "export_onnx", "float_mlp", "onnx_parity", "quantize", "quantized_mlp", "trace_logic", "write_triton_repository"],
    "l1scout.detector": ["BinnedFunction", "FrontendCard", "GenParticles", "TruthJetSpec", "VIEW_NAMES", "ViewCard", "load_frontend_card", "load_view_card"],
    "l1scout.detector.validation": ["Check", "FileInfo", "ValidationResult", "ViewSummary", "render_report", "run_validation", "write_report"],
    "l1scout.generate": ["MinBiasPool", "PileupSpec", "PythiaSource", "RawEvents", "build_pool", "derive_seed", "draw_pileup", "load_or_build_pool", "process_settings"],
    "l1scout.io": ["AtomicParquetWriter", "Column", "DataFile", "Dataset", "EVENT_COLUMNS", "FileSummary", "GEN_COLUMNS", "HubDataset", "JetSet", "ParticleSet", "PowerOfTwoRobustScaler", "SchemaKind", "StandardScaler", "arrow_schema", "inspect_file", "jets_with_constituents", "open_dataset", "particle_set", "trigger_inputs"],
    "l1scout.processes": ["Catalog", "GROUPS", "ProcessSpec", "Tune", "load_catalog"],
    "l1scout.production": ["CheckReport", "EngineSpec", "GenerationConfig", "GenerationResult", "Problem", "ProductionPlan", "ProductionSummary", "ShardSpec", "check_dataset", "load_plan", "output_path", "produce", "run_generation"],
    "l1scout.reco": ["simulate_view", "truth_objects"],
    "l1scout.tasks": [],
    "l1scout.tasks.anomaly": ["AnomalyData", "AnomalyDataConfig", "AugmentConfig", "CROSSING_RATES_KHZ", "CROSSING_RATE_KHZ", "DEFAULT_RATES_KHZ", "Efficiency", "Evaluation", "Menu", "ModelConfig", "PipelineConfig", "PipelineResult", "SampleRequest", "Seed", "Threshold", "TrainConfig", "VAEConfig", "VICRegConfig", "anomaly_data_from_files", "auc", "calibrate_menu", "decision_agreement", "demo_config", "efficiency", "ensure_samples", "evaluate", "load_anomaly_data", "load_inputs", "load_menu", "load_model_config", "load_pipeline_config", "max_lsb_difference", "menu_decisions", "roc_curve", "run_pipeline", "threshold_for_rate", "write_report"],
    "l1scout.tasks.recalib": ["HardwareJets", "HardwareMuons", "JET_FEATURES", "JetMatch", "MUON_FEATURES", "MuonBending", "OneToOneMatch", "RMSETable", "RecalibConfig", "RecalibSampleConfig", "RegressionData", "SampleRequest", "StudyResult", "TARGET_NAMES", "ensure_recalib_samples", "jet_dataset", "jet_match_table", "l1_jets", "l1_muons", "l1_standalone_muons", "load_config", "load_events", "match_jets", "match_one_to_one", "muon_dataset", "offline_at_station", "phi_at_station", "rmse_table", "run_study"],
    "l1scout.tasks.mlpf": ["BinnedRate", "CLASS_NAMES", "CLS_CHARGED_HADRON", "CLS_ELECTRON", "CLS_MUON", "CLS_NEUTRAL_HADRON", "CLS_NONE", "CLS_PHOTON", "COLLECTIONS", "ClassRates", "DEFAULT_MLPF_SAMPLES", "DEFAULT_REJECTIONS", "DeployConfig", "ElementBatch", "ElementPredictions", "ElementTargets", "Elements", "FINE_TUNED", "FROM_SCRATCH", "INPUT_WIDTH", "JetResponse", "LOSS_PARTS", "MLPFConfig", "MLPFData", "MLPFEvaluation", "MLPFEvaluationSettings", "MLPFLossConfig", "MLPFModel", "MLPFModelConfig", "MLPFOnnxCheck", "MLPFParity", "MLPFPipelineResult", "MLPFSamplesConfig", "MLPFSplit", "MLPFTargets", "MLPFTrainResult", "MetResolution", "N_FEATURES", "OUTPUT_NAMES", "PADDING", "Particles", "PileupRoc", "REGRESSION_NAMES", "SplitsConfig", "Spread", "SpreadInBins", "TARGET_NAMES", "TOWER", "TOWER_COLUMNS", "TOWER_FEATURES", "TRACK", "TRACK_COLUMNS", "TRACK_FEATURES", "TargetBatch", "TargetBookkeeping", "TrackingConfig", "TrainingConfig", "TransferConfig", "TransferRun", "TransferStudy", "applied_pileup_flag", "batch_targets", "check_same_events", "decode_outputs", "default_sizes", "demo_config", "element_features", "ensure_mlpf_samples", "evaluate_mlpf", "evaluation_columns", "event_batches", "export_mlpf", "focal_loss", "gen_particles_from_columns", "jet_response", "load_mlpf_config", "load_mlpf_data", "load_mlpf_model", "median_iqr", "met_resolution", "mlpf_collections", "mlpf_loss", "mlpf_onnx_parity", "mlpf_sample_files", "mlpf_targets", "mlpf_targets_from_columns", "pad_events", "particle_class", "particle_efficiency_fake_rate", "particles_from_columns", "particles_from_elements", "particles_from_targets", "pileup_roc", "plot_transfer", "predict_mlpf", "regression_targets", "run_mlpf", "run_transfer", "save_mlpf_model", "subset_split", "train_mlpf", "transfer_study", "write_mlpf_report"],
    "l1scout.tasks.taus": ["CandidateScores", "ClueScanPoint", "DEFAULT_TAU_SIGNALS", "DITAU_RATE_KHZ", "DeployConfig", "DiTauResult", "DiTauSearch", "DiTauWorkingPoint", "DoubleTauMenu", "EvaluationConfig", "FirmwareCheck", "GenRecord", "MATCH_DR", "METHODS", "MODEL_FORMAT", "MODEL_FORMAT_VERSION", "MODEL_NAMES", "MethodEvaluation", "ModelsConfig", "NNPUPPITAU_SPEC", "NNPuppiTau", "NNPuppiTauTraining", "OnnxCheck", "ScoredCandidates", "SoftTauTransformer", "TauConfig", "TauDataset", "TauEvaluation", "TauEvents", "TauMatch", "TauModels", "TauPipelineResult", "TauSampleFiles", "TauTargets", "TrackingConfig", "TransformerConfig", "TransformerInputs", "TransformerTrainResult", "TruthTaus", "Verdict", "binned_cp_efficiency", "build_nnpuppitau_firmware", "build_tau_dataset", "candidate_scores", "charge_accuracy", "compare_efficiencies", "comparison_row", "comparison_table", "decay_mode_code", "decode_outputs", "demo_config", "ditau_decisions", "double_tau_decision", "ensure_tau_samples", "evaluate_ditau", "evaluate_scores", "evaluate_tau_models", "export_transformer", "fake_fraction", "fakes_per_event", "gen_record", "load_tau_config", "load_tau_datasets", "load_tau_events", "load_tau_model", "load_tau_models", "load_transformer_config", "match_taus", "nnpuppitau_emulator", "nnpuppitau_inputs", "offline_tau_pt", "predict_nnpuppitau", "production_plans", "regression_response", "response", "run_taus", "save_tau_model", "save_tau_models", "scan_clue", "search_ditau", "tau_efficiency", "tau_sample_files", "train_nnpuppitau", "train_tau_models", "train_transformer", "transformer_inputs", "transformer_op_count", "truth_taus", "write_tau_report"],
    "l1scout.tasks.classify": ["CLASS_NAMES", "ClassifierModelConfig", "ClassifierTrainResult", "ClassifyConfig", "ClassifyData", "ClassifyDataConfig", "ClassifyResult", "ClassifySplit", "EVENT_CLASSES", "EventClass", "EventClassifier", "ModelInputs", "ModelResult", "N_OBJECT_TOKENS", "OBJECT_GROUPS", "ONNX_TOLERANCE", "ObjectInputs", "ObjectMLP", "ObjectTransformer", "OnnxCheck", "PARTICLE_INPUT_FEATURES", "ParticleDeepSets", "ParticleInputs", "REPORT_NAME", "TOKEN_FEATURES", "TriggerBit", "ViewInputs", "ZERO_BIAS_CLASS", "build_classifier", "class_index", "class_of_processes", "classifier_onnx_parity", "classify_collections", "confusion_matrix", "demo_config", "ensure_classify_samples", "event_objects", "event_particles", "export_classifier_onnx", "fit_standardization", "flat_feature_names", "load_classify_config", "load_classify_data", "mean_auc", "model_inputs", "object_input_columns", "one_vs_rest_auc", "particle_input_columns", "predict_probabilities", "run_classify", "train_classifier", "trigger_bits", "write_classify_report"],
    "l1scout.tasks.jettag": ["BTagComparison", "CARD_WORKING_POINT", "CONSTITUENT_FEATURES", "DEFAULT_JETTAG_SAMPLES", "FirmwareCheck", "GEN_FIELDS", "HH4bConfig", "HH4bResult", "HH4bRow", "JETTAG_SPEC", "JETTAG_VIEWS", "JET_CLASSES", "JetTagConfig", "JetTagData", "JetTagDeepSets", "JetTagDeployConfig", "JetTagEmulator", "JetTagFirmware", "JetTagInputs", "JetTagModelConfig", "JetTagResult", "JetTagSamplesConfig", "JetTagSplitsConfig", "JetTagTrackingConfig", "JetTagTrainResult", "JetTagTrainingConfig", "JetTagViewData", "JetTagViewResult", "JetTruth", "N_CONSTITUENTS", "N_OUTPUTS", "ONNX_TOLERANCE", "OUTPUT_CLASSES", "PtResponse", "REGRESSION_INDEX", "REPORT_NAME", "SeedThresholds", "b_score", "btag_comparison", "btag_working_point", "build_jettag_firmware", "class_probabilities", "class_weights", "corrected_pt", "count_btagged", "demo_config", "emulate_jettag", "ensure_jettag_samples", "estimate_jettag_fpga", "export_jettag_onnx", "firmware_inputs", "fit_standardization", "flat_jettag_inputs", "hh4b_study", "ht", "jet_tag_columns", "jet_tag_inputs", "jet_truth", "jet_truth_from_chunk", "jettag_collections", "jettag_emulator", "jettag_loss", "jettag_networks", "jettag_onnx_parity", "jettag_op_count", "jettag_read_columns", "label_columns", "load_jettag_config", "load_jettag_data", "metric_class_name", "per_class_auc", "pooled_format", "predict_jettag", "pt_response", "regression_target", "roc_points", "run_jettag", "seed_efficiency", "seed_thresholds", "take_jets", "train_jettag", "write_jettag_report"],
    "l1scout.tasks.compress": ["AECodec", "Codec", "CodecPoint", "CodecRow", "CompressConfig", "CompressData", "CompressResult", "DownstreamConfig", "DownstreamModels", "DownstreamResult", "EmbeddingCodec", "EmbeddingModels", "EncoderDeployment", "Float16ParquetCodec", "GoalCheck", "IntPackCodec", "Measured", "ParticleSets", "QuantizedCodec", "RDPoint", "Response", "STAGES", "SetAutoencoder", "SetAutoencoderConfig", "SetEmbedder", "SetEmbeddingConfig", "WordsZstdCodec", "best_per_budget", "chamfer_loss", "decode_latents", "decode_objects", "demo_config", "deploy_encoder", "downstream_ratios", "encode_latents", "encode_objects", "ensure_compress_samples", "event_quantities", "fidelity_metrics", "goal_check", "learned_losses", "load_compress_config", "measure", "pareto_front", "particle_distances", "particle_trigger_inputs", "quantized_scan", "read_parts", "response_resolution", "run_compress", "sinkhorn_loss", "train_set_autoencoder", "train_set_embedding", "with_particles", "write_compress_report", "zstd_compress", "zstd_decompress"],
    "l1scout.tasks.scouting": ["AnomalySelection", "BxIndex", "DEFAULT_LUMI_CM2S", "DEFAULT_SCOUTING_SIGNALS", "DiTauParams", "DiTauSelection", "EncodedEvents", "FILLED_BX", "HeaderFields", "HtSelection", "InjectedSignal", "MAX_OBJECTS", "Menu", "MenuResult", "ModelsResult", "ORBIT_BX", "ORBIT_FILE_SUFFIX", "ORBIT_RATE_KHZ", "OrbitFile", "OrbitOutcome", "OrbitPlan", "OrbitWriter", "PDG_CODES", "Problems", "PuppiHardware", "STAGES", "STREAMS", "Scorer", "ScoutingConfig", "ScoutingResult", "ScoutingSamplesConfig", "SelectionOutput", "SignalRequest", "SingleMuonSelection", "StreamEvents", "StreamFacts", "UnpackedObjects", "UnpackedPuppi", "W3PiCuts", "W3PiSelection", "anomaly_inputs", "anomaly_select", "build_orbit", "decode_egamma", "decode_headers", "decode_jets", "decode_muons", "decode_puppi", "decode_sums", "demo_config", "ditau_select", "encode_egamma", "encode_events", "encode_headers", "encode_jets", "encode_muons", "encode_puppi", "encode_sums", "ensure_scouting_samples", "expected_per_crossing", "filling_scheme", "ht_select", "load_menu", "load_menu_models", "load_scorer", "load_scouting_config", "open_orbit_file", "pack_stream", "plan_orbits", "puppi_physical", "puppi_to_hardware", "read_stream_events", "read_truth", "run_menu", "run_menu_file", "run_menu_on_orbit", "run_scouting", "scan_headers", "scouting_dataset_hash", "single_muon_select", "train_scouting_models", "truth_path", "unpack_objects", "unpack_puppi", "w3pi_pions", "w3pi_select", "write_orbit_files", "write_scouting_report"],
    "l1scout.track": ["RegisteredModel", "TrackedRun", "best_run", "dataset_hash", "flatten_params", "git_commit", "load_model", "local_store", "register_model", "start_run", "tracking_uri"],
}
# fmt: on


def _packages() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}

    def walk(module: ModuleType) -> None:
        found[module.__name__] = module
        for info in pkgutil.iter_modules(module.__path__):
            if info.ispkg and not info.name.startswith("_"):
                walk(importlib.import_module(f"{module.__name__}.{info.name}"))

    walk(l1scout)
    return found


def _public_modules() -> list[str]:
    infos = pkgutil.walk_packages(l1scout.__path__, "l1scout.")
    return sorted(i.name for i in infos if not any(p.startswith("_") for p in i.name.split(".")))


def test_every_package_is_pinned() -> None:
    assert sorted(_packages()) == sorted(PINNED), (
        "a package was added or removed: pin its __all__ in PINNED and announce it in docs/changelog.md"
    )


@pytest.mark.parametrize("package", sorted(PINNED))
def test_package_api_is_unchanged(package: str) -> None:
    module = importlib.import_module(package)
    now = sorted(module.__all__)
    pinned = sorted(PINNED[package])
    added, removed = sorted(set(now) - set(pinned)), sorted(set(pinned) - set(now))
    assert now == pinned, (
        f"the public API of {package} changed (added {added}, removed {removed}): "
        "if deliberate, update PINNED and announce it in docs/changelog.md"
    )


@pytest.mark.parametrize("name", _public_modules())
def test_public_module_declares_what_it_exports(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
