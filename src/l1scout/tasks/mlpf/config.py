"""The MLPF task's configuration: samples, splits, model, loss, training, evaluation, one TOML file.

A file has these tables, every one optional (the defaults are a full-size run,
``examples/mlpf/full.toml``)::

    name = "mlpf"

    [data]                       # the samples, produced if missing (l1scout.tasks.mlpf.data)
    samples = [
      { process = "tt0123j_5f_ckm_LO_MLM_semiLeptonic", events = 20_000 },
      { process = "QCD_HT50toInf", events = 20_000 },
    ]
    pileup = 200.0
    view = "FullReco"            # whose tracks, towers and PF/PUPPI candidates

    [splits]                     # stable hashes of (file, Event_Number)
    fractions = [0.7, 0.15, 0.15]

    [model]                      # MLPFModelConfig (l1scout.tasks.mlpf.model)
    width = 256
    bin_size = 256

    [loss]                       # MLPFLossConfig (l1scout.tasks.mlpf.loss)
    particle_weight = 10.0

    [training]                   # TrainingConfig (l1scout.tasks.mlpf.training)
    learning_rate = 3e-4
    batch_events = 4
    batch_elements = 60_000

    [evaluation]                 # MLPFEvaluationSettings (l1scout.tasks.mlpf.study)
    pt_edges = [10, 20, 30, 50, 100, 200, 500]
    match_dr = 0.1

    [tracking]                   # MLflow
    experiment = "l1scout-mlpf"
    registered_model = "l1scout-mlpf"
    alias = "champion"

    [deploy]
    onnx = true                  # ONNX export, parity with torch on test events
    triton = true                # a Triton model repository beside the ONNX file

Everything is checked when the file is read (:func:`load_mlpf_config`),
before any production: numbers strictly (no NaN, no string for a number),
process names against the catalog, the view against the shipped view cards,
the split fractions, the evaluation's bin edges; each error names the file and
the dotted path of the field. The embedded demo defaults are ``demo.toml``
beside this module (:func:`demo_config`).

Example:
    >>> cfg = MLPFConfig()
    >>> cfg.data.processes, cfg.data.view, cfg.data.pileup
    (('tt0123j_5f_ckm_LO_MLM_semiLeptonic', 'QCD_HT50toInf'), 'FullReco', 200.0)
    >>> cfg.model.width, cfg.evaluation.match_dr
    (256, 0.1)
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
from l1scout.tasks._splits import SplitsConfig, check_split_sizes
from l1scout.tasks._tracking import ExperimentName, ModelAlias, RegisteredModelName, TrackingUri
from l1scout.tasks.mlpf.loss import MLPFLossConfig
from l1scout.tasks.mlpf.model import MLPFModelConfig
from l1scout.tasks.mlpf.study import MLPFEvaluationSettings

__all__ = [
    "DEFAULT_MLPF_SAMPLES",
    "DeployConfig",
    "MLPFConfig",
    "MLPFSamplesConfig",
    "SplitsConfig",
    "TrackingConfig",
    "TrainingConfig",
    "TransferConfig",
    "demo_config",
    "load_mlpf_config",
]

_DEMO = Path(__file__).with_name("demo.toml")

#: The default samples: catalog process -> why the study wants it (the seed's
#: validation samples are top-quark pairs and QCD multijets).
DEFAULT_MLPF_SAMPLES: dict[str, str] = {
    "tt0123j_5f_ckm_LO_MLM_semiLeptonic": (
        "ttbar (one W to l nu): jets from 20 GeV up, an isolated lepton and genuine MET"
    ),
    "QCD_HT50toInf": "QCD multijets (HT > 50 GeV): the bulk of the jets, no genuine MET",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _default_samples() -> tuple[SampleRequest, ...]:
    return tuple(SampleRequest(process=name, events=20_000) for name in DEFAULT_MLPF_SAMPLES)


def _check_view(value: str) -> str:
    """*value* if it names a view card (shipped or a file), else a ValueError saying so."""
    from l1scout.detector.view_card import load_view_card

    try:
        load_view_card(value)
    except L1ScoutError as exc:
        msg = f"expected a detector view card (FullReco, L1T or a card file): {exc}"
        raise ValueError(msg) from None
    return value


class MLPFSamplesConfig(_Model):
    """The samples and how to make them (the ``[data]`` table).

    Attributes:
        samples: catalog processes and their event counts (default: ttbar and
            QCD, 20,000 events each); at least one, distinct processes.
        pileup: mean pileup collisions per event (Phase-2: 200).
        view: the detector view whose elements (``<view>_Track``,
            ``<view>_Tower``) the model reads and whose PF and PUPPI
            candidates it is compared with (default ``FullReco``).
        seed: the production's plan seed, 1 ... 225.
        pool_size: minimum-bias collisions in the shared pileup pool.
        shard_size: events per file (the reading holds one file's columns at a time).
        engine: where the production runs (``kind = "single"`` for a plain loop).
        workers: shortcut for ``engine.workers``.
    """

    samples: tuple[SampleRequest, ...] = Field(default_factory=_default_samples, min_length=1)
    pileup: float = Field(default=200.0, ge=0, le=1000)
    view: str = Field(default="FullReco", min_length=1)
    seed: int = Field(default=17, ge=1, le=MAX_PLAN_SEED)
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=10_000_000)
    shard_size: int = Field(default=DEFAULT_SHARD_SIZE, ge=1, le=10_000_000)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    workers: int | None = Field(default=None, ge=1, le=4096)

    @field_validator("view")
    @classmethod
    def _known_view(cls, value: str) -> str:
        return _check_view(value)

    @property
    def view_name(self) -> str:
        """The view's name in the files (a card file's own ``name``; ``view`` for a shipped card).

        >>> MLPFSamplesConfig().view_name
        'FullReco'
        """
        from l1scout.detector.view_card import load_view_card

        return load_view_card(self.view).name

    @model_validator(mode="after")
    def _consistent(self) -> MLPFSamplesConfig:
        seen: dict[str, int] = {}
        for i, req in enumerate(self.samples):
            if req.process in seen:
                msg = (
                    f"samples[{i}].process: {req.process!r} is already samples[{seen[req.process]}]"
                )
                raise ValueError(msg)
            seen[req.process] = i
        problem = shard_slots_problem(
            [(f"samples[{i}]", r) for i, r in enumerate(self.samples)], self.shard_size
        )
        if problem is not None:
            raise ValueError(problem)
        if self.workers is not None and self.engine.workers is not None:
            msg = "workers: give workers or engine.workers, not both"
            raise ValueError(msg)
        return self

    @property
    def processes(self) -> tuple[str, ...]:
        """The sample processes in order."""
        return tuple(s.process for s in self.samples)


PositiveInt = Annotated[int, Field(ge=1)]


class TrainingConfig(_Model):
    """Optimiser, batching, schedule and early stopping (:mod:`l1scout.tasks.mlpf.training`).

    Attributes:
        learning_rate: Adam's initial learning rate.
        batch_events: most events per mini-batch.
        batch_elements: most padded element slots per mini-batch (events x
            slots): a batch of large events holds fewer of them; one event
            larger than this is a batch alone. Memory grows with it.
        sort_window: batches are formed from windows of this many shuffled
            events sorted by their element count, so that a batch holds
            events of similar size and little padding (1: no sorting).
        max_epochs: epochs at most.
        patience: epochs without a validation improvement above ``min_delta``
            before stopping.
        min_delta: smallest validation-loss decrease that counts as one.
        lr_factor: ``ReduceLROnPlateau`` factor.
        lr_patience: ``ReduceLROnPlateau`` patience (epochs).
        seed: seed of the weights and of the shuffling.
        threads: torch CPU threads of the training, the test predictions
            and the ONNX check (None: leave torch's setting); results are
            reproducible for a fixed thread count. On a machine shared with
            other jobs, 1: torch's second thread then waits for a free core
            at every operation (the demo's epoch took 60 s on 2 threads, 9 s
            on 1).
    """

    learning_rate: float = Field(default=3e-4, gt=0.0, le=1.0)
    batch_events: PositiveInt = 4
    batch_elements: PositiveInt = 60_000
    sort_window: PositiveInt = 64
    max_epochs: PositiveInt = 50
    patience: PositiveInt = 5
    min_delta: float = Field(default=0.0, ge=0.0)
    lr_factor: float = Field(default=0.5, gt=0.0, lt=1.0)
    lr_patience: Annotated[int, Field(ge=0)] = 2
    seed: Annotated[int, Field(ge=0)] = 0
    threads: PositiveInt | None = None


class TrackingConfig(_Model):
    """MLflow: experiment, store (None: ``$MLFLOW_TRACKING_URI``, else the local store), registry.

    Attributes:
        experiment: the experiment of the task's runs.
        uri: the tracking URI (checked when the file is read).
        registered_model: the registered model's name (the ONNX model).
        alias: the alias set on each new version.
    """

    experiment: ExperimentName = "l1scout-mlpf"
    uri: TrackingUri | None = None
    registered_model: RegisteredModelName = "l1scout-mlpf"
    alias: ModelAlias = "champion"


class DeployConfig(_Model):
    """Which deployment steps run.

    Attributes:
        onnx: export the model to ONNX, check it against torch on test events
            and register it.
        triton: write a Triton model repository (``config.pbtxt`` and the
            versioned ONNX file) beside the ONNX file (needs ``onnx``).
        parity_events: test events of the ONNX parity check (the issue's 100).
    """

    onnx: bool = True
    triton: bool = True
    parity_events: PositiveInt = 100

    @model_validator(mode="after")
    def _triton_needs_onnx(self) -> DeployConfig:
        if self.triton and not self.onnx:
            msg = "triton: the Triton repository serves the ONNX file; set onnx = true or triton = false"
            raise ValueError(msg)
        return self


class TransferConfig(_Model):
    """The transfer study to a second detector card, run after the main training (off by default).

    The trained model is the pre-trained one; the samples of ``data`` are
    produced again with the card ``view`` (the same processes, pileup and
    seeds, ``events`` per process) into ``<data>/transfer-<view>``, and
    :func:`~l1scout.tasks.mlpf.transfer.transfer_study` fine-tunes it and
    trains from scratch on ``sizes`` target training events with each of
    ``seeds`` (arXiv:2503.00131, Fig. 7; ``docs/mlpf.md``).

    Attributes:
        enabled: run the study.
        view: the target detector's view card (a shipped name or a card file).
        events: events per process of the target samples (None: those of ``data``).
        sizes: target training-set sizes (None: about 1/10, 1/3 and all of
            the target training split, at least 5 events).
        seeds: one run per seed, size and mode.
        jet_pt_range: generator-jet pT range of the one-bin jet resolution (GeV).
        collection: the MLPF collection measured (against PF+CHS).
        max_epochs: epochs at most of every transfer run (None: ``training.max_epochs``).
    """

    enabled: bool = False
    view: str = Field(default="FullRecoCLD", min_length=1)
    events: PositiveInt | None = None
    sizes: tuple[PositiveInt, ...] | None = Field(default=None, min_length=1)
    seeds: tuple[Annotated[int, Field(ge=0)], ...] = Field(default=(1, 2), min_length=1)
    jet_pt_range: tuple[float, float] = (20.0, 100.0)
    collection: str = "MLPF + PU flag"
    max_epochs: PositiveInt | None = None

    @field_validator("view")
    @classmethod
    def _known_view(cls, value: str) -> str:
        return _check_view(value)

    @model_validator(mode="after")
    def _valid(self) -> TransferConfig:
        from l1scout.tasks.mlpf.study import MLPF, MLPF_PU

        if self.collection not in (MLPF, MLPF_PU):
            msg = f"collection: expected {MLPF!r} or {MLPF_PU!r}, got {self.collection!r}"
            raise ValueError(msg)
        lo, hi = self.jet_pt_range
        if not 0.0 <= lo < hi:
            msg = f"jet_pt_range: expected 0 <= low < high (GeV), got {list(self.jet_pt_range)}"
            raise ValueError(msg)
        for name, values in (("sizes", self.sizes or ()), ("seeds", self.seeds)):
            if len(set(values)) != len(values):
                raise ValueError(f"{name}: expected distinct values, got {list(values)}")
        return self

    @property
    def view_name(self) -> str:
        """The target view's name in the files (a card file's own ``name``)."""
        from l1scout.detector.view_card import load_view_card

        return load_view_card(self.view).name


class MLPFConfig(_Model):
    """One MLPF run: samples, splits, model, loss, training, evaluation, tracking, deploy."""

    name: str = Field(default="mlpf", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    data: MLPFSamplesConfig = Field(default_factory=MLPFSamplesConfig)
    splits: SplitsConfig = Field(default_factory=SplitsConfig)
    model: MLPFModelConfig = Field(default_factory=MLPFModelConfig)
    loss: MLPFLossConfig = Field(default_factory=MLPFLossConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: MLPFEvaluationSettings = Field(default_factory=MLPFEvaluationSettings)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    transfer: TransferConfig = Field(default_factory=TransferConfig)

    @model_validator(mode="after")
    def _enough_events(self) -> MLPFConfig:
        check_split_sizes(
            [s.events for s in self.data.samples],
            self.splits.fractions,
            "data.samples",
            "splits.fractions",
        )
        return self


def load_mlpf_config(path: Path | str) -> MLPFConfig:
    """Read and validate an MLPF TOML file.

    Raises:
        ConfigError: unreadable file, invalid TOML or a bad value (one line per
            bad field: the file and the dotted path of the field).
    """
    path = Path(path)
    return validate_data(read_toml(path, "MLPF configuration"), MLPFConfig, str(path))


def demo_config() -> MLPFConfig:
    """The embedded demo defaults (``demo.toml`` in this package)."""
    return load_mlpf_config(_DEMO)
