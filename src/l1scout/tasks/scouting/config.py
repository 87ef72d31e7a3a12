"""The scouting task's configuration: samples, splits, orbits, menu, models, engine, one TOML file.

A file has these tables, every one optional (the defaults are a full-size run)::

    name = "scouting"

    [data]                       # the samples, produced if missing (ScoutingSamplesConfig)
    zero_bias = { process = "minbias", events = 20_000 }
    signals = [{ process = "WTo3Pi", events = 2_000, boost = 200.0 }]
    pileup = 200.0

    [splits]                     # stable hash of (file, Event_Number): train / validation / orbits
    fractions = [0.3, 0.2, 0.5]

    [orbits]                     # the stream (l1scout.tasks.scouting.orbits)
    n_orbits = 50
    orbits_per_file = 10
    run = 1
    lumi_cm2s = 7.5e34
    candidates = 128

    [menu]                       # the selections (l1scout.tasks.scouting.menu)
    # path = "my_menu.toml"      # default: the package's default_menu.toml

    [models]                     # the demo's anomaly and soft-tau models (ModelsConfig)
    train = true
    anomaly = { hidden = [16, 8], latent = 4, rate_khz = 500.0 }
    ditau = { rate_khz = 500.0 }

    [engine]                     # where the menu runs (production's EngineSpec)
    kind = "single"

    [tracking]                   # MLflow
    experiment = "l1scout-scouting"
    registered_model = "l1scout-scouting"   # -> l1scout-scouting-anomaly, -ditau
    alias = "demo"

    [report]
    bx_rows = 20

**Splits.** Every event of every sample falls in one of three parts by
:func:`l1scout.io.torchdata.split_of`, a stable hash of (file identity,
``Event_Number``) with ``splits.fractions``: the models train on the first
part, their working points are chosen on the second (validation), and the
orbits are built from the third only, so that no event a model or a
threshold has seen is ever scored in the stream. The split is applied
whether or not the models are trained in the run (a model trained by an
earlier run on the same samples never sees the orbit events either).

**Checks when the file is read**, before any production: numbers strictly
(no NaN, no string for a number), process names against the catalog, the
zero-bias validation part large enough for the working points' rates
(``events x fraction x rate / crossing rate`` at least :data:`RATE_MARGIN`
events), every sample leaving at least one expected event in each part,
orbit and run numbers inside the header's fields (30 and 7 bits), a menu
file that exists. The embedded demo defaults are ``demo.toml`` beside this
module (:func:`demo_config`); ``examples/scouting/full.toml`` is a larger run.

Example:
    >>> cfg = ScoutingConfig()
    >>> cfg.orbits.n_orbits, cfg.orbits.candidates, cfg.tracking.alias
    (50, 128, 'demo')
    >>> cfg.model_names()
    {'anomaly': 'l1scout-scouting-anomaly', 'ditau': 'l1scout-scouting-ditau'}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout._datafile import path_beside, read_toml, validate_data
from l1scout.production.plan import EngineSpec
from l1scout.tasks._splits import SplitsConfig, check_split_sizes
from l1scout.tasks._tracking import ExperimentName, ModelAlias, RegisteredModelName, TrackingUri
from l1scout.tasks.anomaly.config import TrainConfig
from l1scout.tasks.rates import CROSSING_RATE_KHZ
from l1scout.tasks.scouting.samples import ScoutingSamplesConfig
from l1scout.tasks.scouting.words import MAX_ORBIT, MAX_RUN
from l1scout.tasks.taus.transformer import (
    TransformerConfig,
    TransformerModelConfig,
    TransformerTrainConfig,
)

__all__ = [
    "DEFAULT_MENU",
    "MAX_CANDIDATES",
    "RATE_MARGIN",
    "AnomalyModelConfig",
    "DiTauModelConfig",
    "MenuConfig",
    "ModelsConfig",
    "OrbitsConfig",
    "ReportConfig",
    "ScoutingConfig",
    "TrackingConfig",
    "demo_config",
    "load_scouting_config",
]

_DEMO = Path(__file__).with_name("demo.toml")
#: The menu a configuration without ``[menu] path`` runs.
DEFAULT_MENU = Path(__file__).with_name("default_menu.toml")
#: Most PUPPI candidates per crossing in the stream (the Phase-2 correlator's 128).
MAX_CANDIDATES = 128
#: The validation zero bias must expect this many events above each working point.
RATE_MARGIN = 1.1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class OrbitsConfig(_Model):
    """How the stream is built from the orbit part of the samples (the ``[orbits]`` table).

    Attributes:
        n_orbits: orbits of 3564 crossings to build.
        orbits_per_file: orbits per ``.l1sorb`` file.
        run: the run number in every header (7 bits: 0-127).
        first_orbit: the first orbit's number (orbit numbers start at 1; 30 bits).
        lumi_cm2s: instantaneous luminosity (cm^-2 s^-1; default 7.5e34, the
            HL-LHC ultimate levelled value): a signal of cross section sigma
            is expected ``sigma x L / crossing rate`` times per crossing.
        candidates: PUPPI candidates per crossing in the stream, the highest pT
            (at most :data:`MAX_CANDIDATES`).
        filling: the filling scheme's name (2760 colliding bunches of 3564).
        seed: the seed of the zero-bias draw and of the signal injection.
    """

    n_orbits: int = Field(default=50, ge=1, le=1_000_000)
    orbits_per_file: int = Field(default=10, ge=1, le=100_000)
    run: int = Field(default=1, ge=0, le=MAX_RUN)
    first_orbit: int = Field(default=1, ge=1, le=MAX_ORBIT)
    lumi_cm2s: float = Field(default=7.5e34, gt=0, le=1e37)
    candidates: int = Field(default=MAX_CANDIDATES, ge=1, le=MAX_CANDIDATES)
    filling: Literal["phase2"] = "phase2"
    seed: int = Field(default=1, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _orbit_numbers_fit(self) -> OrbitsConfig:
        last = self.first_orbit + self.n_orbits - 1
        if last > MAX_ORBIT:
            msg = (
                f"n_orbits: the last orbit number {last:,} exceeds the header's 30-bit field "
                f"({MAX_ORBIT:,}); lower first_orbit or n_orbits"
            )
            raise ValueError(msg)
        return self


class MenuConfig(_Model):
    """Which menu of selections runs on the stream (the ``[menu]`` table).

    Attributes:
        path: a menu TOML file (:func:`l1scout.tasks.scouting.menu.load_menu`);
            None: the package's ``default_menu.toml`` (:data:`DEFAULT_MENU`).
            Relative: from the configuration file's folder
            (:func:`load_scouting_config`; from the working directory for a
            :class:`ScoutingConfig` built in Python).
    """

    path: Path | None = None

    @field_validator("path")
    @classmethod
    def _a_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            what = "is not a file" if value.exists() else "does not exist"
            msg = f"{value} {what}; expected a menu TOML file"
            raise ValueError(msg)
        return value

    @property
    def file(self) -> Path:
        """The menu file that runs."""
        return DEFAULT_MENU if self.path is None else self.path


def _rate_field(default: float) -> Any:
    return Field(default=default, gt=0, le=CROSSING_RATE_KHZ)


class AnomalyModelConfig(_Model):
    """The demo anomaly model: a small AXOL1TL-like VAE on the 57 trigger inputs.

    Trained with :func:`l1scout.tasks.anomaly.train.train` on the zero-bias
    training part; its latent score (sum of the latent means squared) is
    exported to ONNX together with the power-of-two scaler, so the graph
    takes the raw 57 inputs.

    Attributes:
        hidden: encoder widths.
        latent: latent dimension.
        beta: the KL weight of the loss.
        quantized: fixed-point encoder layers (False: float, the demo's).
        train: optimiser, epochs, early stopping, seed, threads.
        rate_khz: the zero-bias rate of the threshold, chosen on the
            zero-bias validation part (:func:`l1scout.tasks.rates.threshold_for_rate`).
    """

    hidden: tuple[Annotated[int, Field(ge=1, le=4096)], ...] = Field(default=(16, 8), min_length=1)
    latent: int = Field(default=4, ge=1, le=1024)
    beta: float = Field(default=0.5, ge=0.0, le=1.0)
    quantized: bool = False
    train: TrainConfig = TrainConfig(epochs=30, batch_size=256, lr=3e-3, patience=5, threads=1)
    rate_khz: float = _rate_field(500.0)


_DEMO_TRANSFORMER = TransformerConfig(
    model=TransformerModelConfig(
        n_constituents=16, embed_dims=(32,), n_heads=4, n_layers=1, ff_dim=64, head_hidden=32
    ),
    train=TransformerTrainConfig(
        learning_rate=3e-3, batch_size=64, max_epochs=20, patience=4, lr_patience=2, threads=1
    ),
)


class DiTauModelConfig(_Model):
    """The demo soft-tau model: a small transformer on CLUE candidates, and its di-tau working point.

    Trained with :func:`l1scout.tasks.taus.transformer_training.train_transformer`
    on the CLUE candidates (:func:`l1scout.tasks.taus.dataset.build_tau_dataset`)
    of the training part of the tau signals and the zero bias; the working
    point (class, opposite-sign charge and ``|delta vz|`` cuts) is the grid
    search of :func:`l1scout.tasks.taus.ditau.search_ditau` on the validation part.

    Attributes:
        signals: the tau signals it learns from (None: every ``[data]`` signal
            whose name contains ``tautau`` or ``TauTau``).
        match_dr: candidate-to-tau matching distance.
        transformer: model sizes and training (small demo defaults).
        rate_khz: the zero-bias rate of the working point (validation part).
        vis_pt: the di-tau signal: events with two prompt hadronic taus of
            visible pT in ``[low, high)`` GeV.
        charge_thresholds: the grid of opposite-sign charge-score thresholds.
        dvz_cuts: the grid of ``|delta vz|`` cuts (mm; ``inf``: none).

    CLUE's parameters, the constituent slots and the pairing are the menu's
    ``ditau`` selection's (``clue``, ``n_constituents``, ``max_candidates``):
    the model learns on the candidates the menu builds, and the run refuses a
    ``transformer.model.n_constituents`` that differs from the menu's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=True)

    signals: tuple[str, ...] | None = None
    match_dr: float = Field(default=0.2, gt=0, le=1.0)
    transformer: TransformerConfig = _DEMO_TRANSFORMER
    rate_khz: float = _rate_field(500.0)
    vis_pt: tuple[float, float] = (5.0, 60.0)
    charge_thresholds: tuple[float, ...] = Field(default=(-math.inf, 0.0, 0.5, 0.8), min_length=1)
    dvz_cuts: tuple[float, ...] = Field(default=(5.0, 10.0, math.inf), min_length=1)

    @field_validator("rate_khz", "match_dr")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            msg = f"expected a finite number, got {value}"
            raise ValueError(msg)
        return value

    @field_validator("vis_pt")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not (math.isfinite(lo) and lo >= 0 and hi > lo) or math.isnan(hi):
            msg = f"expected [low, high) in GeV with 0 <= low < high, got {list(value)}"
            raise ValueError(msg)
        return value

    @field_validator("charge_thresholds")
    @classmethod
    def _charges(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(math.isnan(v) or v >= 1.0 for v in value):
            msg = f"expected thresholds below 1 (-inf: no requirement), got {list(value)}"
            raise ValueError(msg)
        return value

    @field_validator("dvz_cuts")
    @classmethod
    def _dvz(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(math.isnan(v) or v <= 0 for v in value):
            msg = f"expected positive cuts in mm (inf: no cut), got {list(value)}"
            raise ValueError(msg)
        return value


class ModelsConfig(_Model):
    """The models stage (the ``[models]`` table).

    Attributes:
        train: True (default): train the demo anomaly and soft-tau models in
            this run, export them to ONNX, register them in MLflow under
            ``<tracking.registered_model>-anomaly`` / ``-ditau`` with
            ``tracking.alias``, and run a copy of the menu with their working
            points filled in. False: run the menu as it is (its models must
            exist, in the registry or as ONNX files).
        anomaly: the anomaly model.
        ditau: the soft-tau model.
    """

    train: bool = True
    anomaly: AnomalyModelConfig = Field(default_factory=AnomalyModelConfig)
    ditau: DiTauModelConfig = Field(default_factory=DiTauModelConfig)


class TrackingConfig(_Model):
    """MLflow: experiment, store (None: ``$MLFLOW_TRACKING_URI``, else the local store), registry.

    Attributes:
        experiment: the experiment of the run.
        uri: the tracking URI (checked when the file is read).
        registered_model: prefix of the registered models' names
            (``<prefix>-anomaly``, ``<prefix>-ditau``).
        alias: the alias set on each new version (the default menu loads
            ``models:/l1scout-scouting-anomaly@demo``).
    """

    experiment: ExperimentName = "l1scout-scouting"
    uri: TrackingUri | None = None
    registered_model: RegisteredModelName = "l1scout-scouting"
    alias: ModelAlias = "demo"


class ReportConfig(_Model):
    """The HTML report (the ``[report]`` table).

    Attributes:
        bx_rows: selected crossings listed per selection (the Parquet files hold all).
    """

    bx_rows: int = Field(default=20, ge=0, le=10_000)


def _default_engine() -> EngineSpec:
    return EngineSpec(kind="single")


class ScoutingConfig(_Model):
    """One scouting run: samples, splits, orbits, menu, models, engine, tracking and report."""

    name: str = Field(default="scouting", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    data: ScoutingSamplesConfig = Field(default_factory=ScoutingSamplesConfig)
    splits: SplitsConfig = SplitsConfig(fractions=(0.3, 0.2, 0.5))
    orbits: OrbitsConfig = Field(default_factory=OrbitsConfig)
    menu: MenuConfig = Field(default_factory=MenuConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    engine: EngineSpec = Field(default_factory=_default_engine)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    @model_validator(mode="after")
    def _consistent(self) -> ScoutingConfig:
        fractions = self.splits.fractions
        samples = [self.data.zero_bias.events, *(s.events for s in self.data.signals)]
        check_split_sizes(samples[:1], fractions, "data.zero_bias", "splits.fractions")
        check_split_sizes(samples[1:], fractions, "data.signals", "splits.fractions")
        if self.models.train:
            self._check_rates()
            self._check_tau_signals()
        return self

    def _check_rates(self) -> None:
        n_val = self.data.zero_bias.events * self.splits.fractions[1]
        for name in ("anomaly", "ditau"):
            rate = getattr(self.models, name).rate_khz
            need = RATE_MARGIN * CROSSING_RATE_KHZ / rate
            if n_val < need:
                msg = (
                    f"models.{name}.rate_khz: {rate:g} kHz needs {math.ceil(need):,} zero-bias "
                    f"events expected in the validation part ({RATE_MARGIN:g} x "
                    f"{CROSSING_RATE_KHZ:,.6g} / {rate:g}); data.zero_bias.events "
                    f"{self.data.zero_bias.events:,} x {_fractions_text(self.splits.fractions)} "
                    f"gives {n_val:,.0f}: a higher rate, more events or a larger fraction"
                )
                raise ValueError(msg)

    def _check_tau_signals(self) -> None:
        names = [s.process for s in self.data.signals]
        wanted = self.models.ditau.signals
        if wanted is None:
            if not self.tau_signals:
                msg = (
                    "models.ditau.signals: no [data] signal has 'tautau' or 'TauTau' in its name; "
                    "name the tau signals the soft-tau model learns from"
                )
                raise ValueError(msg)
            return
        for i, name in enumerate(wanted):
            if name not in names:
                msg = f"models.ditau.signals[{i}]: {name!r} is not a [data] signal ({', '.join(names)})"
                raise ValueError(msg)
        if not wanted:
            msg = "models.ditau.signals: expected at least one tau signal"
            raise ValueError(msg)

    @property
    def tau_signals(self) -> tuple[str, ...]:
        """The signals the soft-tau model learns from (``models.ditau.signals``, or by name)."""
        if self.models.ditau.signals is not None:
            return self.models.ditau.signals
        return tuple(
            s.process
            for s in self.data.signals
            if "tautau" in s.process.lower() or "TauTau" in s.process
        )

    def model_names(self) -> dict[str, str]:
        """The registered names of the two demo models, by kind."""
        prefix = self.tracking.registered_model
        return {"anomaly": f"{prefix}-anomaly", "ditau": f"{prefix}-ditau"}


def _fractions_text(fractions: tuple[float, float, float]) -> str:
    """The validation fraction as the messages write it.

    >>> _fractions_text((0.3, 0.2, 0.5))
    'splits.fractions[1] = 0.2'
    """
    return f"splits.fractions[1] = {fractions[1]:g}"


def load_scouting_config(path: Path | str) -> ScoutingConfig:
    """Read and validate a scouting TOML file; a relative ``menu.path`` is taken beside it.

    Raises:
        ConfigError: unreadable file, invalid TOML or a bad value (one line per
            bad field: the file and the dotted path of the field).
    """
    data = path_beside(read_toml(path, "scouting configuration"), "menu", "path", path)
    return validate_data(data, ScoutingConfig, str(path))


def demo_config() -> ScoutingConfig:
    """The embedded demo defaults (``demo.toml`` in this package)."""
    return load_scouting_config(_DEMO)
