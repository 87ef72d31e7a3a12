"""Event classification into the 18 public COLLIDE-2V classes, FullReco against L1T.

The same events seen by the offline reconstruction (``FullReco``) and by the
Level-1 trigger (``L1T``) are classified with the same models, so that the
difference measures what Level-1 loses (``docs/physics/event-classes.md``).
"""

from l1scout.tasks.classify.classes import (
    CLASS_NAMES,
    EVENT_CLASSES,
    ZERO_BIAS_CLASS,
    EventClass,
    class_index,
    class_of_processes,
)
from l1scout.tasks.classify.config import (
    ClassifyConfig,
    ClassifyDataConfig,
    demo_config,
    load_classify_config,
)
from l1scout.tasks.classify.data import (
    ClassifyData,
    ClassifySplit,
    ViewInputs,
    classify_collections,
    ensure_classify_samples,
    load_classify_data,
)
from l1scout.tasks.classify.inputs import (
    N_OBJECT_TOKENS,
    OBJECT_GROUPS,
    PARTICLE_INPUT_FEATURES,
    TOKEN_FEATURES,
    ObjectInputs,
    ParticleInputs,
    event_objects,
    event_particles,
    flat_feature_names,
    object_input_columns,
    particle_input_columns,
)
from l1scout.tasks.classify.metrics import (
    TriggerBit,
    confusion_matrix,
    mean_auc,
    one_vs_rest_auc,
    trigger_bits,
)
from l1scout.tasks.classify.models import (
    ClassifierModelConfig,
    EventClassifier,
    ObjectMLP,
    ObjectTransformer,
    ParticleDeepSets,
    build_classifier,
    classifier_onnx_parity,
    export_classifier_onnx,
    fit_standardization,
)
from l1scout.tasks.classify.pipeline import (
    run_classify,
)
from l1scout.tasks.classify.report import (
    REPORT_NAME,
    write_classify_report,
)
from l1scout.tasks.classify.results import (
    ONNX_TOLERANCE,
    ClassifyResult,
    ModelResult,
    OnnxCheck,
)
from l1scout.tasks.classify.training import (
    ClassifierTrainResult,
    ModelInputs,
    model_inputs,
    predict_probabilities,
    train_classifier,
)

__all__ = [
    "CLASS_NAMES",
    "EVENT_CLASSES",
    "N_OBJECT_TOKENS",
    "OBJECT_GROUPS",
    "ONNX_TOLERANCE",
    "PARTICLE_INPUT_FEATURES",
    "REPORT_NAME",
    "TOKEN_FEATURES",
    "ZERO_BIAS_CLASS",
    "ClassifierModelConfig",
    "ClassifierTrainResult",
    "ClassifyConfig",
    "ClassifyData",
    "ClassifyDataConfig",
    "ClassifyResult",
    "ClassifySplit",
    "EventClass",
    "EventClassifier",
    "ModelInputs",
    "ModelResult",
    "ObjectInputs",
    "ObjectMLP",
    "ObjectTransformer",
    "OnnxCheck",
    "ParticleDeepSets",
    "ParticleInputs",
    "TriggerBit",
    "ViewInputs",
    "build_classifier",
    "class_index",
    "class_of_processes",
    "classifier_onnx_parity",
    "classify_collections",
    "confusion_matrix",
    "demo_config",
    "ensure_classify_samples",
    "event_objects",
    "event_particles",
    "export_classifier_onnx",
    "fit_standardization",
    "flat_feature_names",
    "load_classify_config",
    "load_classify_data",
    "mean_auc",
    "model_inputs",
    "object_input_columns",
    "one_vs_rest_auc",
    "particle_input_columns",
    "predict_probabilities",
    "run_classify",
    "train_classifier",
    "trigger_bits",
    "write_classify_report",
]
