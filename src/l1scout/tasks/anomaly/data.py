"""The data of the anomaly-detection trigger: zero bias and signals as (n, 57) trigger inputs.

The background of an anomaly trigger is **zero bias**: every bunch crossing
the Level-1 trigger sees, i.e. minimum-bias collisions overlaid with the
Phase-2 pileup (mean 200). The signals are processes a trigger physicist wants
the anomaly trigger to catch (:data:`DEFAULT_SIGNALS`). Each event becomes the
57 AXOL1TL inputs of the L1T view in physical units
(:func:`l1scout.io.trigger_inputs.trigger_inputs`; scaling happens in training).

:class:`AnomalyDataConfig` says what is needed; :func:`ensure_samples` makes
what is missing in a data folder with one production
(:func:`l1scout.production.driver.produce`) in the fast mode of
``docs/production.md``: only the L1T view is simulated and only the
collections the trigger inputs read (plus ``Event``) are written, about
0.5 kB per event. The production resumes: a rerun verifies the shards that are
there and makes only the missing or broken ones; a folder made with another
configuration is refused (use a new data folder). :func:`load_anomaly_data`
reads the files into :class:`AnomalyData`:

* zero bias is split into train / validation / test (default 65 / 20 / 15 %)
  by :func:`l1scout.io.torchdata.split_of`, a stable hash of (file identity,
  ``Event_Number``): the same event is in the same split in every run, on
  every machine, whatever the file order or the number of files;
* every signal sample is split into a validation part and a test part
  (default 50 / 50 %, ``signal_fractions``) by the same kind of stable hash,
  of (file identity salted with ``signal_split_seed``, ``Event_Number``)
  (:func:`signal_split`): models train on zero bias alone (an anomaly
  detector never sees signal); the validation parts, with the zero-bias
  validation split, are where the pipeline chooses its model, and the test
  parts, with the zero-bias test split, give the efficiencies it reports, so
  the numbers quoted are not the ones the choice was made on. Another
  ``signal_split_seed`` draws another, independent split;
* ``dataset_hash`` identifies the data (the production's plan hash and the
  SHA-256 of every file, from the manifest) for the experiment tracking.

The reading and the splits are :mod:`l1scout.tasks.anomaly.inputs`.
:func:`load_inputs` and :func:`anomaly_data_from_files` read files a user
already has (an earlier production, or COLLIDE-2V files, which
:func:`l1scout.io.dataset.open_dataset` reads too) without producing anything.

Example:
    >>> cfg = AnomalyDataConfig(zero_bias={"process": "minbias", "events": 1000}, signals=[],
    ...                         shard_size=500)
    >>> plan = cfg.production_plan()
    >>> plan.views, plan.collections[:3], [s.file for s in plan.shards()][:1]
    (('L1T',), ('Event', 'L1T_Electron', 'L1T_JetPuppiAK4'), ['minbias/minbias-NEVENT500-RS240020001.parquet'])
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from l1scout._datafile import validate_data
from l1scout._types import F32
from l1scout.detector.view_card import load_view_card
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.paths import Source
from l1scout.io.trigger_inputs import trigger_input_columns
from l1scout.production.driver import ProductionSummary, Progress
from l1scout.production.job import DEFAULT_POOL_SIZE
from l1scout.production.manifest import (
    MANIFEST_NAME,
    Manifest,
    read_manifest,
)
from l1scout.production.plan import DEFAULT_SHARD_SIZE, EngineSpec, ProductionPlan
from l1scout.production.samples import (
    SampleRequest,
    check_sample_folder,
    fast_plan,
    files_by_process,
    produce_or_raise,
    shard_slots_problem,
)
from l1scout.production.seeds import MAX_PLAN_SEED
from l1scout.tasks.anomaly.inputs import (
    DEFAULT_FRACTIONS,
    DEFAULT_SIGNAL_FRACTIONS,
    load_inputs,
    load_split_inputs,
    open_inputs,
    signal_inputs,
    signal_split,
    split_inputs,
)

__all__ = [
    "DEFAULT_FRACTIONS",
    "DEFAULT_SIGNALS",
    "DEFAULT_SIGNAL_FRACTIONS",
    "AnomalyData",
    "AnomalyDataConfig",
    "SampleRequest",
    "anomaly_data_from_files",
    "data_config",
    "ensure_samples",
    "load_anomaly_data",
    "load_inputs",
    "load_split_inputs",
    "produce_samples",
    "sample_files",
    "signal_split",
    "trigger_collections",
]

_log = logging.getLogger(__name__)


#: The default signals: catalog process -> why a trigger physicist wants it.
#: The four ADC2021 benchmarks (Govorkova et al., Sci. Data 9 (2022) 118) are the
#: standard yardstick of AXOL1TL-like triggers; the others are signatures that
#: single-object seeds catch badly (soft b or tau pairs, many soft jets, hidden
#: missing momentum) or not at all, and rare Standard Model processes for
#: which an anomaly trigger adds acceptance.
DEFAULT_SIGNALS: dict[str, str] = {
    "ADC2021_A50_4l": "ADC2021: A (50 GeV) -> 4 leptons; soft leptons",
    "ADC2021_LQ80_btau": "ADC2021: leptoquark pair (80 GeV) -> b tau",
    "ADC2021_h0_60_tautau": "ADC2021: h0 (60 GeV) -> tau tau",
    "ADC2021_hplus60_taunu": "ADC2021: h+ (60 GeV) -> tau nu from top decays",
    "H_aa_4b": "exotic Higgs decay h -> aa -> 4b: four soft b jets",
    "DarkShower_prompt": "dark shower: many soft jets, no single hard object",
    "DarkShower_semivisible": "semi-visible jets: jets aligned with missing momentum",
    "Zprime_qq": "Z' (1 TeV) -> dijet: hard, caught by jet seeds (a control for pure efficiency)",
    "ttH_incl": "rare SM: ttH",
    "HH_4b": "rare SM: di-Higgs -> 4b",
    "VBFHbb": "rare SM: VBF H -> bb, forward jets",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _default_signals() -> tuple[SampleRequest, ...]:
    return tuple(SampleRequest(process=name, events=10_000) for name in DEFAULT_SIGNALS)


def trigger_collections(view: str = "L1T") -> tuple[str, ...]:
    """The collections a production must write for the trigger inputs of *view*, sorted.

    ``Event`` (event number, pileup count) and the view's collections that
    :func:`~l1scout.io.trigger_inputs.trigger_input_columns` reads.

    >>> trigger_collections()
    ('Event', 'L1T_Electron', 'L1T_JetPuppiAK4', 'L1T_MuonTight', 'L1T_PUPPIMET', 'L1T_PhotonTight')
    """
    names = {c.rsplit("_", 1)[0] for c in trigger_input_columns(view)}
    return tuple(sorted({"Event", *names}))


class AnomalyDataConfig(_Model):
    """The samples of an anomaly-trigger study and how to make them.

    Attributes:
        zero_bias: the background sample (default 200,000 minimum-bias events).
        signals: the signal samples (default: :data:`DEFAULT_SIGNALS`, 10,000
            events each); may be empty (a rate-only study).
        pileup: mean number of pileup collisions overlaid on every event
            (Phase-2: 200).
        seed: the production's plan seed, 1 ... 225: every file's seed
            derives from it (:mod:`l1scout.production.seeds`).
        pool_size: minimum-bias collisions in the shared pileup pool.
        shard_size: events per file.
        engine: where the production runs (the ``[engine]`` table of a plan,
            :class:`~l1scout.production.plan.EngineSpec`; default: a local Dask
            cluster with one worker per core; ``kind = "single"`` for a plain loop).
        workers: shortcut for ``engine.workers`` (give one or the other).
        view: the detector view whose objects are the trigger inputs (a
            shipped view or a view-card file).
        fractions: zero-bias train, validation and test fractions.
        signal_fractions: validation and test fractions of every signal
            sample (the model is chosen on the validation part, the reported
            efficiencies come from the test part).
        signal_split_seed: salt of the hash that splits the signal samples
            (:func:`signal_split`); another value draws another split.
    """

    zero_bias: SampleRequest = SampleRequest(process="minbias", events=200_000)
    signals: tuple[SampleRequest, ...] = Field(default_factory=_default_signals)
    pileup: float = Field(default=200.0, ge=0, le=1000)
    seed: int = Field(default=61, ge=1, le=MAX_PLAN_SEED)
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=10_000_000)
    shard_size: int = Field(default=DEFAULT_SHARD_SIZE, ge=1, le=10_000_000)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    workers: int | None = Field(default=None, ge=1, le=4096)
    view: str = "L1T"
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    signal_fractions: tuple[float, float] = DEFAULT_SIGNAL_FRACTIONS
    signal_split_seed: int = Field(default=0, ge=0, le=2**31 - 1)

    @field_validator("view")
    @classmethod
    def _view_loads(cls, value: str) -> str:
        load_view_card(value)  # a bad name or file raises naming it
        return value

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(not np.isfinite(f) or f <= 0 for f in value) or abs(sum(value) - 1.0) > 1e-9:
            msg = f"expected three positive numbers (train, val, test) adding up to 1, got {list(value)}"
            raise ValueError(msg)
        return value

    @field_validator("signal_fractions")
    @classmethod
    def _signal_fractions(cls, value: tuple[float, float]) -> tuple[float, float]:
        if any(not np.isfinite(f) or f <= 0 for f in value) or abs(sum(value) - 1.0) > 1e-9:
            msg = f"expected two positive numbers (validation, test) adding up to 1, got {list(value)}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AnomalyDataConfig:
        seen = {self.zero_bias.process: "zero_bias.process"}
        for i, req in enumerate(self.signals):
            if req.process in seen:
                msg = f"signals[{i}].process: {req.process!r} is already {seen[req.process]}"
                raise ValueError(msg)
            seen[req.process] = f"signals[{i}].process"
        requests = [("zero_bias", self.zero_bias), *self._signal_paths()]
        problem = shard_slots_problem(requests, self.shard_size)
        if problem is not None:
            raise ValueError(problem)
        if self.workers is not None and self.engine.workers is not None:
            msg = "workers: give workers or engine.workers, not both"
            raise ValueError(msg)
        return self

    def _signal_paths(self) -> list[tuple[str, SampleRequest]]:
        return [(f"signals[{i}]", req) for i, req in enumerate(self.signals)]

    @property
    def view_name(self) -> str:
        """The name of :attr:`view` (its card's ``name``; column prefix)."""
        return load_view_card(self.view).name

    @property
    def processes(self) -> tuple[str, ...]:
        """Zero bias first, then the signals in order."""
        return (self.zero_bias.process, *(s.process for s in self.signals))

    def production_plan(self) -> ProductionPlan:
        """The fast-mode production plan of every sample (one shared pileup pool).

        Raises:
            ConfigError: the plan does not validate (naming the plan's fields).
        """
        engine = self.engine
        if self.workers is not None:
            engine = engine.model_copy(update={"workers": self.workers})
        return fast_plan(
            (self.zero_bias, *self.signals),
            seed=self.seed,
            shard_size=self.shard_size,
            pileup=self.pileup,
            pool_size=self.pool_size,
            views=(self.view,),
            collections=trigger_collections(self.view_name),
            engine=engine,
            source="the production plan",
        )


def data_config(
    data: Mapping[str, Any] | None = None, source: str = "options"
) -> AnomalyDataConfig:
    """Validate a mapping (a ``[data]`` table of a pipeline file) as :class:`AnomalyDataConfig`.

    Raises:
        ConfigError: one line per bad field, ``<source>: signals[1].process: ...``.

    >>> data_config({"pileup": -1}, "pipeline.toml [data]")
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: pipeline.toml [data]: pileup: Input should be greater than or equal to 0 (got -1)
    """
    return validate_data(dict(data or {}), AnomalyDataConfig, source)


# -- production ---------------------------------------------------------------------------


def sample_files(cfg: AnomalyDataConfig, data_dir: Path | str) -> dict[str, list[Path]]:
    """The files of every sample in *data_dir*, process by process (they need not exist)."""
    return files_by_process(cfg.production_plan(), data_dir)


def produce_samples(
    cfg: AnomalyDataConfig, data_dir: Path | str, *, progress: Progress | None = None
) -> ProductionSummary:
    """Make what is missing of the samples in *data_dir* (one :func:`~l1scout.production.produce` call).

    Args:
        cfg: the samples.
        data_dir: the data folder (created if needed).
        progress: ``progress(stage, done, total)`` as :func:`~l1scout.production.produce` calls it.

    Returns:
        The production summary (shards made and kept, events per second).

    Raises:
        ProductionError: the folder holds samples of another configuration
            (nothing is touched), cannot be written, or shards failed on every
            attempt (listed; the others are kept, rerun to retry).
    """
    data_dir = Path(data_dir)
    plan = cfg.production_plan()
    check_sample_folder(plan, data_dir, what="anomaly data")
    return produce_or_raise(plan, data_dir, what="anomaly samples", progress=progress)


def ensure_samples(
    cfg: AnomalyDataConfig, data_dir: Path | str, *, progress: Progress | None = None
) -> dict[str, list[Path]]:
    """Make the missing files of the samples and return every file, process by process.

    Only missing or broken shards are made; complete ones are verified (SHA-256
    against the manifest) and kept. See :func:`produce_samples` for the errors.
    """
    produce_samples(cfg, data_dir, progress=progress)
    files = sample_files(cfg, data_dir)
    _require(files, Path(data_dir))
    return files


def _require(files: Mapping[str, Sequence[Path]], data_dir: Path) -> None:
    missing = [p for paths in files.values() for p in paths if not p.is_file()]
    if missing:
        shown = ", ".join(p.relative_to(data_dir).as_posix() for p in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        msg = (
            f"{data_dir}: {len(missing)} file{'s' if len(missing) > 1 else ''} of the anomaly "
            f"samples missing: {shown}{more}; "
            "load with produce_missing=True (or `l1scout produce`) to make them"
        )
        raise DataFormatError(msg)


@dataclass(frozen=True, eq=False)
class AnomalyData:
    """The arrays of an anomaly-trigger study, physical units (GeV, rad).

    Attributes:
        zb_train: zero-bias training events, (n, 57) float32.
        zb_val: zero-bias validation events (early stopping; thresholds of the
            model choice).
        zb_test: zero-bias test events (thresholds and rates of the report).
        signals: signal process -> the test part of its events (reported
            efficiencies).
        dataset_hash: SHA-256 (hex) identifying the data.
        files: process -> its files, zero bias first.
        view: the view of the trigger inputs.
        zero_bias: the zero-bias sample's name.
        signals_val: signal process -> the validation part of its events
            (the model choice); empty when the signals were not split.
    """

    zb_train: F32
    zb_val: F32
    zb_test: F32
    signals: dict[str, F32]
    dataset_hash: str
    files: dict[str, list[Path]]
    view: str = "L1T"
    zero_bias: str = field(default="minbias")
    signals_val: dict[str, F32] = field(default_factory=dict)

    @property
    def zb_events(self) -> int:
        """Zero-bias events over the three splits."""
        return len(self.zb_train) + len(self.zb_val) + len(self.zb_test)


def _production_hash(manifest: Manifest, files: Iterable[str]) -> str:
    """SHA-256 of the plan hash and the (file, SHA-256, events) of the given files' records.

    Engine, worker wall times and the manifest's layout do not count: the same
    data made on another machine has the same hash.
    """
    records = manifest.records()
    rows = []
    for name in sorted(files):
        rec = records.get(name)
        if rec is None:
            msg = (
                f"{name} has no record in the manifest; load with produce_missing=True "
                "to verify and adopt it"
            )
            raise DataFormatError(msg)
        rows.append([rec.file, rec.sha256, rec.events])
    payload = json.dumps({"plan_hash": manifest.plan_hash, "files": rows}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _footer_sha256(path: Path) -> tuple[int, str]:
    """Size of a Parquet file and the SHA-256 of its footer (schema, row groups, statistics)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size < 12:
            msg = f"{path}: too short for a Parquet file ({size} bytes)"
            raise DataFormatError(msg)
        fh.seek(size - 8)
        tail = fh.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != b"PAR1" or length > size - 12:
            msg = f"{path}: not a Parquet file (no footer)"
            raise DataFormatError(msg)
        fh.seek(size - 8 - length)
        return size, hashlib.sha256(fh.read(length)).hexdigest()


def _files_hash(paths: Iterable[Path]) -> str:
    """SHA-256 over sorted (name, size, footer SHA-256): a cheap fingerprint of large files."""
    rows = []
    for path in paths:
        size, footer = _footer_sha256(path)
        rows.append([path.name, size, footer])
    payload = json.dumps(sorted(rows))
    return hashlib.sha256(payload.encode()).hexdigest()


def _assemble(
    zb: tuple[F32, npt.NDArray[np.int8]],
    signals: dict[str, tuple[F32, npt.NDArray[np.bool_]]],
    dataset_hash: str,
    files: dict[str, list[Path]],
    view: str,
    zero_bias: str,
) -> AnomalyData:
    x, codes = zb
    data = AnomalyData(
        zb_train=x[codes == 0],
        zb_val=x[codes == 1],
        zb_test=x[codes == 2],
        signals={k: s[~val] for k, (s, val) in signals.items()},
        dataset_hash=dataset_hash,
        files=files,
        view=view,
        zero_bias=zero_bias,
        signals_val={k: s[val] for k, (s, val) in signals.items()},
    )
    _log.info(
        "zero bias %d / %d / %d events (train / val / test), %d signals "
        "(%d validation / %d test events), dataset %s",
        len(data.zb_train),
        len(data.zb_val),
        len(data.zb_test),
        len(signals),
        sum(len(v) for v in data.signals_val.values()),
        sum(len(v) for v in data.signals.values()),
        dataset_hash[:12],
    )
    return data


def load_anomaly_data(
    cfg: AnomalyDataConfig,
    data_dir: Path | str,
    *,
    produce_missing: bool = True,
    progress: Progress | None = None,
) -> AnomalyData:
    """The zero-bias splits and the signals of *cfg* from *data_dir*, made first if needed.

    Args:
        cfg: the samples.
        data_dir: the data folder.
        produce_missing: make missing files (:func:`ensure_samples`); False
            reads what is there and refuses when anything is missing.
        progress: passed to the production.

    Raises:
        DataFormatError: *produce_missing* is False and files (or the manifest)
            are missing; the message names them.
        ProductionError: the folder holds samples of another configuration, or
            the production failed.
    """
    data_dir = Path(data_dir)
    if produce_missing:
        files = ensure_samples(cfg, data_dir, progress=progress)
        manifest = read_manifest(data_dir)
    else:
        manifest = check_sample_folder(cfg.production_plan(), data_dir, what="anomaly data")
        files = sample_files(cfg, data_dir)
        _require(files, data_dir)
    if manifest is None:
        msg = f"{data_dir}: no {MANIFEST_NAME}; load with produce_missing=True to verify the files"
        raise DataFormatError(msg)
    names = [p.relative_to(data_dir).as_posix() for paths in files.values() for p in paths]
    digest = _production_hash(manifest, names)
    view = cfg.view_name
    zb = split_inputs(open_inputs(files[cfg.zero_bias.process], view), view, cfg.fractions)
    signals = {
        s.process: signal_inputs(
            open_inputs(files[s.process], view), view, cfg.signal_fractions, cfg.signal_split_seed
        )
        for s in cfg.signals
    }
    return _assemble(zb, signals, digest, files, view, cfg.zero_bias.process)


def anomaly_data_from_files(
    zero_bias: Source,
    signals: Mapping[str, Source],
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    view: str = "L1T",
    signal_fractions: Sequence[float] = DEFAULT_SIGNAL_FRACTIONS,
    signal_split_seed: int = 0,
) -> AnomalyData:
    """:class:`AnomalyData` from files a user already has (nothing is produced).

    The splits are those of :func:`load_anomaly_data`; ``dataset_hash`` is a
    fingerprint of the files (name, size and the SHA-256 of the Parquet
    footer, which holds the schema, the row-group layout and column
    statistics), cheap for COLLIDE-2V files of gigabytes.

    Args:
        zero_bias: the zero-bias files (a folder, a glob, a list of files).
        signals: signal name -> its files.
        fractions: zero-bias train, validation and test fractions.
        view: the view whose objects are read.
        signal_fractions: validation and test fractions of every signal.
        signal_split_seed: salt of the signal split (:func:`signal_split`).
    """
    if "zero_bias" in signals:
        msg = "signals: 'zero_bias' names the background; give the signal another name"
        raise ConfigError(msg)
    zb_ds = open_inputs(zero_bias, view)
    zb = split_inputs(zb_ds, view, fractions)
    files = {"zero_bias": [f.path for f in zb_ds.files]}
    sig: dict[str, tuple[F32, npt.NDArray[np.bool_]]] = {}
    for name, source in signals.items():
        ds = open_inputs(source, view)
        files[name] = [f.path for f in ds.files]
        sig[name] = signal_inputs(ds, view, signal_fractions, signal_split_seed)
    digest = _files_hash(p for paths in files.values() for p in paths)
    return _assemble(zb, sig, digest, files, view, "zero_bias")
