"""The scouting menu: named selections in a TOML file, run on one orbit at a time.

A menu file holds ``[[selection]]`` tables, each with a ``name`` (a word:
letters, digits, ``_``; the column of the selected-BX table and the stem of its
Parquet table) and a ``kind`` with its parameters:

===============  ==================================================================
``w3pi``         W -> 3 pions (:mod:`~l1scout.tasks.scouting.selections`; the
                 published cuts as defaults, charged pions only, ``require_pv``)
``single_muon``  a muon above ``pt_min`` GeV within ``|eta| <= eta_max``
``ht``           the sums word's HT ``>= ht_min`` GeV
``ditau``        the soft-tau transformer on CLUE candidates at a working point
                 (:mod:`~l1scout.tasks.scouting.ml_selections`)
``anomaly``      the anomaly score of the 57 trigger inputs ``> threshold``
===============  ==================================================================

A model is ``model = "models:/<name>@<alias>"`` (the MLflow registry) or
``onnx = "<path>"``; ``onnx`` and ``scaler`` paths are relative to the menu
file. Example::

    [[selection]]
    name = "w3pi"
    kind = "w3pi"

    [[selection]]
    name = "anomaly"
    kind = "anomaly"
    model = "models:/l1scout-scouting-anomaly@demo"
    threshold = 4.0

:func:`run_menu_on_orbit` unpacks the streams the menu reads
(:mod:`l1scout.tasks.scouting.unpack`), evaluates every selection on the BXs
kept in all of them (a BX skipped by the unpacker in one stream is skipped for
the whole menu, so every decision is on the same BXs) and returns an
:class:`~l1scout.tasks.scouting.results.OrbitOutcome` with the truth of each
BX; :mod:`l1scout.tasks.scouting.menu_run` runs files of orbits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout._datafile import read_toml, validate_data
from l1scout._jagged import first_per_event
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.scouting.ml_selections import (
    REGISTRY_PREFIX,
    DiTauParams,
    Scorer,
    anomaly_inputs,
    anomaly_select,
    ditau_select,
    load_scorer,
)
from l1scout.tasks.scouting.results import MAX_SELECTIONS, OrbitOutcome
from l1scout.tasks.scouting.selections import (
    SelectionOutput,
    W3PiCuts,
    ht_select,
    single_muon_select,
    w3pi_pions,
    w3pi_select,
)
from l1scout.tasks.scouting.unpack import Problems, unpack_objects, unpack_puppi
from l1scout.tasks.taus.config import ClueParams

__all__ = [
    "AnomalySelection",
    "DiTauSelection",
    "HtSelection",
    "Menu",
    "MenuModels",
    "Selection",
    "SingleMuonSelection",
    "W3PiSelection",
    "load_menu",
    "load_menu_models",
    "menu_from_dict",
    "run_menu_on_orbit",
]

_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_Positive = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Selection(_Config):
    name: str = Field(pattern=_NAME)


class W3PiSelection(_Selection):
    """W -> 3 pions (defaults: the published cuts; :class:`~l1scout.tasks.scouting.selections.W3PiCuts`).

    Attributes:
        pt_min: pT thresholds (GeV) of the third, second and leading pion.
        min_dr: pairwise dR above this.
        iso_dr_min, iso_dr_max: the isolation ring (exclusive).
        max_iso: relative isolation below this.
        mass_min, mass_max: the mass window (GeV, exclusive).
        require_pv: pions must be primary-vertex associated (PUPPI quality bit 0).
        include_electrons: electrons count as pions (the prototype's code does).
        puppi_weights: the isolation sums weight each candidate by its PUPPI weight.
    """

    kind: Literal["w3pi"]
    pt_min: tuple[_Positive, _Positive, _Positive] = (7.0, 12.0, 15.0)
    min_dr: _Positive = 0.5
    iso_dr_min: _Positive = 0.01
    iso_dr_max: _Positive = 0.25
    max_iso: _Positive = 2.0
    mass_min: _Positive = 60.0
    mass_max: _Positive = 100.0
    require_pv: bool = True
    include_electrons: bool = False
    puppi_weights: bool = True

    @model_validator(mode="after")
    def _cuts(self) -> Self:
        lo, mid, hi = self.pt_min
        if not lo <= mid <= hi:
            msg = f"pt_min: expected increasing thresholds (third, second, leading), got {list(self.pt_min)}"
            raise ValueError(msg)
        if self.iso_dr_min >= self.iso_dr_max:
            msg = (
                f"iso_dr_max: expected above iso_dr_min ({self.iso_dr_min}), got {self.iso_dr_max}"
            )
            raise ValueError(msg)
        if self.mass_min >= self.mass_max:
            msg = f"mass_max: expected above mass_min ({self.mass_min}), got {self.mass_max}"
            raise ValueError(msg)
        return self

    @property
    def cuts(self) -> W3PiCuts:
        """The kernel's cuts."""
        return W3PiCuts(
            self.pt_min, self.min_dr, self.iso_dr_min, self.iso_dr_max, self.max_iso,
            self.mass_min, self.mass_max,
        )  # fmt: skip


class SingleMuonSelection(_Selection):
    """A muon with ``pT >= pt_min`` GeV, ``|eta| <= eta_max`` and quality ``>= quality_min``."""

    kind: Literal["single_muon"]
    pt_min: _Positive = 22.0
    eta_max: _Positive = 2.4
    quality_min: int = Field(default=0, ge=0, le=15)


class HtSelection(_Selection):
    """The sums word's HT ``>= ht_min`` GeV."""

    kind: Literal["ht"]
    ht_min: _Positive = 400.0


class _ModelSelection(_Selection):
    model: str | None = None
    onnx: str | None = Field(default=None, min_length=1)

    @field_validator("model")
    @classmethod
    def _registry_uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(REGISTRY_PREFIX):
            msg = f"expected a registry URI models:/<name>@<alias>, got {value!r} (a file: onnx = ...)"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.model is None) == (self.onnx is None):
            msg = "model: give exactly one of model (models:/<name>@<alias>) and onnx (a file)"
            raise ValueError(msg)
        return self

    @property
    def source(self) -> str:
        """The model source: the registry URI or the ONNX path."""
        return str(self.model if self.model is not None else self.onnx)


