"""The compression task's configuration: samples, splits, codecs, fidelity, deployment, one TOML file.

A file has these tables, every one optional (the defaults are a full-size run)::

    name = "compress"

    [data]                       # the samples, produced if missing (CompressDataConfig)
    zero_bias = { process = "minbias", events = 20_000 }
    processes = [{ process = "tt0123j_5f_ckm_LO_MLM_semiLeptonic", events = 4_000 }, ...]
    pileup = 200.0
    candidates = 128

    [splits]                     # stable hash of (file, Event_Number): train / validation / test
    fractions = [0.6, 0.2, 0.2]

    [baselines]                  # which baselines, and the scan of quantization bit widths
    which = ["float16_parquet", "words_zstd", "int_pack", "quantized"]
    quantized = [{ pt = 8, eta = 8, phi = 8, z0 = 6, puppi_w = 4 }, ...]

    [learned.set_ae]             # the set autoencoder: scan of latent sizes x bit widths
    latent = [16, 32, 64]
    bits = [4, 6, 8]

    [learned.vicreg]             # the self-supervised embedding
    embed_dim = [16, 32]
    bits = [6, 8]

    [fidelity]                   # the fixed rate, the floors, the goal
    rate_khz = 100.0

    [deploy]                     # ONNX throughput and operation count of each encoder
    threads = 2

    [tracking]
    experiment = "l1scout-compress"

    [report]
    budgets = [16, 32, 64, 128, 256, 512, 1024]

**Splits.** Every event of every sample falls in one of three parts by
:func:`l1scout.io.torchdata.split_of`, a stable hash of (file identity,
``Event_Number``) with ``splits.fractions``: the learned codecs and the
downstream models learn on the first, stop early on the second, and every
codec is measured (bytes per event, fidelity, downstream) on the third only.

**Checks when the file is read**, before any production: numbers strictly,
process names against the catalog (each once), every sample leaving at
least one expected event in each part, the zero-bias test part large enough
for the fixed rate (``events x fraction x rate / crossing rate`` at least
``fidelity.min_expected`` events), at least one codec, a quantization setting of
each field within 1 ... 16 bits, the budgets increasing. The embedded demo
defaults are ``demo.toml`` beside this module (:func:`demo_config`);
``examples/compress/full.toml`` is a larger run.

Example:
    >>> cfg = CompressConfig()
    >>> cfg.data.processes_all[:2], cfg.fidelity.resolution_goal, cfg.fidelity.bytes_factor
    (('minbias', 'tt0123j_5f_ckm_LO_MLM_semiLeptonic'), 0.05, 10.0)
    >>> len(cfg.learned.set_ae.points()), cfg.learned.set_ae.points()[0]
    (9, (16, 4))
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout._datafile import read_toml, validate_data
from l1scout.production.job import DEFAULT_POOL_SIZE
from l1scout.production.plan import EngineSpec
from l1scout.production.samples import SampleRequest, samples_problem
from l1scout.production.seeds import MAX_PLAN_SEED
from l1scout.tasks._splits import SplitsConfig, check_split_sizes
from l1scout.tasks._tracking import ExperimentName, TrackingUri
from l1scout.tasks.rates import CROSSING_RATE_KHZ

__all__ = [
    "BASELINE_FAMILIES",
    "DEFAULT_PROCESSES",
    "BaselinesConfig",
    "CompressConfig",
    "CompressDataConfig",
    "DeployConfig",
    "FidelityConfig",
    "LearnedConfig",
    "QuantBits",
    "ReportConfig",
    "SetAEConfig",
    "TrackingConfig",
    "VicregConfig",
    "demo_config",
    "load_compress_config",
]

_DEMO = Path(__file__).with_name("demo.toml")
#: The baseline codec families, in the order they are measured.
BASELINE_FAMILIES: tuple[str, ...] = ("float16_parquet", "words_zstd", "int_pack", "quantized")
#: The default processes besides zero bias: catalog name -> (events, why).
DEFAULT_PROCESSES: dict[str, tuple[int, str]] = {
    "tt0123j_5f_ckm_LO_MLM_semiLeptonic": (4_000, "ttbar: jets, a lepton and genuine MET"),
    "light_scalar_tautau_m40": (4_000, "gg -> H2 (40 GeV) -> tau tau: the soft di-tau benchmark"),
    "ADC2021_hplus60_taunu": (4_000, "ADC2021 h+ (60 GeV) -> tau nu: an anomaly benchmark"),
}

_Bits = Annotated[int, Field(ge=1, le=16)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _default_processes() -> tuple[SampleRequest, ...]:
    return tuple(SampleRequest(process=p, events=n) for p, (n, _) in DEFAULT_PROCESSES.items())


class CompressDataConfig(_Model):
    """The samples and how to make them (the ``[data]`` table).

    One fast-mode production (``docs/production.md``) of the L1T view with the
    collections the scouting stream carries
    (:data:`l1scout.tasks.scouting.samples.ZERO_BIAS_COLLECTIONS`), at the
    Phase-2 pileup, every process from one pileup pool.

    Attributes:
        zero_bias: minimum bias (the zero-bias stream; default 20,000 events).
        processes: the other processes (default :data:`DEFAULT_PROCESSES`:
            ttbar, the soft di-tau and the h+ -> tau nu signals); at least one.
        pileup: mean pileup collisions per event (Phase-2: 200).
        candidates: PUPPI candidates per event, the highest pT (the stream's 128).
        seed: the production's plan seed, 1 ... 225.
        pool_size: minimum-bias collisions in the shared pileup pool.
        shard_size: events per file.
        engine: where the production runs.
        workers: shortcut for ``engine.workers``.
    """

    zero_bias: SampleRequest = SampleRequest(process="minbias", events=20_000)
    processes: tuple[SampleRequest, ...] = Field(default_factory=_default_processes, min_length=1)
    pileup: float = Field(default=200.0, ge=0, le=1000)
    candidates: int = Field(default=128, ge=1, le=128)
    seed: int = Field(default=21, ge=1, le=MAX_PLAN_SEED)
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=10_000_000)
    shard_size: int = Field(default=2_000, ge=1, le=10_000_000)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    workers: int | None = Field(default=None, ge=1, le=4096)

    @model_validator(mode="after")
    def _consistent(self) -> CompressDataConfig:
        problem = samples_problem(
            self.zero_bias,
            self.processes,
            field="processes",
            shard_size=self.shard_size,
            workers=self.workers,
            engine_workers=self.engine.workers,
        )
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def processes_all(self) -> tuple[str, ...]:
        """Zero bias first, then the other processes in order."""
        return (self.zero_bias.process, *self.signal_names)

    @property
    def signal_names(self) -> tuple[str, ...]:
        """The processes besides zero bias, in order."""
        return tuple(r.process for r in self.processes)


class QuantBits(_Model):
    """One setting of the quantization baseline: bits per PUPPI field (particle type + charge: 3 bits).

    Attributes:
        pt: bits of pT (a log scale).
        eta: bits of eta (uniform).
        phi: bits of phi (uniform).
        z0: bits of z0 (uniform; charged candidates).
        puppi_w: bits of the PUPPI weight (uniform).

    >>> QuantBits(pt=8, eta=8, phi=8, z0=6, puppi_w=4).total
    37
    """

    pt: _Bits = 8
    eta: _Bits = 8
    phi: _Bits = 8
    z0: _Bits = 6
    puppi_w: _Bits = 4

    @property
    def total(self) -> int:
        """Bits of one candidate, the 3 of particle type and charge included."""
        return self.pt + self.eta + self.phi + self.z0 + self.puppi_w + 3


def _default_scan() -> tuple[QuantBits, ...]:
    return (
        QuantBits(pt=6, eta=6, phi=6, z0=4, puppi_w=2),
        QuantBits(pt=8, eta=8, phi=8, z0=6, puppi_w=4),
        QuantBits(pt=10, eta=10, phi=10, z0=8, puppi_w=6),
    )


class BaselinesConfig(_Model):
    """The baselines (the ``[baselines]`` table).

    Attributes:
        which: the families measured (:data:`BASELINE_FAMILIES`; may be empty).
        quantized: the scan of bit widths of the ``quantized`` family.
        zstd_level: the zstd level of every payload (1 ... 22).
    """

    which: tuple[Literal["float16_parquet", "words_zstd", "int_pack", "quantized"], ...] = (
        "float16_parquet",
        "words_zstd",
        "int_pack",
        "quantized",
    )
    quantized: tuple[QuantBits, ...] = Field(default_factory=_default_scan, min_length=1)
    zstd_level: int = Field(default=19, ge=1, le=22)

    @field_validator("which")
    @classmethod
    def _once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            msg = f"expected each family once, got {list(value)}"
            raise ValueError(msg)
        return value


class _TrainTable(_Model):
    """Training shared by the learned codecs.

    Attributes:
        epochs: most epochs.
        batch_size: events per step.
        lr: Adam's learning rate.
        patience: epochs without a better validation loss before stopping.
        seed: the torch seed.
        threads: torch threads.
    """

    epochs: int = Field(default=40, ge=1, le=10_000)
    batch_size: int = Field(default=256, ge=1, le=65_536)
    lr: float = Field(default=1e-3, gt=0, le=1.0)
    patience: int = Field(default=6, ge=1, le=10_000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    threads: int = Field(default=2, ge=1, le=256)


class SetAEConfig(_TrainTable):
    """The set autoencoder (``[learned.set_ae]``): scanned over latent size x bit width.

    Attributes:
        enabled: train and measure it.
        latent: the latent sizes of the scan (one model each).
        bits: the bits per latent dimension of the scan (the same model, quantized).
        encoder: ``"deepsets"`` (per-particle MLP + masked sum and max pooling;
            the only encoder of :mod:`~l1scout.tasks.compress.autoencoder`).
        hidden: the width of the encoder's and decoder's layers.
        slots: particles the decoder emits (at most ``data.candidates``).
        loss: ``"chamfer"`` or ``"sinkhorn"`` (entropic earth mover's distance).
        sinkhorn_epsilon: the entropic regularisation of ``sinkhorn``.
        sinkhorn_iterations: its iterations.
    """

    enabled: bool = True
    latent: tuple[Annotated[int, Field(ge=1, le=4096)], ...] = Field(
        default=(16, 32, 64), min_length=1
    )
    bits: tuple[_Bits, ...] = Field(default=(4, 6, 8), min_length=1)
    encoder: Literal["deepsets"] = "deepsets"
    hidden: int = Field(default=128, ge=1, le=4096)
    slots: int = Field(default=128, ge=1, le=128)
    loss: Literal["chamfer", "sinkhorn"] = "chamfer"
    sinkhorn_epsilon: float = Field(default=0.05, gt=0, le=10.0)
    sinkhorn_iterations: int = Field(default=50, ge=1, le=10_000)

    def points(self) -> list[tuple[int, int]]:
        """The scan's (latent size, bits) points, latent size first."""
        return [(d, b) for d in self.latent for b in self.bits] if self.enabled else []


class VicregConfig(_TrainTable):
    """The self-supervised embedding (``[learned.vicreg]``): the anomaly task's VICReg recipe.

    Attributes:
        enabled: train and measure it.
        embed_dim: the embedding sizes of the scan (one model each).
        bits: the bits per stored dimension of the scan.
        hidden: the encoder's width.
    """

    enabled: bool = True
    embed_dim: tuple[Annotated[int, Field(ge=1, le=4096)], ...] = Field(
        default=(16, 32), min_length=1
    )
    bits: tuple[_Bits, ...] = Field(default=(6, 8), min_length=1)
    hidden: int = Field(default=128, ge=1, le=4096)

    def points(self) -> list[tuple[int, int]]:
        """The scan's (embedding size, bits) points."""
        return [(d, b) for d in self.embed_dim for b in self.bits] if self.enabled else []


class LearnedConfig(_Model):
    """The learned codecs (the ``[learned]`` table): ``set_ae`` and ``vicreg``."""

    set_ae: SetAEConfig = Field(default_factory=SetAEConfig)
    vicreg: VicregConfig = Field(default_factory=VicregConfig)


class FidelityConfig(_Model):
    """Fidelity and downstream usefulness (the ``[fidelity]`` table).

    Attributes:
        rate_khz: the fixed zero-bias rate of the downstream efficiencies (kHz
            of the 31,039 kHz crossing rate; the test part must resolve it).
        ht_floor: events with an original HT below this (GeV) are left out of
            the HT response and counted.
        met_floor: the same for MET (GeV).
        jet_floor: the same for the leading jets' pT (GeV).
        min_expected: zero-bias test events expected above the fixed rate's
            threshold (``events x fraction x rate / 31,039 kHz``), checked when
            the file is read: the rate's relative uncertainty is about
            ``1 / sqrt(min_expected)``.
        min_events: a process's response and resolution of a quantity count
            in the plots, the tables and the goal only when at least this many
            of its test events are above the floor (fewer: left out; a
            quantile of a handful of events says little).
        resolution_goal: the goal's HT and MET resolution (0.05: 5 %).
        bytes_factor: the goal's reduction of bytes per event against
            float16 Parquet + zstd (10: ten times fewer).
        downstream_epochs: most epochs of each downstream model (trained once
            on the original training events).
    """

    rate_khz: float = Field(default=100.0, gt=0, le=CROSSING_RATE_KHZ)
    ht_floor: float = Field(default=50.0, ge=0, le=10_000)
    met_floor: float = Field(default=20.0, ge=0, le=10_000)
    jet_floor: float = Field(default=30.0, ge=0, le=10_000)
    min_expected: int = Field(default=10, ge=1, le=1_000_000)
    min_events: int = Field(default=20, ge=1, le=1_000_000)
    resolution_goal: float = Field(default=0.05, gt=0, le=10.0)
    bytes_factor: float = Field(default=10.0, gt=1, le=1e6)
    downstream_epochs: int = Field(default=30, ge=1, le=10_000)


class DeployConfig(_Model):
    """The deployment stage (the ``[deploy]`` table).

    Attributes:
        enabled: export each trained encoder to ONNX, check it against torch,
            time it and count its operations.
        threads: ONNX Runtime threads of the throughput (the 2 cores here).
        events: events of the throughput measurement (test events, repeated if needed).
        batch: events per ONNX Runtime call.
    """

    enabled: bool = True
    threads: int = Field(default=2, ge=1, le=256)
    events: int = Field(default=2_000, ge=1, le=10_000_000)
    batch: int = Field(default=256, ge=1, le=1_000_000)


class TrackingConfig(_Model):
    """MLflow: the experiment and the store (None: ``$MLFLOW_TRACKING_URI``, else the local store)."""

    experiment: ExperimentName = "l1scout-compress"
    uri: TrackingUri | None = None


class ReportConfig(_Model):
    """The HTML report (the ``[report]`` table).

    Attributes:
        budgets: the byte budgets (bytes per event, increasing) of the table
            of the best codec at each budget.
        dpi: resolution of the plots.
    """

    budgets: tuple[Annotated[float, Field(gt=0, le=1e9)], ...] = Field(
        default=(16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0), min_length=1
    )
    dpi: int = Field(default=70, ge=20, le=600)

    @field_validator("budgets")
    @classmethod
    def _increasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(b >= a for a, b in zip(value[1:], value[:-1], strict=True)):
            msg = f"expected increasing byte budgets, got {list(value)}"
            raise ValueError(msg)
        return value


class CompressConfig(_Model):
    """One compression run: samples, splits, baselines, learned codecs, fidelity, deploy, tracking, report."""

    name: str = Field(default="compress", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    data: CompressDataConfig = Field(default_factory=CompressDataConfig)
    splits: SplitsConfig = SplitsConfig(fractions=(0.6, 0.2, 0.2))
    baselines: BaselinesConfig = Field(default_factory=BaselinesConfig)
    learned: LearnedConfig = Field(default_factory=LearnedConfig)
    fidelity: FidelityConfig = Field(default_factory=FidelityConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    @model_validator(mode="after")
    def _consistent(self) -> CompressConfig:
        fractions = self.splits.fractions
        check_split_sizes(
            [self.data.zero_bias.events], fractions, "data.zero_bias", "splits.fractions"
        )
        check_split_sizes(
            [r.events for r in self.data.processes], fractions, "data.processes", "splits.fractions"
        )
        if not self.baselines.which and not self.learned_points():
            msg = "baselines.which: no baseline and no learned codec; expected at least one codec"
            raise ValueError(msg)
        if self.learned.set_ae.slots > self.data.candidates:
            msg = (
                f"learned.set_ae.slots: {self.learned.set_ae.slots} slots exceed "
                f"data.candidates ({self.data.candidates})"
            )
            raise ValueError(msg)
        n_test = self.data.zero_bias.events * fractions[2]
        need = self.fidelity.min_expected * CROSSING_RATE_KHZ / self.fidelity.rate_khz
        if n_test < need:
            msg = (
                f"fidelity.rate_khz: {self.fidelity.rate_khz:g} kHz needs {math.ceil(need):,} "
                f"zero-bias events expected in the test part ({self.fidelity.min_expected} x "
                f"{CROSSING_RATE_KHZ:,.6g} / {self.fidelity.rate_khz:g}); data.zero_bias.events "
                f"{self.data.zero_bias.events:,} x splits.fractions[2] = {fractions[2]:g} gives "
                f"{n_test:,.0f}: a higher rate, more events or a larger fraction"
            )
            raise ValueError(msg)
        return self

    def learned_points(self) -> list[tuple[str, int, int]]:
        """Every learned setting: (family, latent or embedding size, bits)."""
        return [("set_ae", d, b) for d, b in self.learned.set_ae.points()] + [
            ("vicreg", d, b) for d, b in self.learned.vicreg.points()
        ]


def load_compress_config(path: Path | str) -> CompressConfig:
    """Read and validate a compression TOML file.

    Raises:
        ConfigError: unreadable file, invalid TOML or a bad value (one line per
            bad field: the file and the dotted path of the field).
    """
    path = Path(path)
    return validate_data(read_toml(path, "compress configuration"), CompressConfig, str(path))


def demo_config() -> CompressConfig:
    """The embedded demo defaults (``demo.toml`` in this package)."""
    return load_compress_config(_DEMO)
