"""The anomaly-trigger pipeline's configuration: one TOML file, validated at the boundary.

A pipeline file names the data (zero bias and signals, produced if missing),
the models (each a :mod:`l1scout.tasks.anomaly.config` model table), an
optional scan of one model parameter (for example ``beta``, as the AXOL1TL
team scans 0.1 ... 0.75), the training settings, the rates to evaluate at, the
tracking store and registry name, and which deployment steps to run::

    name = "axol1tl-phase2"

    [data]
    zero_bias = { process = "minbias", events = 1_000_000 }

    [[models]]
    kind = "vae"
    name = "axol1tl_v4"
    hidden = [28, 15]

    [scan]
    parameter = "beta"
    values = [0.1, 0.25, 0.5, 0.75]
    models = ["axol1tl_v4"]

The embedded defaults of ``make demo`` are ``demo.toml`` beside this module
(:func:`demo_config`); ``examples/anomaly/pipeline.toml`` is a full-size study.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from l1scout._datafile import read_toml, validate_data
from l1scout.errors import ConfigError
from l1scout.tasks._tracking import ExperimentName, ModelAlias, RegisteredModelName, TrackingUri
from l1scout.tasks.anomaly.config import ModelConfig, TrainConfig
from l1scout.tasks.anomaly.data import AnomalyDataConfig
from l1scout.tasks.anomaly.menu import load_menu
from l1scout.tasks.rates import DEFAULT_RATES_KHZ, crossing_rate_khz, format_rate

__all__ = [
    "MIN_SPLIT_EVENTS",
    "DeployConfig",
    "EvaluationConfig",
    "PipelineConfig",
    "ScanConfig",
    "TrackingConfig",
    "demo_config",
    "expand_models",
    "load_pipeline_config",
]

_DEMO = Path(__file__).with_name("demo.toml")

#: Fewest events a pipeline expects in every zero-bias split and in both parts
#: of every signal. The splits are drawn by a hash of each event, so their sizes
#: vary: with 10 expected, a split is empty with probability below 1e-4
#: (e^-10), and an empty split stops the pipeline after the production.
MIN_SPLIT_EVENTS = 10


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ScanConfig(_Model):
    """A scan of one model parameter: every listed model is trained once per value."""

    parameter: str = Field(min_length=1)
    values: tuple[float, ...] = Field(min_length=1)
    models: tuple[str, ...] = Field(min_length=1)


class EvaluationConfig(_Model):
    """Rates to quote efficiencies at, their normalisation, the reference menu, and the model choice.

    ``crossing_rate``: the normalisation of every rate, the rate of non-empty
    crossings: ``"phase2"`` (default; 2760 colliding bunch pairs x 11.246 kHz =
    31,039 kHz, the public Phase-2 rate studies'), ``"run3"`` (2544 x
    11.2456 kHz = 28,608.8 kHz, the published AXOL1TL rates') or a number in
    kHz (:mod:`l1scout.tasks.rates`). ``min_pass``: a rate is
    measurable when at least this many zero-bias events are expected above its
    threshold. The best model is chosen on the **validation** split (zero-bias
    validation events for the thresholds, the validation part of every
    signal), never on the test split that gives the reported numbers
    (:mod:`l1scout.tasks.anomaly.selection`): the highest mean signal
    efficiency at ``select_rate_khz`` (default: the lowest configured rate the
    zero-bias validation split can measure; with none measurable, the mean
    AUC). ``menu``: a reference-menu TOML file (default: the packaged one);
    ``calibrate_menu`` re-sets its thresholds to their target rates on the
    training zero bias.
    """

    rates_khz: tuple[float, ...] = Field(default=DEFAULT_RATES_KHZ, min_length=1)
    crossing_rate: (
        Literal["phase2", "run3"] | Annotated[float, Field(gt=0, allow_inf_nan=False)]
    ) = "phase2"
    min_pass: int = Field(default=10, ge=1)
    select_rate_khz: float | None = Field(default=None, gt=0)
    menu: Path | None = None
    calibrate_menu: bool = True

    @field_validator("crossing_rate", mode="before")
    @classmethod
    def _known_crossing_rate(cls, value: object) -> object:
        if isinstance(value, str | bool) or not isinstance(value, int | float):
            if value not in ("phase2", "run3"):
                msg = "expected 'phase2', 'run3' or a rate in kHz"
                raise ValueError(msg)
        elif not (math.isfinite(value) and value > 0):
            msg = "expected a positive finite rate in kHz (or 'phase2', 'run3')"
            raise ValueError(msg)
        return value

    @field_validator("select_rate_khz")
    @classmethod
    def _one_of_the_rates(cls, value: float | None, info: ValidationInfo) -> float | None:
        rates = info.data.get("rates_khz")
        if value is not None and rates and format_rate(value) not in map(format_rate, rates):
            msg = f"expected one of rates_khz {list(rates)}, got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("menu")
    @classmethod
    def _menu_loads(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return value
        try:
            menu = load_menu(value)  # a missing or bad file raises naming it and the field
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        crossing = info.data.get("crossing_rate")
        if crossing is not None:
            limit = crossing_rate_khz(crossing)
            above = [s.name for s in menu.seeds if s.target_rate_khz > limit]
            if above:
                msg = (
                    f"{value}: seeds {', '.join(above)} target rates above the crossing rate "
                    f"{limit:,.6g} kHz"
                )
                raise ValueError(msg)
        return value

    @property
    def crossing_rate_khz(self) -> float:
        """The normalisation of every rate: non-empty crossings per second (kHz)."""
        return crossing_rate_khz(self.crossing_rate)

    @model_validator(mode="after")
    def _rates_below_crossing(self) -> EvaluationConfig:
        crossing = self.crossing_rate_khz
        rates = [*self.rates_khz, *([self.select_rate_khz] if self.select_rate_khz else [])]
        above = [r for r in rates if not 0.0 < r <= crossing]
        if above:
            name = f" ({self.crossing_rate!r})" if isinstance(self.crossing_rate, str) else ""
            msg = (
                f"rates_khz: expected positive rates up to the crossing rate {crossing:,.6g} kHz"
                f"{name}, got {above}"
            )
            raise ValueError(msg)
        return self


class TrackingConfig(_Model):
    """MLflow: experiment, store (None: $MLFLOW_TRACKING_URI, else the local store), registry.

    The names follow MLflow's rules (:mod:`l1scout.tasks._tracking`), checked
    when the file is read rather than at the registration after the training.
    """

    experiment: ExperimentName = "l1scout-anomaly"
    uri: TrackingUri | None = None
    registered_model: RegisteredModelName = "l1scout-anomaly"
    alias: ModelAlias = "champion"


class DeployConfig(_Model):
    """Which deployment steps run for the chosen model."""

    onnx: bool = True
    firmware: bool = True
    fpga_estimate: bool = True


class PipelineConfig(_Model):
    """One anomaly-trigger study, from data to firmware.

    Everything that would stop the pipeline after its data production is
    refused here, naming the field: scan values that are not valid for the
    parameter, two candidates of one name, firmware asked for without a
    quantized encoder, and samples too small for their splits
    (:data:`MIN_SPLIT_EVENTS`). An empty ``data.signals`` is a rate-only study.
    """

    name: str = Field(default="anomaly", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    data: AnomalyDataConfig = Field(default_factory=AnomalyDataConfig)
    models: tuple[ModelConfig, ...] = Field(min_length=1)
    scan: ScanConfig | None = None
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)

    @model_validator(mode="after")
    def _consistent(self) -> PipelineConfig:
        names = [m.name for m in self.models]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"models: model names must be unique, repeated: {', '.join(doubled)}")
        if self.scan is not None:
            _check_scan(self.scan, self.models)
        models = expand_models(self)
        trained = [m.name for m in models]
        candidates = [n for m in models for n in _candidate_names(m)]
        doubled = sorted(
            {n for names in (trained, candidates) for n in names if names.count(n) > 1}
        )
        if doubled:
            raise ValueError(
                f"models: the models and the scan give two models named {', '.join(doubled)}; "
                "rename one"
            )
        wanted = [k for k in ("firmware", "fpga_estimate") if getattr(self.deploy, k)]
        if wanted and not any(m.firmware_ready for m in models):
            raise ValueError(
                f"deploy.{wanted[0]}: the firmware steps need a quantized model among the models "
                "(kind = 'vae', quantized = true, score = 'latent'); add one or set "
                "deploy.firmware and deploy.fpga_estimate to false"
            )
        _check_split_sizes(self.data)
        return self


def _candidate_names(model: ModelConfig) -> list[str]:
    """The pipeline's candidates of one model: itself, or one per VICReg score."""
    scores = getattr(model, "scores", ())
    return [f"{model.name}-{s}" for s in scores] if len(scores) > 1 else [model.name]


def _check_scan(scan: ScanConfig, models: tuple[ModelConfig, ...]) -> None:
    names = [m.name for m in models]
    unknown = [m for m in scan.models if m not in names]
    if unknown:
        raise ValueError(f"scan.models: unknown models {unknown}; the models are {names}")
    for model in models:
        if model.name not in scan.models:
            continue
        if scan.parameter not in type(model).model_fields or scan.parameter in {"kind", "name"}:
            fields = ", ".join(sorted(set(type(model).model_fields) - {"kind", "name"}))
            raise ValueError(
                f"scan.parameter: {scan.parameter!r} is not a setting of model "
                f"{model.name!r} (kind {model.kind!r}); its settings are: {fields}"
            )
        for i, value in enumerate(scan.values):
            try:
                _variant(model, scan.parameter, value)
            except ValidationError as exc:
                why = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
                raise ValueError(
                    f"scan.values[{i}]: {value!r} is not a valid {scan.parameter} of model "
                    f"{model.name!r}: {why}"
                ) from None


def _check_split_sizes(data: AnomalyDataConfig) -> None:
    """Every zero-bias split and both parts of every signal expect MIN_SPLIT_EVENTS events."""
    zb_parts = dict(zip(("training", "validation", "test"), data.fractions, strict=True))
    signal_parts = dict(zip(("validation", "test"), data.signal_fractions, strict=True))
    samples = [("data.zero_bias", data.zero_bias.events, "fractions", zb_parts)]
    samples += [
        (f"data.signals[{i}]", s.events, "signal_fractions", signal_parts)
        for i, s in enumerate(data.signals)
    ]
    for where, events, key, parts in samples:
        for part, fraction in parts.items():
            if events * fraction < MIN_SPLIT_EVENTS:
                raise ValueError(
                    f"{where}.events: {events:,} events leave {events * fraction:.3g} expected "
                    f"in the {part} split (data.{key} {list(parts.values())}); every split "
                    f"needs at least {MIN_SPLIT_EVENTS}: more events, or a larger fraction"
                )


def _variant(model: ModelConfig, parameter: str, value: float) -> ModelConfig:
    """*model* with *parameter* set to *value* and named for it (ValidationError if invalid)."""
    data: dict[str, Any] = model.model_dump()
    data[parameter] = value
    data["name"] = f"{model.name}-{parameter}{value:g}"
    return type(model).model_validate(data)


def expand_models(config: PipelineConfig) -> list[ModelConfig]:
    """The models to train: every model, with a scanned model replaced by one per value.

    The scan values of a :class:`PipelineConfig` are checked when it is
    validated, so every variant is valid.
    """
    out: list[ModelConfig] = []
    for model in config.models:
        if config.scan is not None and model.name in config.scan.models:
            out.extend(_variant(model, config.scan.parameter, v) for v in config.scan.values)
        else:
            out.append(model)
    return out


def load_pipeline_config(path: Path | str) -> PipelineConfig:
    """Read and validate a pipeline TOML file; a relative ``evaluation.menu`` is taken beside it.

    Everything is checked here, before any work (:class:`PipelineConfig`):
    numbers strictly (:func:`~l1scout._datafile.validate_data`), process names
    against the catalog, the view and the menu files.

    Raises:
        ConfigError: unreadable file, invalid TOML or a bad value (the message
            names the file and the dotted path of each bad field).
    """
    path = Path(path)
    data = read_toml(path, "pipeline file")
    evaluation = data.get("evaluation")
    if isinstance(evaluation, dict):
        menu = evaluation.get("menu")
        if isinstance(menu, str) and not Path(menu).is_absolute():
            evaluation["menu"] = str(path.parent / menu)
    return validate_data(data, PipelineConfig, str(path))


def demo_config() -> PipelineConfig:
    """The embedded defaults that ``make demo`` runs (``demo.toml`` in this package)."""
    return load_pipeline_config(_DEMO)