class DiTauSelection(_ModelSelection):
    """The soft di-tau selection (:func:`~l1scout.tasks.scouting.ml_selections.ditau_select`).

    Attributes:
        clue: CLUE's parameters (the taus task's :class:`~l1scout.tasks.taus.config.ClueParams`).
        n_constituents: the transformer's constituent slots (the exported model's).
        class_threshold: both candidates' tau score above this.
        charge_threshold: the pair's opposite-sign probability above this (``-inf``: none).
        dvz_cut: ``|vz1 - vz2|`` below this (mm; ``inf``: none).
        max_candidates: pair only this many leading candidates (None: any pair).
    """

    kind: Literal["ditau"]
    clue: ClueParams = Field(default_factory=ClueParams)
    n_constituents: int = Field(default=16, ge=1, le=256)
    class_threshold: float = Field(default=0.5, allow_inf_nan=False)
    charge_threshold: float = -math.inf
    dvz_cut: float = Field(default=math.inf, gt=0)
    max_candidates: int | None = Field(default=None, ge=2)

    @property
    def params(self) -> DiTauParams:
        """The selection's parameters."""
        c = self.clue
        return DiTauParams(
            c.dc, c.rhoc, c.dm, c.pt_min, self.n_constituents, self.class_threshold,
            self.charge_threshold, self.dvz_cut, self.max_candidates,
        )  # fmt: skip


class AnomalySelection(_ModelSelection):
    """The anomaly score ``> threshold`` (:func:`~l1scout.tasks.scouting.ml_selections.anomaly_select`).

    Attributes:
        threshold: the score threshold.
        scaler: a :class:`~l1scout.io.scalers.PowerOfTwoRobustScaler` JSON file
            applied to the raw inputs first (relative to the menu file), or none.
    """

    kind: Literal["anomaly"]
    threshold: float = Field(allow_inf_nan=False)
    scaler: str | None = Field(default=None, min_length=1)


