"""The soft-tau study's configuration: samples, candidates, splits and the rate, one TOML file.

A file has four tables, every one optional (the defaults are a full-size study)::

    name = "soft-taus"

    [data]                       # the samples, produced if missing (l1scout.tasks.taus.data)
    zero_bias = { process = "minbias", events = 100_000 }
    signals = [{ process = "light_scalar_tautau_m20", events = 50_000 }]
    pileup = 200.0

    [candidates]                 # the three builders of l1scout.reco.taus
    methods = ["clue", "ak4", "nnpuppitau"]
    clue = { dc = 0.2, rhoc = 5.0, dm = 0.4 }
    nnpuppitau_pt_min = 5.0

    [splits]                     # stable hashes of (file, Event_Number)
    signal = [0.5, 0.2, 0.3]
    zero_bias = [0.2, 0.4, 0.4]

    [rate]                       # the di-tau working points
    rate_khz = 50.0
    crossing_rate = "phase2"

    [nnpuppitau]                 # NNPuppiTau's training (NNPuppiTauTraining)
    epochs = 20

    [transformer]                # the transformer: model and train (TransformerConfig)
    model = { embed_dims = [128, 512, 128], n_heads = 8 }
    train = { learning_rate = 1e-4, batch_size = 20 }

    [evaluation]                 # l1scout.tasks.taus.study (EvaluationConfig)
    pt_edges = [5, 10, 15, 20, 25, 30, 40, 50, 60]
    id_threshold = 0.5
    charge_thresholds = [-inf, 0.0, 0.5, 0.9]
    dvz_cuts = [2.0, 5.0, 10.0, inf]
    pairs = "any"

    [tracking]                   # MLflow (l1scout.tasks.taus.pipeline)
    experiment = "l1scout-taus"
    registered_model = "l1scout-taus"   # prefix: l1scout-taus-transformer-clue, ...
    alias = "champion"

    [deploy]
    onnx = true                  # every model to ONNX, checked against torch
    firmware = true              # NNPuppiTau's hls4ml project and its emulation check

    [models]                     # reuse saved models instead of training (ModelsConfig)
    # load = "taus-output/models"  # a folder of <name>.pt; default: train

The training and evaluation tables (``[nnpuppitau]``, ``[transformer]``,
``[evaluation]``) are read by :mod:`l1scout.tasks.taus.study`; the
transformer's ``model.n_constituents`` must equal ``candidates.n_constituents``.
``[models] load`` names a folder of saved models (a run writes its own to
``OUT/models/``); a relative path is taken from the configuration file's folder
(:func:`load_tau_config`; from the working directory for a :class:`TauConfig`
built in Python). The folder must exist when the file is read; its files are
checked before any production (:func:`~l1scout.tasks.taus.model_files.load_tau_models`).

Everything is checked when the file is read (:func:`load_tau_config`), before
any production: numbers strictly (no NaN, no string for a number), process
names against the catalog, and the zero-bias sample against the rate: a
working point at ``rate_khz`` needs at least ``crossing / rate`` zero-bias
events in a split for one passing event (31,039 kHz / 50 kHz = 621), so the
validation and test splits of zero bias must each expect 10 % more than that
(:data:`RATE_MARGIN`; the hash draws the split sizes, standard deviation
about ``sqrt(n f (1 - f))``). The embedded defaults of the demo are
``demo.toml`` beside this module (:func:`demo_config`);
``examples/taus/full.toml`` is a full-size study.

Example:
    >>> cfg = TauConfig()
    >>> cfg.data.processes[:2], cfg.candidates.methods, round(cfg.rate.min_split_events)
    (('minbias', 'light_scalar_tautau_m20'), ('clue', 'ak4', 'nnpuppitau'), 621)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout._datafile import path_beside, read_toml, validate_data
from l1scout.production.job import DEFAULT_POOL_SIZE
from l1scout.production.plan import DEFAULT_SHARD_SIZE, EngineSpec
from l1scout.production.samples import SampleRequest, samples_problem
from l1scout.production.seeds import MAX_PLAN_SEED
from l1scout.reco.taus import CLUE_TAU_DC, CLUE_TAU_DM, CLUE_TAU_RHOC
from l1scout.tasks._splits import check_split_sizes
from l1scout.tasks._tracking import ExperimentName, ModelAlias, RegisteredModelName, TrackingUri
from l1scout.tasks.rates import crossing_rate_khz
from l1scout.tasks.taus.nnpuppitau import DoubleTauMenu, NNPuppiTauTraining
from l1scout.tasks.taus.transformer import TransformerConfig
from l1scout.tasks.taus.truth import MATCH_DR

__all__ = [
    "DEFAULT_TAU_SIGNALS",
    "METHODS",
    "RATE_MARGIN",
    "CandidatesConfig",
    "ClueParams",
    "ClueScanConfig",
    "DeployConfig",
    "EvaluationConfig",
    "ModelsConfig",
    "RateConfig",
    "SplitsConfig",
    "TauConfig",
    "TauSamplesConfig",
    "TrackingConfig",
    "demo_config",
    "load_tau_config",
]

_DEMO = Path(__file__).with_name("demo.toml")

#: The candidate builders: CLUE clusters, anti-kT R = 0.4 jets, NNPuppiTau's seeded cones.
METHODS: tuple[str, ...] = ("clue", "ak4", "nnpuppitau")
Method = Literal["clue", "ak4", "nnpuppitau"]

#: A zero-bias split must expect this factor times ``crossing / rate`` events.
RATE_MARGIN = 1.1

#: The default signals: catalog process -> why the study wants it. The light
#: scalars are the soft di-tau benchmarks (taus of 5-30 GeV visible pT); Z and
#: ggH to tau tau are the higher-pT references.
DEFAULT_TAU_SIGNALS: dict[str, str] = {
    "light_scalar_tautau_m20": "gg -> H2 (20 GeV) -> tau tau: the softest di-tau benchmark",
    "light_scalar_tautau_m40": "gg -> H2 (40 GeV) -> tau tau",
    "light_scalar_tautau_m60": "gg -> H2 (60 GeV) -> tau tau",
    "ZTauTau": "Z -> tau tau: a higher-pT reference",
    "ggHtautau": "gg -> H (125 GeV) -> tau tau: a higher-pT reference",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _default_signals() -> tuple[SampleRequest, ...]:
    return tuple(SampleRequest(process=name, events=50_000) for name in DEFAULT_TAU_SIGNALS)


class TauSamplesConfig(_Model):
    """The samples and how to make them (the ``[data]`` table).

    Attributes:
        zero_bias: the background of fakes and rates: minimum bias at the
            pileup below, as the anomaly task's zero bias (default 100,000 events).
        signals: the signal samples (default :data:`DEFAULT_TAU_SIGNALS`,
            50,000 events each); at least one.
        pileup: mean pileup collisions per event (Phase-2: 200).
        seed: the production's plan seed, 1 ... 225.
        pool_size: minimum-bias collisions in the shared pileup pool.
        shard_size: events per file.
        engine: where the production runs (``kind = "single"`` for a plain loop).
        workers: shortcut for ``engine.workers``.
        view: the detector view; only the Level-1 view ``L1T`` (the scouting
            stream sees the L1T PUPPI candidates).
        puppi_weights: build candidates from ``PT x PuppiW`` (True, CMS's
            PUPPI candidates) or from the unweighted ``PT``.
    """

    zero_bias: SampleRequest = SampleRequest(process="minbias", events=100_000)
    signals: tuple[SampleRequest, ...] = Field(default_factory=_default_signals, min_length=1)
    pileup: float = Field(default=200.0, ge=0, le=1000)
    seed: int = Field(default=17, ge=1, le=MAX_PLAN_SEED)
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=10_000_000)
    shard_size: int = Field(default=DEFAULT_SHARD_SIZE, ge=1, le=10_000_000)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    workers: int | None = Field(default=None, ge=1, le=4096)
    view: Literal["L1T"] = "L1T"
    puppi_weights: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> TauSamplesConfig:
        problem = samples_problem(
            self.zero_bias,
            self.signals,
            field="signals",
            shard_size=self.shard_size,
            workers=self.workers,
            engine_workers=self.engine.workers,
        )
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def processes(self) -> tuple[str, ...]:
        """Zero bias first, then the signals in order."""
        return (self.zero_bias.process, *(s.process for s in self.signals))

    @property
    def signal_names(self) -> tuple[str, ...]:
        """The signal processes in order."""
        return tuple(s.process for s in self.signals)


class ClueParams(_Model):
    """CLUE's parameters in (eta, phi) (:func:`l1scout.reco.taus.clue_tau_candidates`).

    Attributes:
        dc: density radius (default 0.2).
        rhoc: smallest seed density, GeV of pT (default 5).
        dm: outlier distance, at least ``dc`` (default 0.4).
        pt_min: smallest candidate pT kept, GeV (default 0: every cluster).
    """

    dc: float = Field(default=CLUE_TAU_DC, gt=0, le=3.2)
    rhoc: float = Field(default=CLUE_TAU_RHOC, ge=0, le=1e4)
    dm: float = Field(default=CLUE_TAU_DM, gt=0, le=3.2)
    pt_min: float = Field(default=0.0, ge=0, le=1e4)

    @model_validator(mode="after")
    def _dm_at_least_dc(self) -> ClueParams:
        if self.dm < self.dc:
            msg = f"dm: expected at least dc ({self.dc}), got {self.dm}"
            raise ValueError(msg)
        return self


def _grid(values: tuple[float, ...]) -> tuple[float, ...]:
    if len(set(values)) != len(values):
        msg = f"expected distinct values, got {list(values)}"
        raise ValueError(msg)
    return tuple(sorted(values))


class ClueScanConfig(_Model):
    """The grid of :func:`l1scout.tasks.taus.clue_scan.scan_clue` (every combination with ``dm >= dc``)."""

    dc: tuple[Annotated[float, Field(gt=0, le=3.2)], ...] = Field(
        default=(0.1, 0.2, 0.3), min_length=1
    )
    rhoc: tuple[Annotated[float, Field(ge=0, le=1e4)], ...] = Field(
        default=(2.0, 5.0, 10.0), min_length=1
    )
    dm: tuple[Annotated[float, Field(gt=0, le=3.2)], ...] = Field(
        default=(0.3, 0.4, 0.5), min_length=1
    )

    _distinct = field_validator("dc", "rhoc", "dm")(_grid)

    @model_validator(mode="after")
    def _some_point(self) -> ClueScanConfig:
        if max(self.dm) < min(self.dc):
            msg = f"dm: every value is below the smallest dc ({min(self.dc)}): no grid point"
            raise ValueError(msg)
        return self


class CandidatesConfig(_Model):
    """Which candidate builders run, with their parameters, and the truth matching.

    Attributes:
        methods: builders among :data:`METHODS`, distinct.
        clue: CLUE's parameters (tuned with ``clue_scan``).
        clue_scan: the grid of the CLUE scan.
        ak4_pt_min: smallest anti-kT R = 0.4 jet pT, GeV (default 5).
        nnpuppitau_pt_min: smallest NNPuppiTau cone pT, GeV. Default **5**,
            not NNPuppiTau's 20: the study's taus have 5-60 GeV visible pT,
            and a 20 GeV cone cut would remove most of them before any ID.
        nnpuppitau_max_taus: most NNPuppiTau cones kept per event (default 5,
            the producer's).
        match_dr: candidate-to-tau matching distance (exclusive; default 0.2,
            :data:`l1scout.tasks.taus.truth.MATCH_DR`).
        n_constituents: constituent slots of the transformer (default 16).
    """

    methods: tuple[Method, ...] = Field(default=("clue", "ak4", "nnpuppitau"), min_length=1)
    clue: ClueParams = Field(default_factory=ClueParams)
    clue_scan: ClueScanConfig = Field(default_factory=ClueScanConfig)
    ak4_pt_min: float = Field(default=5.0, ge=0, le=1e4)
    nnpuppitau_pt_min: float = Field(default=5.0, ge=0, le=1e4)
    nnpuppitau_max_taus: int = Field(default=5, ge=1, le=1000)
    match_dr: float = Field(default=MATCH_DR, gt=0, le=1.0)
    n_constituents: int = Field(default=16, ge=1, le=256)

    @field_validator("methods")
    @classmethod
    def _distinct_methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        doubled = sorted({m for m in value if value.count(m) > 1})
        if doubled:
            msg = f"expected distinct methods, repeated: {', '.join(doubled)}"
            raise ValueError(msg)
        return value


def _fractions(value: tuple[float, float, float]) -> tuple[float, float, float]:
    if any(not np.isfinite(f) or f <= 0 for f in value) or abs(sum(value) - 1.0) > 1e-9:
        msg = (
            f"expected three positive numbers (train, val, test) adding up to 1, got {list(value)}"
        )
        raise ValueError(msg)
    return value


class SplitsConfig(_Model):
    """Train / validation / test fractions, by a stable hash of (file identity, ``Event_Number``).

    :func:`l1scout.io.torchdata.split_of`: the same event is in the same split
    in every run, whatever the file order. Zero bias keeps most events for
    validation and test, where the working points and their rates are
    measured; the fakes of training are mostly the signal events' own
    (pileup) candidates.

    Attributes:
        signal: fractions of every signal sample (default 0.5 / 0.2 / 0.3).
        zero_bias: fractions of zero bias (default 0.2 / 0.4 / 0.4).
    """

    signal: tuple[float, float, float] = (0.5, 0.2, 0.3)
    zero_bias: tuple[float, float, float] = (0.2, 0.4, 0.4)

    _checked = field_validator("signal", "zero_bias")(_fractions)


class RateConfig(_Model):
    """The zero-bias rate of the di-tau working points.

    Attributes:
        rate_khz: the target rate, kHz (default 50, the study's).
        crossing_rate: the normalisation: ``"phase2"`` (default, 31,039 kHz),
            ``"run3"`` or a number in kHz (:func:`l1scout.tasks.rates.crossing_rate_khz`).
        min_pass: a rate is measurable when at least this many zero-bias
            events are expected to pass (default 10).
    """

    rate_khz: float = Field(default=50.0, gt=0)
    crossing_rate: Literal["phase2", "run3"] | Annotated[float, Field(gt=0)] = "phase2"
    min_pass: int = Field(default=10, ge=1)

    @field_validator("crossing_rate", mode="before")
    @classmethod
    def _known_crossing(cls, value: object) -> object:
        if isinstance(value, str | bool) or not isinstance(value, int | float):
            if value not in ("phase2", "run3"):
                msg = f"expected 'phase2', 'run3' or a rate in kHz, got {value!r}"
                raise ValueError(msg)
        elif not (math.isfinite(value) and value > 0):
            msg = "expected a positive finite rate in kHz (or 'phase2', 'run3')"
            raise ValueError(msg)
        return value

    @property
    def crossing_rate_khz(self) -> float:
        """The crossing rate, kHz."""
        return crossing_rate_khz(self.crossing_rate)

    @property
    def min_split_events(self) -> float:
        """Zero-bias events for one passing event at :attr:`rate_khz`: crossing / rate."""
        return self.crossing_rate_khz / self.rate_khz

    @model_validator(mode="after")
    def _below_crossing(self) -> RateConfig:
        if self.rate_khz > self.crossing_rate_khz:
            msg = (
                f"rate_khz: expected at most the crossing rate "
                f"{self.crossing_rate_khz:,.6g} kHz, got {self.rate_khz}"
            )
            raise ValueError(msg)
        return self


def _finite_grid(values: tuple[float, ...], what: str) -> tuple[float, ...]:
    if any(math.isnan(v) for v in values):
        msg = f"{what}: expected numbers, got NaN"
        raise ValueError(msg)
    return _grid(values)


class EvaluationConfig(_Model):
    """How :func:`l1scout.tasks.taus.study.evaluate_tau_models` measures the methods.

    Attributes:
        pt_edges: visible-pT bin edges of the efficiencies, the response and
            the fake counts (GeV; default 5-60 GeV in 5 and 10 GeV bins).
        id_threshold: the "ID" curves keep candidates whose ID score (the
            transformer's tau probability, NNPuppiTau's ID score) is ``>`` this.
        ditau_vis_pt: the di-tau signal: signal events with at least two prompt
            hadronic taus of visible pT in ``[low, high)`` GeV (default 5-60,
            the study's range).
        beats_vis_pt: the range of the "does the transformer beat NNPuppiTau"
            answer (default 20-60 GeV, as the seed states it): the di-tau
            efficiency at the chosen working points on the events whose
            two taus (at least) lie in it.
        charge_thresholds: the grid of opposite-sign charge-score thresholds
            (``-inf``: no charge requirement).
        dvz_cuts: the grid of ``|delta vz|`` cuts (mm; ``inf``: no cut).
        pairs: ``"any"`` (any two candidates of an event, a double-object seed)
            or ``"leading"`` (the two highest class scores only).
        double_tau: NNPuppiTau's double-tau menu seed, the fixed baseline.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=True)

    pt_edges: tuple[float, ...] = Field(
        default=(5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0), min_length=2
    )
    id_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    ditau_vis_pt: tuple[float, float] = (5.0, 60.0)
    beats_vis_pt: tuple[float, float] = (20.0, 60.0)
    charge_thresholds: tuple[float, ...] = Field(
        default=(-math.inf, 0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 0.9), min_length=1
    )
    dvz_cuts: tuple[float, ...] = Field(default=(2.0, 5.0, 10.0, 20.0, math.inf), min_length=1)
    pairs: Literal["any", "leading"] = "any"
    double_tau: DoubleTauMenu = Field(default_factory=DoubleTauMenu)

    @field_validator("pt_edges")
    @classmethod
    def _edges(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        arr = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(arr)) or arr[0] < 0 or np.any(np.diff(arr) <= 0):
            msg = f"expected finite increasing edges >= 0 (GeV), got {list(value)}"
            raise ValueError(msg)
        return value

    @field_validator("ditau_vis_pt", "beats_vis_pt")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not (math.isfinite(lo) and lo >= 0 and hi > lo) or math.isnan(hi):
            msg = f"expected [low, high) in GeV with 0 <= low < high, got {list(value)}"
            raise ValueError(msg)
        return value

    @field_validator("id_threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            msg = f"expected a finite number, got {value}"
            raise ValueError(msg)
        return value

    @field_validator("charge_thresholds")
    @classmethod
    def _charges(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        out = _finite_grid(value, "charge_thresholds")
        if any(v >= 1.0 or v == math.inf for v in out):
            msg = f"expected thresholds below 1 (a probability > 1 never passes), got {list(value)}"
            raise ValueError(msg)
        return out

    @field_validator("dvz_cuts")
    @classmethod
    def _dvz(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        out = _finite_grid(value, "dvz_cuts")
        if any(v <= 0 for v in out):
            msg = f"expected positive cuts in mm (inf: no cut), got {list(value)}"
            raise ValueError(msg)
        return out

    @property
    def max_candidates(self) -> int | None:
        """The ``max_candidates`` of :func:`~l1scout.tasks.taus.ditau.search_ditau`."""
        return 2 if self.pairs == "leading" else None


class TrackingConfig(_Model):
    """MLflow: experiment, store (None: ``$MLFLOW_TRACKING_URI``, else the local store), registry.

    Attributes:
        experiment: the experiment of the study's runs.
        uri: the tracking URI (checked when the file is read).
        registered_model: prefix of the registered models' names: each model
            is registered as ``<prefix>-<model>`` (``-nnpuppitau``,
            ``-transformer-clue``, ``-transformer-ak4``).
        alias: the alias set on each new version.
    """

    experiment: ExperimentName = "l1scout-taus"
    uri: TrackingUri | None = None
    registered_model: RegisteredModelName = "l1scout-taus"
    alias: ModelAlias = "champion"


class DeployConfig(_Model):
    """Which deployment steps run.

    Attributes:
        onnx: export every model to ONNX, check it against torch and register it.
        firmware: NNPuppiTau's hls4ml project and the bit-exact emulation
            check (needs the quantized network, ``nnpuppitau.quantized``).
    """

    onnx: bool = True
    firmware: bool = True


class ModelsConfig(_Model):
    """Saved models to reuse instead of training (the ``[models]`` table).

    Attributes:
        load: a folder holding ``<name>.pt`` for every configured method
            (``nnpuppitau.pt``, ``transformer_clue.pt``, ``transformer_ak4.pt``,
            :data:`l1scout.tasks.taus.model_files.MODEL_NAMES`), as a run writes
            them to ``OUT/models/``; None (default): train. The models are
            built from this configuration's ``transformer.model`` and
            ``nnpuppitau.quantized`` and must fit it. Relative: from the
            configuration file's folder (:func:`load_tau_config`).
    """

    load: Path | None = None

    @field_validator("load")
    @classmethod
    def _a_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            what = "is not a folder" if value.exists() else "does not exist"
            msg = f"{value} {what}; expected a folder of saved models (<name>.pt, OUT/models/)"
            raise ValueError(msg)
        return value


class TauConfig(_Model):
    """One soft-tau study: samples, candidates, splits, rate, trainings and evaluation.

    Refused here, naming the field: zero-bias validation or test splits too
    small for the rate (module docstring), signal splits expecting fewer
    than 1 event, and a transformer whose ``model.n_constituents`` differs
    from ``candidates.n_constituents``.
    """

    name: str = Field(default="taus", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    data: TauSamplesConfig = Field(default_factory=TauSamplesConfig)
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig)
    splits: SplitsConfig = Field(default_factory=SplitsConfig)
    rate: RateConfig = Field(default_factory=RateConfig)
    nnpuppitau: NNPuppiTauTraining = Field(default_factory=NNPuppiTauTraining)
    transformer: TransformerConfig = Field(default_factory=TransformerConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)

    @model_validator(mode="after")
    def _enough_zero_bias(self) -> TauConfig:
        if (
            self.deploy.firmware
            and "nnpuppitau" in self.candidates.methods
            and not self.nnpuppitau.quantized
        ):
            msg = (
                "deploy.firmware: NNPuppiTau's firmware needs nnpuppitau.quantized = true "
                "(or set deploy.firmware = false)"
            )
            raise ValueError(msg)
        k, n_slots = self.transformer.model.n_constituents, self.candidates.n_constituents
        if k != n_slots:
            msg = (
                f"transformer.model.n_constituents: expected candidates.n_constituents "
                f"({n_slots}), got {k}"
            )
            raise ValueError(msg)
        need = RATE_MARGIN * self.rate.min_split_events
        n = self.data.zero_bias.events
        for name, f in zip(("validation", "test"), self.splits.zero_bias[1:], strict=True):
            if n * f < need:
                msg = (
                    f"data.zero_bias.events: {n:,} events leave {n * f:,.0f} expected in the "
                    f"{name} split (splits.zero_bias {list(self.splits.zero_bias)}); a rate of "
                    f"{self.rate.rate_khz:g} kHz needs {math.ceil(need):,} "
                    f"({RATE_MARGIN:g} x {self.rate.crossing_rate_khz:,.6g} / "
                    f"{self.rate.rate_khz:g}): more events, or a larger fraction"
                )
                raise ValueError(msg)
        check_split_sizes(
            [s.events for s in self.data.signals],
            self.splits.signal,
            "data.signals",
            "splits.signal",
        )
        return self


def load_tau_config(path: Path | str) -> TauConfig:
    """Read and validate a soft-tau TOML file; a relative ``models.load`` is taken beside it.

    Raises:
        ConfigError: unreadable file, invalid TOML or a bad value (one line per
            bad field: the file and the dotted path of the field).
    """
    data = path_beside(read_toml(path, "soft-tau configuration"), "models", "load", path)
    return validate_data(data, TauConfig, str(path))


def demo_config() -> TauConfig:
    """The embedded demo defaults (``demo.toml`` in this package)."""
    return load_tau_config(_DEMO)
