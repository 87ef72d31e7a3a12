"""The jet-tagging task's configuration: samples, jets, splits, model, training, HH -> 4b, one TOML file.

A file has these tables, every one optional (the defaults are a full-size run,
``examples/jettag/full.toml``)::

    name = "jettag"

    [data]                       # the samples, produced if missing (l1scout.tasks.jettag.data)
    samples = [
      { process = "tt0123j_5f_ckm_LO_MLM_semiLeptonic", events = 20_000 },
      { process = "minbias", events = 100_000 },
    ]
    signal = "HH_4b"             # the HH -> 4b sample of the seed study
    zero_bias = "minbias"        # the zero-bias sample of the rates
    pileup = 200.0
    views = ["L1T", "FullReco"]  # one tagger per view, trained on the same events
    jets = "JetPuppiAK4"
    pt_min = 15.0                # tagged jets: pT > pt_min (GeV), |eta| < eta_max
    eta_max = 2.4
    # source = "/data/collide2v" # a COLLIDE-2V folder <root>/<process>/*.parquet or a hub id:
                                 # read up to `events` of each process, nothing is produced

    [splits]
    fractions = [0.7, 0.15, 0.15]

    [model]                      # JetTagModelConfig (l1scout.tasks.jettag.model)

    [training]                   # JetTagTrainingConfig
    learning_rate = 2e-3
    balance_classes = true
    regression_weight = 1.0

    [hh4b]                       # HH4bConfig: the seed study in the L1T view
    rates_khz = [10.0, 30.0]
    mistag_rates = [0.01, 0.1]
    n_btags = [2, 3]

    [tracking]
    experiment = "l1scout-jettag"

    [deploy]
    onnx = true
    firmware = true

Everything is checked when the file is read (:func:`load_jettag_config`):
process names against the catalog, the signal and zero-bias samples among
the samples, the views, the split sizes; each error names the file and the
dotted path of the field. The embedded demo defaults are ``demo.toml`` beside
this module (:func:`demo_config`).

Example:
    >>> cfg = JetTagConfig()
    >>> cfg.data.views, cfg.data.signal, cfg.data.zero_bias, cfg.data.pileup
    (('L1T', 'FullReco'), 'HH_4b', 'minbias', 200.0)
    >>> cfg.hh4b.rates_khz, cfg.hh4b.n_btags
    ((10.0, 30.0), (2, 3))
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout._datafile import read_toml, validate_data
from l1scout.production.job import DEFAULT_POOL_SIZE
from l1scout.production.plan import DEFAULT_SHARD_SIZE, EngineSpec
from l1scout.production.samples import SampleRequest, shard_slots_problem
from l1scout.production.seeds import MAX_PLAN_SEED
from l1scout.tasks._splits import SplitsConfig, check_split_sizes
from l1scout.tasks._tracking import ExperimentName, ModelAlias, RegisteredModelName, TrackingUri
from l1scout.tasks.jettag.model import JetTagModelConfig
from l1scout.tasks.rates import CrossingRate

__all__ = [
    "DEFAULT_JETTAG_SAMPLES",
    "JETTAG_VIEWS",
    "HH4bConfig",
    "JetTagConfig",
    "JetTagDeployConfig",
    "JetTagSamplesConfig",
    "JetTagSplitsConfig",
    "JetTagTrackingConfig",
    "JetTagTrainingConfig",
    "demo_config",
    "load_jettag_config",
]

_DEMO = Path(__file__).with_name("demo.toml")

#: The views a tagger can be trained in (the two views of every COLLIDE-2V and l1scout file).
JETTAG_VIEWS: tuple[str, ...] = ("L1T", "FullReco")

#: The default samples: catalog process -> (events of the full-size run, what it brings).
DEFAULT_JETTAG_SAMPLES: dict[str, tuple[int, str]] = {
    "tt0123j_5f_ckm_LO_MLM_semiLeptonic": (50_000, "b, uds and c jets, prompt e and mu, taus"),
    "tt0123j_5f_ckm_LO_MLM_hadronic": (30_000, "b, uds and c jets"),
    "QCD_HT50toInf": (50_000, "gluon and uds jets"),
    "QCD_HT50tobb": (30_000, "b jets"),
    "ZJetsTocc_13TeV-madgraphMLM-pythia8": (30_000, "c jets"),
    "ggHtautau": (30_000, "hadronic tau+ and tau- jets"),
    "DYJetsToLL_13TeV-madgraphMLM-pythia8": (30_000, "prompt electrons, muons and taus"),
    "HH_4b": (30_000, "the HH -> 4b signal of the seed study (b jets)"),
    "minbias": (200_000, "zero bias at pileup 200: the rates of the seed study"),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _default_samples() -> tuple[SampleRequest, ...]:
    return tuple(
        SampleRequest(process=name, events=n) for name, (n, _) in DEFAULT_JETTAG_SAMPLES.items()
    )


class JetTagSamplesConfig(_Model):
    """The samples, how to make them (or where to read them) and which jets are tagged (``[data]``).

    Attributes:
        samples: catalog processes and their event counts (default
            :data:`DEFAULT_JETTAG_SAMPLES`); distinct processes, among them
            :attr:`signal` and :attr:`zero_bias`.
        signal: the HH -> 4b sample of the seed study.
        zero_bias: the zero-bias sample whose events define the rates (minimum
            bias at pileup 200 in the L1T view is a zero-bias crossing).
        pileup: mean pileup collisions per event, the same for every sample
            (the tagger would otherwise learn the pileup, and HT must be what
            the zero bias sees); 200 for rates that mean something.
        seed: the production's plan seed, 1 ... 225.
        pool_size: minimum-bias collisions in the shared pileup pool.
        shard_size: events per file.
        engine: where the production runs.
        workers: shortcut for ``engine.workers``.
        source: None (produce the samples), or a COLLIDE-2V folder laid out as
            the hub (``<root>/<process>/*.parquet``) or a hub dataset id: then
            nothing is produced and up to ``events`` events of each process
            are read from it.
        views: the views a tagger is trained in, L1T first (the seed study uses L1T).
        jets: the jet collection tagged.
        pt_min: tagged jets have ``pT > pt_min`` (GeV).
        eta_max: tagged jets have ``|eta| < eta_max``.
        n_constituents: constituents per jet (the Phase-2 tagger: 16).
    """

    samples: tuple[SampleRequest, ...] = Field(default_factory=_default_samples, min_length=2)
    signal: str = Field(default="HH_4b", min_length=1)
    zero_bias: str = Field(default="minbias", min_length=1)
    pileup: float = Field(default=200.0, ge=0, le=1000)
    seed: int = Field(default=17, ge=1, le=MAX_PLAN_SEED)
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=10_000_000)
    shard_size: int = Field(default=DEFAULT_SHARD_SIZE, ge=1, le=10_000_000)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    workers: int | None = Field(default=None, ge=1, le=4096)
    source: str | None = Field(default=None, min_length=1)
    views: tuple[str, ...] = Field(default=JETTAG_VIEWS, min_length=1)
    jets: str = Field(default="JetPuppiAK4", pattern=r"^[A-Za-z0-9]+$")
    pt_min: float = Field(default=15.0, ge=0.0)
    eta_max: float = Field(default=2.4, gt=0.0, le=10.0)
    n_constituents: int = Field(default=16, ge=1, le=256)

    @field_validator("views")
    @classmethod
    def _known_views(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if v not in JETTAG_VIEWS]
        if bad:
            msg = f"expected views among {list(JETTAG_VIEWS)}, got {bad}"
            raise ValueError(msg)
        if len(set(value)) != len(value):
            msg = f"expected each view once, got {list(value)}"
            raise ValueError(msg)
        if value[0] != "L1T":
            msg = f"expected L1T first (the HH -> 4b seed is a Level-1 seed), got {list(value)}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> JetTagSamplesConfig:
        seen: dict[str, int] = {}
        for i, req in enumerate(self.samples):
            if req.process in seen:
                msg = (
                    f"samples[{i}].process: {req.process!r} is already samples[{seen[req.process]}]"
                )
                raise ValueError(msg)
            seen[req.process] = i
        for field, name in (("signal", self.signal), ("zero_bias", self.zero_bias)):
            if name not in seen:
                msg = f"{field}: {name!r} is not among the samples {list(seen)}"
                raise ValueError(msg)
        if self.signal == self.zero_bias:
            raise ValueError("zero_bias: expected another sample than the signal")
        problem = shard_slots_problem(
            [(f"samples[{i}]", r) for i, r in enumerate(self.samples)], self.shard_size
        )
        if problem is not None:
            raise ValueError(problem)
        if self.workers is not None and self.engine.workers is not None:
            raise ValueError("workers: give workers or engine.workers, not both")
        return self

    @property
    def processes(self) -> tuple[str, ...]:
        """The sample processes in order."""
        return tuple(s.process for s in self.samples)


#: The ``[splits]`` table (:class:`l1scout.tasks._splits.SplitsConfig`).
JetTagSplitsConfig = SplitsConfig

PositiveInt = Annotated[int, Field(ge=1)]


class JetTagTrainingConfig(_Model):
    """The tagger's training (:mod:`l1scout.tasks.jettag.training`).

    Attributes:
        learning_rate: Adam's learning rate.
        batch_size: jets per mini-batch.
        max_epochs: epochs at most.
        patience: epochs without a validation-loss improvement above ``min_delta`` before stopping.
        min_delta: the smallest decrease that counts as one.
        balance_classes: weight each class by the inverse of its training
            frequency (normalised to a mean weight of 1 per labelled jet), so
            that rare classes (c, e, mu) count as much as b and uds.
        regression_weight: weight of the pT regression loss next to the classification's.
        huber_delta: the Huber loss's transition of the regression (target
            ``log(gen pT / jet pT)``, dimensionless).
        max_train_jets: keep at most this many labelled training jets (a
            random subset; None: all).
        seed: seed of the weights and the shuffling.
        threads: torch CPU threads (None: torch's setting); 1 on a shared machine.
    """

    learning_rate: float = Field(default=2e-3, gt=0.0, le=1.0)
    batch_size: PositiveInt = 512
    max_epochs: PositiveInt = 50
    patience: PositiveInt = 5
    min_delta: float = Field(default=0.0, ge=0.0)
    balance_classes: bool = True
    regression_weight: float = Field(default=1.0, ge=0.0)
    huber_delta: float = Field(default=0.1, gt=0.0)
    max_train_jets: PositiveInt | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    threads: PositiveInt | None = None


class HH4bConfig(_Model):
    """The HH -> 4b seed study in the L1T view (:mod:`l1scout.tasks.jettag.hh4b`).

    Attributes:
        rates_khz: the zero-bias rates of both seeds (kHz). A rate is
            measurable when ``min_pass`` zero-bias test events are expected
            above its threshold: 10 kHz needs about 31,000 zero-bias test events.
        mistag_rates: the b-tag working points, as light-jet (uds, gluon)
            mistag rates of the L1T tagger's b score on the test jets.
        n_btags: b-tagged jets the second seed asks for.
        ht_pt_min: jets in HT have ``pT > ht_pt_min`` (GeV; Phase-2 L1 HT: 30).
        ht_eta_max: and ``|eta| < ht_eta_max`` (2.4).
        crossing_rate: ``"phase2"`` (31,039 kHz), ``"run3"`` or a rate in kHz.
        min_pass: zero-bias events expected above a threshold for its rate to be measurable.
    """

    rates_khz: tuple[float, ...] = Field(default=(10.0, 30.0), min_length=1)
    mistag_rates: tuple[float, ...] = Field(default=(0.01, 0.1), min_length=1)
    n_btags: tuple[int, ...] = Field(default=(2, 3), min_length=1)
    ht_pt_min: float = Field(default=30.0, ge=0.0)
    ht_eta_max: float = Field(default=2.4, gt=0.0)
    crossing_rate: CrossingRate = "phase2"
    min_pass: PositiveInt = 10

    @field_validator("rates_khz")
    @classmethod
    def _rates(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(r <= 0 for r in value) or len(set(value)) != len(value):
            msg = f"expected distinct positive rates in kHz, got {list(value)}"
            raise ValueError(msg)
        return value

    @field_validator("mistag_rates")
    @classmethod
    def _mistags(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < m <= 1 for m in value) or len(set(value)) != len(value):
            msg = f"expected distinct mistag rates in (0, 1], got {list(value)}"
            raise ValueError(msg)
        return value

    @field_validator("n_btags")
    @classmethod
    def _n_btags(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(n < 1 for n in value) or len(set(value)) != len(value):
            msg = f"expected distinct b-tag counts >= 1, got {list(value)}"
            raise ValueError(msg)
        return value


class JetTagTrackingConfig(_Model):
    """MLflow: experiment, store (None: ``$MLFLOW_TRACKING_URI``, else the local store), registry.

    Attributes:
        experiment: the experiment of the task's runs.
        uri: the tracking URI.
        registered_model: the registered model's name (the L1T tagger's ONNX file).
        alias: the alias set on each new version.
    """

    experiment: ExperimentName = "l1scout-jettag"
    uri: TrackingUri | None = None
    registered_model: RegisteredModelName = "l1scout-jettag"
    alias: ModelAlias = "champion"


class JetTagDeployConfig(_Model):
    """Which deployment steps run.

    Attributes:
        onnx: export each view's tagger to ONNX and check it against torch on test jets.
        firmware: the L1T tagger through hls4ml with its bit-exact emulation.
        parity_jets: test jets of the ONNX parity check.
        emulation_jets: jets of the bit-exact check of the fast emulation (the
            test jets, repeated when there are fewer; the issue's 10^5).
        hls_jets: jets run through hls4ml's C++ emulation (slow: a subset; 0: the
            hls4ml project is not built, the integer emulation is still checked).
    """

    onnx: bool = True
    firmware: bool = True
    parity_jets: PositiveInt = 1000
    emulation_jets: PositiveInt = 100_000
    hls_jets: Annotated[int, Field(ge=0)] = 500


class JetTagConfig(_Model):
    """One jet-tagging run: samples, splits, model, training, HH -> 4b, tracking, deploy."""

    name: str = Field(default="jettag", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    data: JetTagSamplesConfig = Field(default_factory=JetTagSamplesConfig)
    splits: JetTagSplitsConfig = Field(default_factory=JetTagSplitsConfig)
    model: JetTagModelConfig = Field(default_factory=JetTagModelConfig)
    training: JetTagTrainingConfig = Field(default_factory=JetTagTrainingConfig)
    hh4b: HH4bConfig = Field(default_factory=HH4bConfig)
    tracking: JetTagTrackingConfig = Field(default_factory=JetTagTrackingConfig)
    deploy: JetTagDeployConfig = Field(default_factory=JetTagDeployConfig)

    @model_validator(mode="after")
    def _enough_events(self) -> JetTagConfig:
        check_split_sizes(
            [s.events for s in self.data.samples],
            self.splits.fractions,
            "data.samples",
            "splits.fractions",
        )
        return self


def load_jettag_config(path: Path | str) -> JetTagConfig:
    """Read and validate a jet-tagging TOML file.

    Raises:
        ConfigError: unreadable file, invalid TOML or a bad value (one line per
            bad field: the file and the dotted path of the field).
    """
    path = Path(path)
    return validate_data(read_toml(path, "jet-tagging configuration"), JetTagConfig, str(path))


def demo_config() -> JetTagConfig:
    """The embedded demo defaults (``demo.toml`` in this package)."""
    return load_jettag_config(_DEMO)