#: One selection of a menu, told apart by ``kind``.
Selection = Annotated[
    W3PiSelection | SingleMuonSelection | HtSelection | DiTauSelection | AnomalySelection,
    Field(discriminator="kind"),
]


class Menu(_Config):
    """A menu: its selections (distinct names, at most 64), in order.

    Attributes:
        name: the menu's name (reports).
        selection: the selections (``[[selection]]`` tables).
    """

    name: str = "menu"
    selection: tuple[Selection, ...] = Field(min_length=1, max_length=MAX_SELECTIONS)

    @field_validator("selection")
    @classmethod
    def _distinct(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        names = [s.name for s in value]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            msg = f"expected distinct selection names, repeated: {', '.join(doubled)}"
            raise ValueError(msg)
        return value

    @property
    def names(self) -> tuple[str, ...]:
        """The selection names, in order."""
        return tuple(s.name for s in self.selection)

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams the menu reads, in stream order."""
        need = set()
        for s in self.selection:
            need |= set(_STREAMS_OF[s.kind])
        return tuple(s for s in ("puppi", "muon", "egamma", "jet", "sums") if s in need)


_STREAMS_OF: dict[str, tuple[str, ...]] = {
    "w3pi": ("puppi",),
    "ditau": ("puppi",),
    "single_muon": ("muon",),
    "ht": ("sums",),
    "anomaly": ("sums", "egamma", "muon", "jet"),
}


def _absolute(value: str | None, base: Path) -> str | None:
    if value is None:
        return None
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def menu_from_dict(data: Mapping[str, Any], *, base: Path | str = ".", where: str = "menu") -> Menu:
    """A :class:`Menu` from parsed TOML; ``onnx`` and ``scaler`` paths made absolute against *base*.

    Raises:
        ConfigError: an unknown key, a bad value or a missing one; the message
            names *where* and the field's path, e.g. ``menu: selection[1].threshold: ...``.

    >>> m = menu_from_dict({"selection": [{"name": "mu", "kind": "single_muon", "pt_min": 25}]})
    >>> m.names, m.selection[0].pt_min, m.streams
    (('mu',), 25.0, ('muon',))
    >>> menu_from_dict({"selection": [{"name": "mu", "kind": "single_muon", "pt": 25}]})
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: menu: selection[0].pt: Extra inputs are not permitted (got 25)
    """
    menu = validate_data(dict(data), Menu, where)
    root = Path(base).resolve()
    fixed = []
    for sel in menu.selection:
        s = sel
        if isinstance(s, DiTauSelection | AnomalySelection) and s.onnx is not None:
            s = s.model_copy(update={"onnx": _absolute(s.onnx, root)})
        if isinstance(s, AnomalySelection) and s.scaler is not None:
            s = s.model_copy(update={"scaler": _absolute(s.scaler, root)})
        fixed.append(s)
    return menu.model_copy(update={"selection": tuple(fixed)})


def load_menu(path: Path | str) -> Menu:
    """The menu of a TOML file (relative model and scaler paths: against the file's folder).

    Raises:
        ConfigError: the file cannot be read, is not TOML, or does not validate
            (the message names the file and the bad field's path).
    """
    p = Path(path)
    return menu_from_dict(read_toml(p, "menu"), base=p.parent, where=str(p))


# ---------------------------------------------------------------- models


@dataclass(frozen=True, eq=False)
class MenuModels:
    """The loaded models and scalers of a menu's model selections, by selection name."""

    scorers: Mapping[str, Scorer]
    scalers: Mapping[str, Any]


def load_menu_models(
    menu: Menu,
    *,
    tracking_uri: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> MenuModels:
    """Load every model of *menu* (once per process, :func:`~l1scout.tasks.scouting.ml_selections.load_scorer`).

    Args:
        menu: the menu.
        tracking_uri: the MLflow store of ``models:/`` sources.
        overrides: selection name -> a model source replacing the menu's.

    Raises:
        ConfigError: an override names no model selection of the menu.
        DataFormatError: a model or scaler that cannot be loaded.
    """
    from l1scout.io.scalers import PowerOfTwoRobustScaler

    over = dict(overrides or {})
    model_sel = [s for s in menu.selection if isinstance(s, DiTauSelection | AnomalySelection)]
    unknown = sorted(set(over) - {s.name for s in model_sel})
    if unknown:
        msg = f"models: {unknown[0]!r} is not a model selection of the menu ({', '.join(s.name for s in model_sel) or 'none'})"
        raise ConfigError(msg)
    scorers: dict[str, Scorer] = {}
    scalers: dict[str, Any] = {}
    for s in model_sel:
        scorers[s.name] = load_scorer(over.get(s.name, s.source), tracking_uri=tracking_uri)
        if isinstance(s, AnomalySelection) and s.scaler is not None:
            try:
                scalers[s.name] = PowerOfTwoRobustScaler.load(s.scaler)
            except ConfigError as exc:
                raise DataFormatError(f"selection {s.name!r}: scaler {s.scaler}: {exc}") from exc
    return MenuModels(scorers, scalers)


# ---------------------------------------------------------------- one orbit


@dataclass(frozen=True, eq=False)
class _Stream:
    orbit: int
    bx: npt.NDArray[np.int16]
    offsets: npt.NDArray[np.int64]
    values: Mapping[str, np.ndarray]
    problems: Problems


def _restrict(s: _Stream, common: npt.NDArray[np.int16]) -> _Stream:
    """The stream on the BXs *common* (a subset of its own, increasing)."""
    if s.bx.size == common.size:
        return s
    pos = np.searchsorted(s.bx, common)
    counts = s.offsets[pos + 1] - s.offsets[pos]
    off = np.zeros(common.size + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])
    starts = np.repeat(s.offsets[pos] - off[:-1], counts) + np.arange(int(off[-1]))
    values = {k: v[starts] for k, v in s.values.items()}
    return _Stream(s.orbit, common, off, values, s.problems)


_PUPPI_FIELDS = {
    "w3pi": ("pt", "eta", "phi", "code", "quality", "weight"),
    "ditau": ("pt", "eta", "phi", "code", "quality", "weight", "z0"),
}


def _unpack(menu: Menu, buffers: Mapping[str, np.ndarray], orbit: int) -> dict[str, _Stream]:
    out = {}
    for stream in menu.streams:
        if stream not in buffers:
            msg = f"orbit {orbit}: no {stream!r} stream; the menu's selections need it"
            raise DataFormatError(msg)
        if stream == "puppi":
            fields = sorted({f for s in menu.selection for f in _PUPPI_FIELDS.get(s.kind, ())})
            u = unpack_puppi(buffers[stream], fields=fields)
            out[stream] = _Stream(u.orbit, u.bx, u.offsets, u.physical(), u.problems)
        else:
            o = unpack_objects(buffers[stream], stream)
            out[stream] = _Stream(o.orbit, o.bx, o.offsets, o.values, o.problems)
    return out


def _evaluate(s: Any, streams: Mapping[str, _Stream], models: MenuModels) -> SelectionOutput:
    if isinstance(s, W3PiSelection):
        p = streams["puppi"]
        v = p.values
        pion = w3pi_pions(
            v["pdgid"], v["quality"], require_pv=s.require_pv, include_electrons=s.include_electrons
        )
        iso = v["pt"].astype(np.float64) * (v["puppi_w"] if s.puppi_weights else 1.0)
        return w3pi_select(
            p.offsets, pt=v["pt"], eta=v["eta"], phi=v["phi"], charge=v["charge"], pion=pion,
            iso_pt=iso, cuts=s.cuts,
        )  # fmt: skip
    if isinstance(s, SingleMuonSelection):
        m = streams["muon"]
        return single_muon_select(
            m.offsets, pt=m.values["pt"], eta=m.values["eta"], quality=m.values.get("quality"),
            pt_min=s.pt_min, eta_max=s.eta_max, quality_min=s.quality_min,
        )  # fmt: skip
    if isinstance(s, HtSelection):
        return ht_select(_per_bx(streams["sums"], "ht"), ht_min=s.ht_min)
    if isinstance(s, DiTauSelection):
        p = streams["puppi"]
        return ditau_select(p.offsets, p.values, models.scorers[s.name], s.params)
    x = anomaly_inputs(
        {"met": _per_bx(streams["sums"], "met"), "met_phi": _per_bx(streams["sums"], "met_phi")},
        (streams["egamma"].offsets, streams["egamma"].values),
        (streams["muon"].offsets, streams["muon"].values),
        (streams["jet"].offsets, streams["jet"].values),
    )
    return anomaly_select(x, models.scorers[s.name], s.threshold, scaler=models.scalers.get(s.name))


def _per_bx(sums: _Stream, key: str) -> np.ndarray:
    """One value per BX from the sums stream (0 where a BX carries no sums word)."""
    return first_per_event(sums.offsets, sums.values[key], fill=0.0, dtype=np.float64)


def _truth_of(
    truth: Mapping[str, np.ndarray] | None, orbit: int, bx: npt.NDArray[np.int16]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per BX of *bx*: sample ("" none), event (-1 none), injected, from the truth rows of *orbit*."""
    sample = np.full(bx.size, "", dtype=object)
    event = np.full(bx.size, -1, dtype=np.int64)
    injected = np.zeros(bx.size, dtype=np.bool_)
    if truth is None:
        return sample.astype(str), event, injected
    rows = np.asarray(truth["orbit"]) == orbit
    t_bx = np.asarray(truth["bx"], dtype=np.int64)[rows]
    bx64 = bx.astype(np.int64)
    pos = np.searchsorted(bx64, t_bx)
    ok = pos < bx.size
    ok[ok] = bx64[pos[ok]] == t_bx[ok]
    sample[pos[ok]] = np.asarray(truth["sample"], dtype=object)[rows][ok]
    event[pos[ok]] = np.asarray(truth["event"], dtype=np.int64)[rows][ok]
    injected[pos[ok]] = np.asarray(truth["injected"], dtype=np.bool_)[rows][ok]
    return sample.astype(str), event, injected


def run_menu_on_orbit(
    menu: Menu,
    models: MenuModels,
    buffers: Mapping[str, np.ndarray],
    truth: Mapping[str, np.ndarray] | None = None,
    *,
    orbit: int | None = None,
) -> OrbitOutcome:
    """Every selection of *menu* on one orbit (module docstring).

    Args:
        menu: the menu.
        models: its loaded models (:func:`load_menu_models`).
        buffers: stream -> the orbit's words (every stream the menu reads).
        truth: truth rows (columns ``orbit``, ``bx``, ``sample``, ``event``,
            ``injected``; other orbits' rows are ignored), or None.
        orbit: the orbit number (default: the one in the headers).

    Raises:
        DataFormatError: a stream the menu reads is missing, or a model's output has the wrong shape.
    """
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    number = -1 if orbit is None else int(orbit)
    streams = _unpack(menu, buffers, number)
    common = None
    problems = Problems()
    for s in streams.values():
        common = s.bx if common is None else np.intersect1d(common, s.bx)
        problems = problems + s.problems
    common = np.zeros(0, np.int16) if common is None else common.astype(np.int16)
    streams = {k: _restrict(s, common) for k, s in streams.items()}
    if orbit is None:
        number = max((s.orbit for s in streams.values()), default=-1)
    seconds["unpack"] = time.perf_counter() - start
    passed, tables = {}, {}
    for sel in menu.selection:
        t0 = time.perf_counter()
        out = _evaluate(sel, streams, models)
        seconds[sel.name] = time.perf_counter() - t0
        passed[sel.name] = out.passed
        table = dict(out.table)
        rows = table.pop("bx_index")
        tables[sel.name] = {
            "orbit": np.full(rows.size, number, dtype=np.int64),
            "bx": common[rows].astype(np.int16),
            **table,
        }
    sample, event, injected = _truth_of(truth, number, common)
    return OrbitOutcome(
        orbit=number, bx=common, passed=passed, tables=tables, sample=sample, event=event,
        injected=injected, problems=problems.as_dict(), seconds=seconds,
    )  # fmt: skip
