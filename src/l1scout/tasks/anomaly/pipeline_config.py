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
    field_validator,
    model_validator,
)

from l1scout._datafile import format_validation_error, load_toml_model
from l1scout.errors import ConfigError
from l1scout.tasks.anomaly.config import ModelConfig, TrainConfig
from l1scout.tasks.anomaly.data import AnomalyDataConfig
from l1scout.tasks.anomaly.rates import DEFAULT_RATES_KHZ, crossing_rate_khz

__all__ = [
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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    kHz (:mod:`l1scout.tasks.anomaly.rates`). ``min_pass``: a rate is
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
    """MLflow: experiment, store (None: $MLFLOW_TRACKING_URI, else the local store), registry."""

    experiment: str = Field(default="l1scout-anomaly", min_length=1)
    uri: str | None = None
    registered_model: str = Field(default="l1scout-anomaly", min_length=1)
    alias: str = Field(default="champion", min_length=1)


class DeployConfig(_Model):
    """Which deployment steps run for the chosen model."""

    onnx: bool = True
    firmware: bool = True
    fpga_estimate: bool = True


class PipelineConfig(_Model):
    """One anomaly-trigger study, from data to firmware."""

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
            raise ValueError(f"model names must be unique, repeated: {', '.join(doubled)}")
        if self.scan is not None:
            unknown = [m for m in self.scan.models if m not in names]
            if unknown:
                raise ValueError(
                    f"scan.models names unknown models {unknown}; the models are {names}"
                )
            for model in self.models:
                if (
                    model.name in self.scan.models
                    and self.scan.parameter not in type(model).model_fields
                ):
                    fields = ", ".join(sorted(type(model).model_fields))
                    raise ValueError(
                        f"scan.parameter {self.scan.parameter!r} is not a setting of model "
                        f"{model.name!r} (kind {model.kind!r}); its settings are: {fields}"
                    )
        return self


def _validated_variant(model: ModelConfig, parameter: str, value: float) -> ModelConfig:
    data: dict[str, Any] = model.model_dump()
    data[parameter] = value
    data["name"] = f"{model.name}-{parameter}{value:g}"
    try:
        return type(model).model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, f"scan of {model.name!r}")) from exc


def expand_models(config: PipelineConfig) -> list[ModelConfig]:
    """The models to train: every model, with a scanned model replaced by one per value.

    Raises:
        ConfigError: a scan value is not valid for the parameter (the message
            names the model and the field).
    """
    out: list[ModelConfig] = []
    for model in config.models:
        if config.scan is not None and model.name in config.scan.models:
            out.extend(
                _validated_variant(model, config.scan.parameter, v) for v in config.scan.values
            )
        else:
            out.append(model)
    return out


def load_pipeline_config(path: Path | str) -> PipelineConfig:
    """Read and validate a pipeline TOML file; a relative ``evaluation.menu`` is taken beside it.

    Raises:
        ConfigError: unreadable file, invalid TOML or a bad value (the message
            names the file and the dotted path of each bad field).
    """
    path = Path(path)
    config = load_toml_model(path, PipelineConfig)
    menu = config.evaluation.menu
    if menu is not None and not menu.is_absolute():
        evaluation = config.evaluation.model_copy(update={"menu": path.parent / menu})
        config = config.model_copy(update={"evaluation": evaluation})
    return config


def demo_config() -> PipelineConfig:
    """The embedded defaults that ``make demo`` runs (``demo.toml`` in this package)."""
    return load_pipeline_config(_DEMO)
