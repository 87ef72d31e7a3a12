"""The samples of the scouting stream: zero bias and signals, made where missing.

The stream (:mod:`l1scout.tasks.scouting.words`) carries per bunch crossing
the Level-1 PUPPI candidates of the ``L1T`` view, its tight muons, its
e/gamma objects (electrons and tight photons merged), its PUPPI AK4 jets and
the energy sums. So the samples are made in the fast mode of
``docs/production.md`` (only the L1T view simulated, only the named
collections written) at the Phase-2 pileup (mean 200), by two productions,
each in its own folder with its own manifest, like the soft-tau study's
(:mod:`l1scout.tasks.taus.data`):

* ``<data_dir>/zero_bias``: the zero-bias sample, :data:`ZERO_BIAS_COLLECTIONS`
  (``L1T_PUPPIPart128``, the 128 highest-pT PUPPI candidates the Phase-2
  correlator sends, instead of every candidate);
* ``<data_dir>/signals``: the signals, the same plus ``Gen_PartHS`` (the hard
  collision's generator record: the truth taus the soft-tau model learns from).

Both plans have the same seed, pileup and pool size, so both draw their
pileup from one pool. A rerun verifies what is there and makes only what is
missing; a folder made with another configuration is refused. The files are
read as the stream sees them by :func:`read_stream_events`
(:mod:`l1scout.tasks.scouting.events`, also importable from here).

Example:
    >>> cfg = ScoutingSamplesConfig()
    >>> plans = production_plans(cfg)
    >>> sorted(plans), plans["signals"].collections[:2], cfg.signal_names[0]
    (['signals', 'zero_bias'], ('Event', 'Gen_PartHS'), 'WTo3Pi')
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from l1scout.errors import DataFormatError
from l1scout.production.driver import Progress
from l1scout.production.job import DEFAULT_POOL_SIZE
from l1scout.production.manifest import read_manifest
from l1scout.production.plan import EngineSpec, ProductionPlan
from l1scout.production.samples import (
    SampleRequest,
    check_sample_folder,
    fast_plan_of,
    files_by_process,
    produce_or_raise,
    samples_problem,
)
from l1scout.production.seeds import MAX_PLAN_SEED
from l1scout.tasks.scouting.events import StreamEvents, read_stream_events

__all__ = [
    "DEFAULT_SCOUTING_SIGNALS",
    "SIGNAL_COLLECTIONS",
    "ZERO_BIAS_COLLECTIONS",
    "ScoutingSamplesConfig",
    "SignalRequest",
    "StreamEvents",
    "ensure_scouting_samples",
    "production_plans",
    "read_stream_events",
    "scouting_dataset_hash",
    "scouting_sample_files",
]

_log = logging.getLogger(__name__)

_VIEW = "L1T"
#: Collections of the zero-bias production (the stream's objects and ``Event``).
ZERO_BIAS_COLLECTIONS: tuple[str, ...] = (
    "Event",
    "L1T_Electron",
    "L1T_JetPuppiAK4",
    "L1T_MuonTight",
    "L1T_PUPPIMET",
    "L1T_PUPPIPart128",
    "L1T_PhotonTight",
)
#: Collections of the signal production: the zero-bias ones and the hard collision's record.
SIGNAL_COLLECTIONS: tuple[str, ...] = ("Event", "Gen_PartHS", *ZERO_BIAS_COLLECTIONS[1:])

#: The default signals: catalog process -> (events, boost, why the stream wants it).
#: Each boost puts about one of the signal in an orbit (2760 filled crossings) at
#: 7.5e34 cm^-2 s^-1, from the cross sections Pythia gives (``docs/physics/scouting-orbits.md``):
#: W -> 3 pi 0.18 pb (179 nb x 1.01e-6), the 40 GeV scalar 6.0 pb, the h+ 21 pb.
DEFAULT_SCOUTING_SIGNALS: dict[str, tuple[int, float, str]] = {
    "WTo3Pi": (2_000, 1e6, "W -> 3 pions: the demonstration selection of the Phase-2 prototype"),
    "light_scalar_tautau_m40": (
        2_000,
        2.5e4,
        "gg -> H2 (40 GeV) -> tau tau: the soft di-tau selection's benchmark",
    ),
    "ADC2021_hplus60_taunu": (
        2_000,
        7e3,
        "ADC2021 h+ (60 GeV) -> tau nu: an anomaly-trigger benchmark",
    ),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SignalRequest(SampleRequest):
    """A signal sample and how often the orbits inject it.

    Attributes:
        process: a catalog name.
        events: events to generate.
        boost: the injection rate's factor over the physical one (a signal
            is placed in a filled crossing with probability ``min(1, mu x
            boost)``, ``mu`` = sigma x L / crossing rate): rare signals need
            a large one to appear in a few orbits; efficiencies do not
            depend on it, and the truth records every injection.

    >>> SignalRequest(process="WTo3Pi", events=10, boost=1e6).boost
    1000000.0
    """

    boost: float = Field(default=1.0, gt=0, le=1e15, allow_inf_nan=False)


def _default_signals() -> tuple[SignalRequest, ...]:
    return tuple(
        SignalRequest(process=name, events=n, boost=boost)
        for name, (n, boost, _) in DEFAULT_SCOUTING_SIGNALS.items()
    )


class ScoutingSamplesConfig(_Model):
    """The samples of the stream and how to make them (the ``[data]`` table).

    Attributes:
        zero_bias: minimum bias at the pileup below, the filled crossings
            (default 20,000 events; orbits reuse them, :mod:`.orbits`).
        signals: the injected signals (default :data:`DEFAULT_SCOUTING_SIGNALS`);
            may be empty (a rate-only stream).
        pileup: mean pileup collisions per event (Phase-2: 200).
        seed: the productions' plan seed, 1 ... 225.
        pool_size: minimum-bias collisions in the shared pileup pool.
        shard_size: events per file.
        engine: where the production runs (``kind = "single"`` for a plain loop).
        workers: shortcut for ``engine.workers``.
    """

    zero_bias: SampleRequest = SampleRequest(process="minbias", events=20_000)
    signals: tuple[SignalRequest, ...] = Field(default_factory=_default_signals)
    pileup: float = Field(default=200.0, ge=0, le=1000)
    seed: int = Field(default=20, ge=1, le=MAX_PLAN_SEED)
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=10_000_000)
    shard_size: int = Field(default=2_000, ge=1, le=10_000_000)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    workers: int | None = Field(default=None, ge=1, le=4096)

    @model_validator(mode="after")
    def _consistent(self) -> ScoutingSamplesConfig:
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
        return (self.zero_bias.process, *self.signal_names)

    @property
    def signal_names(self) -> tuple[str, ...]:
        """The signal processes in order."""
        return tuple(s.process for s in self.signals)

    def boost(self, process: str) -> float:
        """The injection boost of a signal (1.0 for a name that is not a signal)."""
        return next((s.boost for s in self.signals if s.process == process), 1.0)


def production_plans(cfg: ScoutingSamplesConfig) -> dict[str, ProductionPlan]:
    """The fast-mode plans: ``"zero_bias"`` and, when there are signals, ``"signals"``.

    Raises:
        ConfigError: a plan does not validate (naming the plan's fields).
    """
    plans = {
        "zero_bias": fast_plan_of(
            cfg,
            (cfg.zero_bias,),
            views=(_VIEW,),
            collections=ZERO_BIAS_COLLECTIONS,
            source="the scouting zero-bias production plan",
        )
    }
    if cfg.signals:
        plans["signals"] = fast_plan_of(
            cfg,
            cfg.signals,
            views=(_VIEW,),
            collections=SIGNAL_COLLECTIONS,
            source="the scouting signal production plan",
        )
    return plans


def scouting_sample_files(
    cfg: ScoutingSamplesConfig, data_dir: Path | str
) -> dict[str, list[Path]]:
    """The files of every sample in *data_dir*, process by process, zero bias first (they need not exist)."""
    out: dict[str, list[Path]] = {}
    for part, plan in production_plans(cfg).items():
        out.update(files_by_process(plan, Path(data_dir) / part))
    return out


def _prefixed(progress: Progress | None, part: str) -> Progress | None:
    """*progress* with the stages named after the part (``signals events``)."""
    if progress is None:
        return None
    report = progress

    def update(stage: str, done: int, total: int) -> None:
        report(f"{part} {stage}", done, total)

    return update


def ensure_scouting_samples(
    cfg: ScoutingSamplesConfig, data_dir: Path | str, progress: Progress | None = None
) -> dict[str, list[Path]]:
    """Make what is missing of the samples in *data_dir*; return every file, process by process.

    Both folders are checked before either production starts; complete
    shards are verified (SHA-256 against the manifest) and kept.

    Args:
        cfg: the samples.
        data_dir: the data folder (created if needed).
        progress: ``progress(stage, done, total)`` as ``produce`` calls it, the
            stage named after the part (``zero_bias events``, ``signals shards``).

    Returns:
        process -> its files (zero bias first, then the signals in order).

    Raises:
        ProductionError: a folder holds samples of another configuration
            (nothing is touched), cannot be written, or shards failed on every
            attempt (listed; the others are kept, rerun to retry).
        DataFormatError: a planned file missing after the production.
    """
    data_dir = Path(data_dir)
    plans = production_plans(cfg)
    for part, plan in plans.items():
        check_sample_folder(plan, data_dir / part, what="scouting data")
    for part, plan in plans.items():
        what = "scouting zero-bias sample" if part == "zero_bias" else "scouting signals"
        produce_or_raise(plan, data_dir / part, what=what, progress=_prefixed(progress, part))
    files = scouting_sample_files(cfg, data_dir)
    missing = [p for paths in files.values() for p in paths if not p.is_file()]
    if missing:
        msg = f"{data_dir}: {len(missing)} sample files missing after the production: {missing[0]}"
        raise DataFormatError(msg)
    _log.info("scouting samples in %s: %d files", data_dir, sum(len(v) for v in files.values()))
    return files


def scouting_dataset_hash(cfg: ScoutingSamplesConfig, data_dir: Path | str) -> str:
    """SHA-256 of the plans' hashes and the (file, SHA-256, events) of every file's manifest record.

    Raises:
        DataFormatError: a folder without a manifest, or a file without its record.
    """
    payload: dict[str, object] = {}
    for part, plan in production_plans(cfg).items():
        folder = Path(data_dir) / part
        manifest = read_manifest(folder) if folder.is_dir() else None
        if manifest is None:
            msg = f"{folder}: no manifest; produce the samples first (ensure_scouting_samples)"
            raise DataFormatError(msg)
        records = manifest.records()
        rows = []
        for shard in plan.shards():
            rec = records.get(shard.file)
            if rec is None:
                msg = f"{folder / shard.file}: no record in the manifest; rerun the production"
                raise DataFormatError(msg)
            rows.append([rec.file, rec.sha256, rec.events])
        payload[part] = {"plan_hash": manifest.plan_hash, "files": rows}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
