"""The samples of the soft-tau study: two fast-mode productions, made where missing.

The study reads, per event, the Level-1 PUPPI candidates of the ``L1T`` view
(``L1T_PUPPIPart``: ``PT``, ``Eta``, ``Phi``, ``PID``, ``Charge``, ``DZ``,
``PuppiW``, ``IsPU``) and ``Event_Number`` (the splits); the signals also need
the generator record of the hard collision (the truth taus of
:mod:`l1scout.tasks.taus.truth`). At pileup 200 the full record ``Gen_Part``
keeps the final-state particles of every pileup collision too and weighs
about 430 kB per event, forty times the PUPPI candidates (about 11 kB), so
the signals ask for ``Gen_PartHS``, its hard-collision entries
(:mod:`l1scout.io.schema`): about 7 kB per event, a signal file about 19 kB
per event instead of 440 (``docs/physics/data-format.md``); zero bias needs no truth (every zero-bias
candidate is a fake: minimum bias has no prompt tau). So the samples are made
by two productions in the fast mode of
``docs/production.md`` (only the L1T view simulated, only the named
collections written), each in its own folder with its own manifest:

* ``<data_dir>/zero_bias``: the zero-bias sample, ``Event`` and ``L1T_PUPPIPart``
  (:data:`ZERO_BIAS_COLLECTIONS`);
* ``<data_dir>/signals``: the signals, plus ``Gen_PartHS`` (:data:`SIGNAL_COLLECTIONS`).

Both plans have the same seed, pileup and pool size, so both draw their
pileup from the same pool, as one plan with a shared pool would. A rerun
verifies what is there and makes only the missing or broken shards; a folder
made with another configuration is refused (use another data folder).

**Signal folders of the earlier layout.** Before ``Gen_PartHS`` existed the
signals were written with the full ``Gen_Part``
(:data:`LEGACY_SIGNAL_COLLECTIONS`), which holds everything ``Gen_PartHS``
holds: the truth taus read from it are the same
(:mod:`l1scout.tasks.taus.dataset` reads whichever record a file has). A
signal folder made so with the same configuration otherwise is kept and, if
incomplete, completed in its own layout (one plan per folder; the dataset
hash stays what it was); any other difference is refused as before.

Example:
    >>> from l1scout.tasks.taus.config import TauConfig
    >>> plans = production_plans(TauConfig())
    >>> sorted(plans), plans["signals"].collections, plans["zero_bias"].views
    (['signals', 'zero_bias'], ('Event', 'Gen_PartHS', 'L1T_PUPPIPart'), ('L1T',))
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from l1scout.errors import DataFormatError, ProductionError
from l1scout.production.driver import Progress
from l1scout.production.manifest import check_same_plan, read_manifest
from l1scout.production.plan import ProductionPlan
from l1scout.production.samples import (
    check_sample_folder,
    fast_plan_of,
    files_by_process,
    produce_or_raise,
)
from l1scout.tasks.taus.config import TauConfig

__all__ = [
    "LEGACY_SIGNAL_COLLECTIONS",
    "PUPPI_FIELDS",
    "SIGNAL_COLLECTIONS",
    "ZERO_BIAS_COLLECTIONS",
    "TauSampleFiles",
    "ensure_tau_samples",
    "production_plans",
    "tau_sample_files",
]

_log = logging.getLogger(__name__)

#: The fields of ``<view>_PUPPIPart`` the study reads.
PUPPI_FIELDS: tuple[str, ...] = ("PT", "Eta", "Phi", "PID", "Charge", "DZ", "PuppiW", "IsPU")
#: Collections of the zero-bias production.
ZERO_BIAS_COLLECTIONS: tuple[str, ...] = ("Event", "L1T_PUPPIPart")
#: Collections of the signal production (the truth taus need the hard collision's record).
SIGNAL_COLLECTIONS: tuple[str, ...] = ("Event", "Gen_PartHS", "L1T_PUPPIPart")
#: Collections of the signal productions made before ``Gen_PartHS`` (still read and completed).
LEGACY_SIGNAL_COLLECTIONS: tuple[str, ...] = ("Event", "Gen_Part", "L1T_PUPPIPart")

_PARTS = ("zero_bias", "signals")

#: Files of the samples: process -> its files (zero bias first), and the dataset hash.
TauSampleFiles = tuple[dict[str, list[Path]], str]


def production_plans(cfg: TauConfig, *, legacy: bool = False) -> dict[str, ProductionPlan]:
    """The two fast-mode plans: ``"zero_bias"`` and ``"signals"`` (module docstring).

    Args:
        cfg: the study's configuration.
        legacy: the signals with :data:`LEGACY_SIGNAL_COLLECTIONS` (the plan of
            signal folders made before ``Gen_PartHS``).

    Raises:
        ConfigError: a plan does not validate (naming the plan's fields).
    """
    data = cfg.data
    views = (data.view,)
    return {
        "zero_bias": fast_plan_of(
            data,
            (data.zero_bias,),
            views=views,
            collections=ZERO_BIAS_COLLECTIONS,
            source="the zero-bias production plan",
        ),
        "signals": fast_plan_of(
            data,
            data.signals,
            views=views,
            collections=LEGACY_SIGNAL_COLLECTIONS if legacy else SIGNAL_COLLECTIONS,
            source="the signal production plan",
        ),
    }


def tau_sample_files(cfg: TauConfig, data_dir: Path | str) -> dict[str, list[Path]]:
    """The files of every sample in *data_dir*, process by process, zero bias first (they need not exist)."""
    out: dict[str, list[Path]] = {}
    for part, plan in _folder_plans(cfg, Path(data_dir)).items():
        out.update(files_by_process(plan, Path(data_dir) / part))
    return out


def _folder_plans(cfg: TauConfig, data_dir: Path) -> dict[str, ProductionPlan]:
    """The plans of *data_dir*'s folders: :func:`production_plans`, the signals' legacy one where the folder holds it.

    A signal folder whose manifest is of the legacy plan (module docstring)
    keeps it; any other folder gets the current plan (and
    :func:`~l1scout.production.samples.check_sample_folder` refuses it if it
    holds another).
    """
    plans = production_plans(cfg)
    folder = data_dir / "signals"
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None or manifest.plan_hash == plans["signals"].plan_hash():
        return plans
    legacy = production_plans(cfg, legacy=True)["signals"]
    try:
        check_same_plan(manifest, legacy, folder)
    except ProductionError:
        return plans  # not the legacy layout either: refused by the caller's check
    _log.info(
        "%s: signals of the earlier layout (Gen_Part instead of Gen_PartHS, the same "
        "truth taus): kept, and completed in that layout",
        folder,
    )
    return {**plans, "signals": legacy}


def _dataset_hash(plans: dict[str, ProductionPlan], data_dir: Path) -> str:
    """SHA-256 of both plan hashes and the (file, SHA-256, events) of every file's manifest record."""
    payload: dict[str, object] = {}
    for part, plan in plans.items():
        folder = data_dir / part
        manifest = read_manifest(folder)
        if manifest is None:
            msg = f"{folder}: no manifest; produce the samples first (ensure_tau_samples)"
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


def _prefixed(progress: Progress | None, part: str) -> Progress | None:
    """*progress* with the stages of one production named after its part (``signals events``)."""
    if progress is None:
        return None
    report = progress

    def update(stage: str, done: int, total: int) -> None:
        report(f"{part} {stage}", done, total)

    return update


def ensure_tau_samples(
    cfg: TauConfig, data_dir: Path | str, *, progress: Progress | None = None
) -> TauSampleFiles:
    """Make what is missing of the samples in *data_dir*; return every file and the dataset hash.

    One :func:`~l1scout.production.produce` call per part (zero bias, then
    the signals); complete shards are verified (SHA-256 against the
    manifest) and kept.

    Args:
        cfg: the study's configuration (its ``data`` table).
        data_dir: the data folder (created if needed).
        progress: ``progress(stage, done, total)`` as ``produce`` calls it, the stage
            named after the part (``zero_bias events``, ``signals shards``).

    Returns:
        (process -> its files, zero bias first; SHA-256 hex identifying the
        data: both plans' hashes and every file's SHA-256 from the manifests).

    Raises:
        ProductionError: a folder holds samples of another configuration
            (nothing is touched: both folders are checked before either
            production starts; a signal folder of the earlier layout with
            ``Gen_Part`` is not another configuration, module docstring),
            cannot be written, or shards failed on every attempt (listed; the
            others are kept, rerun to retry).
    """
    data_dir = Path(data_dir)
    plans = _folder_plans(cfg, data_dir)
    for part in _PARTS:
        check_sample_folder(plans[part], data_dir / part, what="soft-tau data")
    for part in _PARTS:
        what = "zero-bias sample" if part == "zero_bias" else "soft-tau signals"
        produce_or_raise(
            plans[part], data_dir / part, what=what, progress=_prefixed(progress, part)
        )
    files = tau_sample_files(cfg, data_dir)
    missing = [p for paths in files.values() for p in paths if not p.is_file()]
    if missing:
        msg = f"{data_dir}: {len(missing)} sample files missing after the production: {missing[0]}"
        raise DataFormatError(msg)
    digest = _dataset_hash(plans, data_dir)
    _log.info("soft-tau samples in %s: %d files, dataset %s", data_dir, len(files), digest[:12])
    return files, digest
