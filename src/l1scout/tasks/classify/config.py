"""The event-classification task's configuration: classes, views, models, training, one TOML file.

A file has these tables, every one optional (the defaults are a full-size run,
``examples/classify/full.toml``)::

    name = "classify"

    [data]                       # the events, produced if missing (l1scout.tasks.classify.data)
    classes = ["qcd", "dy_ll", ..., "minbias", ...]   # default: all 18, by class name
    events_per_class = 10_000
    pileup = 200.0
    views = ["FullReco", "L1T"]  # both views of the same events
    n_particles = 128            # the particle-level model's candidates per event
    # source = "/data/collide2v"  # read a COLLIDE-2V folder <root>/<process>/*.parquet
    #                             # (or a hub id) instead of producing

    [splits]                     # stable hashes of (file, Event_Number), shared by both views
    fractions = [0.7, 0.15, 0.15]

    [[models]]                   # ClassifierModelConfig (l1scout.tasks.classify.models)
    kind = "transformer"
    [[models]]
    kind = "mlp"
    [[models]]
    kind = "particles"

    [training]                   # TrainingConfig
    learning_rate = 1e-3
    batch_size = 256

    [evaluation]                 # trigger bits against the zero-bias class
    rates_khz = [1.0, 10.0]

    [tracking]                   # MLflow
    experiment = "l1scout-classify"

    [deploy]
    onnx = true                  # ONNX export of every model and view, parity with torch

Everything is checked when the file is read (:func:`load_classify_config`),
before any production: numbers strictly, class names against
:data:`~l1scout.tasks.classify.classes.EVENT_CLASSES` (the zero-bias class
``minbias`` must be one of them: the trigger bits need it), the views
against the shipped view cards, one model per kind, the split fractions; each
error names the file and the dotted path of the field. The embedded demo
defaults are ``demo.toml`` beside this module (:func:`demo_config`).

Example:
    >>> cfg = ClassifyConfig()
    >>> len(cfg.data.classes), cfg.data.views, cfg.data.pileup
    (18, ('FullReco', 'L1T'), 200.0)
    >>> [m.kind for m in cfg.models], cfg.evaluation.rates_khz
    (['transformer', 'mlp', 'particles'], (1.0, 10.0))
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout._datafile import read_toml, validate_data
from l1scout.errors import L1ScoutError
from l1scout.production.job import DEFAULT_POOL_SIZE
from l1scout.production.plan import DEFAULT_SHARD_SIZE, EngineSpec
from l1scout.production.samples import SampleRequest, shard_slots_problem
from l1scout.production.seeds import MAX_PLAN_SEED
from l1scout.tasks._splits import SplitsConfig
from l1scout.tasks._tracking import ExperimentName, ModelAlias, RegisteredModelName, TrackingUri
from l1scout.tasks.classify.classes import CLASS_NAMES, EVENT_CLASSES, ZERO_BIAS_CLASS
from l1scout.tasks.classify.models import ClassifierModelConfig
from l1scout.tasks.rates import CROSSING_RATE_KHZ

__all__ = [
    "ClassifyConfig",
    "ClassifyDataConfig",
    "DeployConfig",
    "EvaluationConfig",
    "SplitsConfig",
    "TrackingConfig",
    "TrainingConfig",
    "demo_config",
    "load_classify_config",
]

_DEMO = Path(__file__).with_name("demo.toml")

PositiveInt = Annotated[int, Field(ge=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ClassifyDataConfig(_Model):
    """The events and how to make (or read) them (the ``[data]`` table).

    Attributes:
        classes: the classes of the study, by class name (default all 18 of
            :data:`~l1scout.tasks.classify.classes.EVENT_CLASSES`, in their
            order); distinct, and the zero-bias class among them.
        events_per_class: events of each class's process (produced, or read at
            most from ``source``).
        pileup: mean pileup collisions per event (Phase-2: 200); the same for
            every class (a classifier would otherwise learn the pileup).
        views: the detector views, each a shipped card (``FullReco``, ``L1T``):
            every model is trained and evaluated once per view, on the same events.
        n_particles: candidates per event of the particle-level model (the
            ``pT``-leading ones; the COLLIDE-2V card recommends 128 for Level-1
            studies, read from ``<view>_PUPPIPart128`` when the files hold it).
        source: None: produce the events; else a COLLIDE-2V folder laid out
            like the hub (``<root>/<process>/*.parquet``) or a hub dataset id,
            read instead (nothing is produced; the production fields are ignored).
        seed: the production's plan seed, 1 ... 225.
        pool_size: minimum-bias collisions in the shared pileup pool.
        shard_size: events per file.
        engine: where the production runs.
        workers: shortcut for ``engine.workers``.
    """

    classes: tuple[str, ...] = Field(default=CLASS_NAMES, min_length=2)
    events_per_class: int = Field(default=10_000, ge=1, le=100_000_000)
    pileup: float = Field(default=200.0, ge=0, le=1000)
    views: tuple[str, ...] = Field(default=("FullReco", "L1T"), min_length=1)
    n_particles: int = Field(default=128, ge=1, le=1000)
    source: str | None = Field(default=None, min_length=1)
    seed: int = Field(default=19, ge=1, le=MAX_PLAN_SEED)
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=10_000_000)
    shard_size: int = Field(default=DEFAULT_SHARD_SIZE, ge=1, le=10_000_000)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    workers: int | None = Field(default=None, ge=1, le=4096)

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, name in enumerate(value):
            if name not in CLASS_NAMES:
                msg = f"[{i}]: unknown class {name!r}; the classes are: {', '.join(CLASS_NAMES)}"
                raise ValueError(msg)
        dup = sorted({n for n in value if value.count(n) > 1})
        if dup:
            msg = f"class {dup[0]!r} given twice"
            raise ValueError(msg)
        if ZERO_BIAS_CLASS not in value:
            msg = f"expected the zero-bias class {ZERO_BIAS_CLASS!r} among the classes (the trigger bits' rates)"
            raise ValueError(msg)
        return value

    @field_validator("views")
    @classmethod
    def _known_views(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from l1scout.detector.view_card import load_view_card

        if len(set(value)) != len(value):
            msg = f"expected distinct views, got {list(value)}"
            raise ValueError(msg)
        for name in value:
            try:
                card = load_view_card(name)
            except L1ScoutError as exc:
                msg = f"expected a shipped detector view (FullReco, L1T): {exc}"
                raise ValueError(msg) from None
            if card.name != name:
                msg = f"{name!r}: expected a shipped view's name (FullReco, L1T), not a card file"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ClassifyDataConfig:
        if self.workers is not None and self.engine.workers is not None:
            msg = "workers: give workers or engine.workers, not both"
            raise ValueError(msg)
        if self.source is None:
            problem = shard_slots_problem(
                [(f"classes[{i}]", r) for i, r in enumerate(self.samples)], self.shard_size
            )
            if problem is not None:
                raise ValueError(problem.replace(".events:", " (events_per_class):", 1))
        return self

    @property
    def processes(self) -> tuple[str, ...]:
        """The catalog (and COLLIDE-2V folder) process of each class, in class order."""
        by_name = {c.name: c.process for c in EVENT_CLASSES}
        return tuple(by_name[n] for n in self.classes)

    @property
    def samples(self) -> tuple[SampleRequest, ...]:
        """One production request per class: its process and ``events_per_class`` events."""
        return tuple(SampleRequest(process=p, events=self.events_per_class) for p in self.processes)


class TrainingConfig(_Model):
    """One multi-class cross-entropy training per model and view (:mod:`l1scout.tasks.classify.training`).

    Attributes:
        learning_rate: Adam's learning rate.
        weight_decay: Adam's L2 weight decay.
        batch_size: events per mini-batch.
        max_epochs: epochs at most.
        patience: epochs without a validation-loss improvement above
            ``min_delta`` before stopping (the best epoch's weights are kept).
        min_delta: smallest validation-loss decrease that counts.
        seed: seed of the weights and of the shuffling.
        threads: torch CPU threads (None: leave torch's setting); results are
            reproducible for a fixed thread count.
    """

    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(default=0.0, ge=0.0, le=1.0)
    batch_size: PositiveInt = 256
    max_epochs: PositiveInt = 50
    patience: PositiveInt = 5
    min_delta: float = Field(default=0.0, ge=0.0)
    seed: Annotated[int, Field(ge=0)] = 0
    threads: PositiveInt | None = None


class EvaluationConfig(_Model):
    """The trigger bits: each class's efficiency at fixed zero-bias rates.

    Attributes:
        rates_khz: target rates (kHz) of the trigger bit ``p_class > threshold``,
            counted on the zero-bias class's test events (default 1 and 10 kHz).
        crossing_rate_khz: bunch-crossing rate that normalises a zero-bias
            fraction to a rate (default Phase-2, 31,039 kHz:
            :data:`l1scout.tasks.rates.CROSSING_RATE_KHZ`).
    """

    rates_khz: tuple[float, ...] = Field(default=(1.0, 10.0), min_length=1)
    crossing_rate_khz: float = Field(default=CROSSING_RATE_KHZ, gt=0.0)

    @field_validator("rates_khz")
    @classmethod
    def _rates(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(r <= 0 for r in value) or len(set(value)) != len(value):
            msg = f"expected distinct positive rates (kHz), got {list(value)}"
            raise ValueError(msg)
        return tuple(sorted(value))

    @model_validator(mode="after")
    def _below_crossing(self) -> EvaluationConfig:
        if max(self.rates_khz) >= self.crossing_rate_khz:
            msg = (
                f"rates_khz: {max(self.rates_khz):g} kHz is not below the crossing rate "
                f"{self.crossing_rate_khz:g} kHz"
            )
            raise ValueError(msg)
        return self


class TrackingConfig(_Model):
    """MLflow: experiment, store (None: ``$MLFLOW_TRACKING_URI``, else the local store), registry.

    Attributes:
        experiment: the experiment of the task's runs (one run per model and view).
        uri: the tracking URI (checked when the file is read).
        registered_model: the prefix of the registered models' names
            (``<prefix>-<kind>-<view>``, one per model and view).
        alias: the alias set on each new version.
    """

    experiment: ExperimentName = "l1scout-classify"
    uri: TrackingUri | None = None
    registered_model: RegisteredModelName = "l1scout-classify"
    alias: ModelAlias = "champion"


class DeployConfig(_Model):
    """The ONNX step.

    Attributes:
        onnx: export every model of every view to ONNX, compare ONNX Runtime
            with torch on test events and register it.
        parity_events: test events of the parity check (at most).
    """

    onnx: bool = True
    parity_events: PositiveInt = 1000


def _default_models() -> tuple[ClassifierModelConfig, ...]:
    return tuple(ClassifierModelConfig(kind=k) for k in ("transformer", "mlp", "particles"))


class ClassifyConfig(_Model):
    """One event-classification study: data, splits, models, training, evaluation, tracking, deploy."""

    name: str = Field(default="classify", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    data: ClassifyDataConfig = Field(default_factory=ClassifyDataConfig)
    splits: SplitsConfig = Field(default_factory=SplitsConfig)
    models: tuple[ClassifierModelConfig, ...] = Field(default_factory=_default_models, min_length=1)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)

    @field_validator("models")
    @classmethod
    def _one_per_kind(
        cls, value: tuple[ClassifierModelConfig, ...]
    ) -> tuple[ClassifierModelConfig, ...]:
        seen: dict[str, int] = {}
        for i, m in enumerate(value):
            if m.kind in seen:
                msg = (
                    f"[{i}].kind: {m.kind!r} is already models[{seen[m.kind]}] (one model per kind)"
                )
                raise ValueError(msg)
            seen[m.kind] = i
        return value

    @model_validator(mode="after")
    def _enough_events(self) -> ClassifyConfig:
        n, fractions = self.data.events_per_class, self.splits.fractions
        if any(n * f < 1 for f in fractions):
            msg = (
                f"data.events_per_class: {n} events leave fewer than one expected in a split "
                f"(splits.fractions {list(fractions)})"
            )
            raise ValueError(msg)
        return self


def load_classify_config(path: Path | str) -> ClassifyConfig:
    """Read and validate a classification TOML file.

    Raises:
        ConfigError: unreadable file, invalid TOML or a bad value (one line per
            bad field: the file and the dotted path of the field).
    """
    path = Path(path)
    return validate_data(read_toml(path, "classification configuration"), ClassifyConfig, str(path))


def demo_config() -> ClassifyConfig:
    """The embedded demo defaults (``demo.toml`` in this package)."""
    return load_classify_config(_DEMO)
