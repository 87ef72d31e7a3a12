"""A reference Level-1 menu of single-object seeds, applied to the 57 trigger inputs.

The anomaly trigger's *pure* efficiency counts the signal events it accepts
and no other trigger accepts (``docs/physics/l1-algorithms.md``, "Evaluation at a fixed rate").
"Other triggers" here is a small menu of single-object seeds (single muon,
double muon, single e/gamma, single jet, HT, MET) kept in a TOML data file,
``reference_menu.toml`` beside this module (its comments say where its numbers
come from). Each seed has a threshold in GeV and a target rate in kHz. A target
rate is a fraction of zero-bias crossings times the crossing rate that
:func:`calibrate_menu` is given (default the Phase-2 normalisation, 31,039 kHz,
:mod:`l1scout.tasks.rates`; the pipeline passes its
``evaluation.crossing_rate``), so the same target means the same rate in kHz
under either normalisation, and a slightly different fraction of crossings.

A seed fires when its quantity is *strictly above* its threshold (as the
anomaly trigger's ``score > threshold``). The quantity is computed from the
57 physical trigger inputs (:func:`l1scout.io.trigger_inputs.trigger_inputs`:
MET (pT, eta=0, phi), 4 e/gamma, 4 muons, 10 jets, each (pT, eta, phi),
zero-padded; pT in GeV):

* ``muon`` / ``egamma`` / ``jet``: the pT of the ``multiplicity``-th highest-pT
  object of the group with ``|eta| < eta_max`` (every object when ``eta_max``
  is unset; padding, pT = 0, never counts); with ``leading_min_gev`` (only for
  ``multiplicity >= 2``) the quantity is 0 unless the leading such object is
  above that value, so ``threshold_gev`` is the subleading threshold of an
  asymmetric double-object seed;
* ``met``: the MET;
* ``ht``: the scalar pT sum of the 10 trigger-input jets with pT >
  ``ht_jet_pt_min_gev`` (default 30 GeV) and ``|eta| < eta_max`` (default 2.4).

The shipped thresholds are CMS values for CMS objects; :func:`calibrate_menu`
re-sets every threshold so that the seed meets its target rate on a given
zero-bias sample (:func:`l1scout.tasks.rates.threshold_for_rate` on the
seed's quantity), and :func:`save_menu` writes the calibrated menu as a TOML
file that :func:`load_menu` reads back.

Example:
    >>> menu = load_menu()
    >>> [s.name for s in menu.seeds]
    ['SingleMu', 'DoubleMu', 'SingleEG', 'SingleJet', 'HT', 'MET']
    >>> x = np.zeros((2, 57), dtype=np.float32)
    >>> x[0, 15:18] = (30.0, 0.5, 1.0)       # a 30 GeV muon at eta 0.5
    >>> x[1, 0] = 50.0                       # 50 GeV of MET
    >>> menu_decisions(menu, x).tolist()
    [True, False]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from l1scout._datafile import load_toml_model
from l1scout._files import atomic_write_bytes
from l1scout._types import F64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.trigger_inputs import N_TRIGGER_INPUTS
from l1scout.tasks.rates import (
    CROSSING_RATE_KHZ,
    DEFAULT_CL,
    DEFAULT_MIN_PASS,
    MeasuredRate,
    measured_rate,
    threshold_for_rate,
)

__all__ = [
    "DEFAULT_MENU",
    "Menu",
    "Seed",
    "calibrate_menu",
    "load_menu",
    "menu_decisions",
    "menu_rates",
    "menu_summary",
    "menu_toml",
    "save_menu",
    "seed_decisions",
    "seed_quantity",
]

_log = logging.getLogger(__name__)


#: The menu shipped with l1scout.
DEFAULT_MENU = Path(__file__).with_name("reference_menu.toml")

ObjectKind = Literal["muon", "egamma", "jet", "met", "ht"]
#: First object index and number of objects of each group in the 19 trigger-input objects.
_GROUPS: dict[str, tuple[int, int]] = {
    "met": (0, 1),
    "egamma": (1, 4),
    "muon": (5, 4),
    "jet": (9, 10),
}
_HT_JET_PT_MIN = 30.0
_HT_ETA_MAX = 2.4


class Seed(BaseModel):
    """One seed of the reference menu (module docstring for what it computes).

    Attributes:
        name: the seed's name (letters, digits, ``_``).
        object: ``muon``, ``egamma``, ``jet``, ``met`` or ``ht``.
        threshold_gev: fires when the quantity is strictly above this (GeV).
        target_rate_khz: the rate :func:`calibrate_menu` sets the threshold for (kHz).
        multiplicity: objects required above threshold (muon, egamma, jet).
        eta_max: only objects with ``|eta| <`` this count (for ``ht`` default 2.4).
        leading_min_gev: with ``multiplicity >= 2``: the leading object must be above this (GeV).
        ht_jet_pt_min_gev: ``ht`` only: jets above this pT enter the sum (default 30 GeV).
        source: where the seed and its uncalibrated threshold come from.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$", min_length=1, max_length=64)
    object: ObjectKind
    threshold_gev: float = Field(ge=0.0, allow_inf_nan=False)
    target_rate_khz: float = Field(gt=0.0, lt=CROSSING_RATE_KHZ, allow_inf_nan=False)
    multiplicity: int = Field(default=1, ge=1, le=10)
    eta_max: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    leading_min_gev: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    ht_jet_pt_min_gev: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    source: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        kind = self.object
        if self.name == "total":
            msg = "name: 'total' is reserved for the whole menu's rate (menu_rates); pick another name"
            raise ValueError(msg)
        if kind in {"met", "ht"} and self.multiplicity != 1:
            msg = f"multiplicity: a {kind} seed is one number per event, expected 1, got {self.multiplicity}"
            raise ValueError(msg)
        if kind in _GROUPS and self.multiplicity > _GROUPS[kind][1]:
            msg = (
                f"multiplicity: the trigger inputs hold {_GROUPS[kind][1]} {kind} objects, "
                f"got {self.multiplicity}"
            )
            raise ValueError(msg)
        if kind == "met" and self.eta_max is not None:
            msg = "eta_max: MET has no eta (it is 0 in the trigger inputs); remove the field"
            raise ValueError(msg)
        if self.leading_min_gev is not None and self.multiplicity < 2:
            msg = "leading_min_gev: only for a seed with multiplicity >= 2"
            raise ValueError(msg)
        if self.ht_jet_pt_min_gev is not None and kind != "ht":
            msg = f"ht_jet_pt_min_gev: only for an ht seed, this one is {kind}"
            raise ValueError(msg)
        return self


class Menu(BaseModel):
    """A reference menu: named seeds; an event is accepted when any seed fires.

    Attributes:
        name: the menu's name.
        description: free text (provenance, calibration).
        calibrated_on_events: zero-bias events :func:`calibrate_menu` used; None
            for uncalibrated thresholds.
        seeds: the seeds, names unique.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    calibrated_on_events: int | None = Field(default=None, ge=1)
    seeds: tuple[Seed, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        if not self.seeds:
            msg = "seeds: expected at least one [[seeds]] table"
            raise ValueError(msg)
        names = [s.name for s in self.seeds]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            msg = f"seeds: each seed name once, got {', '.join(dup)} more than once"
            raise ValueError(msg)
        return self

    def seed(self, name: str) -> Seed:
        """The seed called ``name``.

        Raises:
            ConfigError: no such seed.
        """
        for s in self.seeds:
            if s.name == name:
                return s
        msg = f"menu {self.name!r} has no seed {name!r}; seeds: {', '.join(s.name for s in self.seeds)}"
        raise ConfigError(msg)


def load_menu(path: Path | str | None = None) -> Menu:
    """Read a menu file (TOML); the shipped ``reference_menu.toml`` when ``path`` is None.

    Raises:
        ConfigError: the file is missing, not TOML, or a field is invalid; the
            message names the file and the field path (e.g. ``seeds[2].threshold_gev``).
    """
    return load_toml_model(Path(path) if path is not None else DEFAULT_MENU, Menu)


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    named = {
        '"': '\\"',
        "\\": "\\\\",
        "\b": "\\b",
        "\t": "\\t",
        "\n": "\\n",
        "\f": "\\f",
        "\r": "\\r",
    }
    for ch in text:
        if ch in named:
            out.append(named[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    msg = f"cannot write {value!r} to a menu file"  # pragma: no cover - the models hold no other types
    raise ConfigError(msg)  # pragma: no cover


def menu_toml(menu: Menu) -> str:
    """The menu as TOML text, which :func:`load_menu` reads back to an equal :class:`Menu`."""
    lines = [
        "# l1scout reference menu, written by l1scout.tasks.anomaly.menu.save_menu.",
        "# A seed fires when its quantity is strictly above threshold_gev (see the module",
        "# l1scout.tasks.anomaly.menu and the shipped reference_menu.toml for the definitions).",
    ]
    if menu.calibrated_on_events is not None:
        lines.append(
            f"# Thresholds calibrated to target_rate_khz on {menu.calibrated_on_events} zero-bias events."
        )
    lines.append("")
    top = menu.model_dump(exclude={"seeds"}, exclude_none=True)
    lines += [f"{key} = {_toml_value(value)}" for key, value in top.items()]
    for seed in menu.seeds:
        lines += ["", "[[seeds]]"]
        fields = seed.model_dump(exclude_none=True)
        lines += [f"{key} = {_toml_value(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def save_menu(menu: Menu, path: Path | str) -> Path:
    """Write ``menu`` as a TOML menu file, atomically (temporary name, fsync, rename).

    Returns:
        The path written.

    Raises:
        ConfigError: the file cannot be written.
    """
    target = Path(path)
    try:
        return atomic_write_bytes(target, menu_toml(menu).encode("utf-8"))
    except OSError as exc:
        msg = f"{target}: cannot write the menu file ({exc.strerror or exc})"
        raise ConfigError(msg) from exc


def _inputs(x: npt.ArrayLike) -> F64:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != N_TRIGGER_INPUTS:
        msg = (
            f"trigger inputs: expected shape (n, {N_TRIGGER_INPUTS}) (MET, 4 e/gamma, 4 muons, 10 jets "
            f"x (pT, eta, phi)), got {arr.shape}"
        )
        raise DataFormatError(msg)
    if np.isnan(arr).any():
        msg = "trigger inputs: NaN found; missing objects must be zero-padded"
        raise DataFormatError(msg)
    return arr


def _object_pt_eta(x: F64, kind: str) -> tuple[F64, F64]:
    first, count = _GROUPS[kind]
    cols = x[:, 3 * first : 3 * (first + count)].reshape(len(x), count, 3)
    return cols[:, :, 0], cols[:, :, 1]


def _seed_quantity(seed: Seed, x: F64) -> F64:
    if seed.object == "met":
        return x[:, 0].copy()
    if seed.object == "ht":
        pt, eta = _object_pt_eta(x, "jet")
        pt_min = _HT_JET_PT_MIN if seed.ht_jet_pt_min_gev is None else seed.ht_jet_pt_min_gev
        eta_max = _HT_ETA_MAX if seed.eta_max is None else seed.eta_max
        keep = (pt > pt_min) & (np.abs(eta) < eta_max)
        ht: F64 = np.where(keep, pt, 0.0).sum(axis=1)
        return ht
    pt, eta = _object_pt_eta(x, seed.object)
    keep = pt > 0
    if seed.eta_max is not None:
        keep &= np.abs(eta) < seed.eta_max
    ranked = -np.sort(-np.where(keep, pt, 0.0), axis=1)
    q = ranked[:, seed.multiplicity - 1].copy()
    if seed.leading_min_gev is not None:
        q[~(ranked[:, 0] > seed.leading_min_gev)] = 0.0
    return q


def seed_quantity(seed: Seed, inputs: npt.ArrayLike) -> F64:
    """The quantity a seed cuts on, per event (GeV; module docstring).

    Args:
        seed: the seed.
        inputs: physical trigger inputs, shape (n, 57).

    Raises:
        DataFormatError: the inputs do not have shape (n, 57) or hold NaN.

    Example (the second muon above 7 GeV, only when the leading one is above 15):
        >>> x = np.zeros((2, 57))
        >>> x[:, 15], x[:, 18] = [20.0, 12.0], [9.0, 9.0]
        >>> s = Seed(name="DoubleMu", object="muon", multiplicity=2, leading_min_gev=15.0,
        ...          threshold_gev=7.0, target_rate_khz=1.0)
        >>> seed_quantity(s, x).tolist()
        [9.0, 0.0]
    """
    return _seed_quantity(seed, _inputs(inputs))


def seed_decisions(menu: Menu, inputs: npt.ArrayLike) -> dict[str, B]:
    """Per seed name, True for events the seed accepts (quantity > threshold)."""
    x = _inputs(inputs)
    return {s.name: _seed_quantity(s, x) > s.threshold_gev for s in menu.seeds}


def menu_decisions(menu: Menu, inputs: npt.ArrayLike) -> B:
    """True for events that any seed of the menu accepts; shape (n,).

    Raises:
        DataFormatError: the inputs do not have shape (n, 57) or hold NaN.
    """
    x = _inputs(inputs)
    out = np.zeros(len(x), dtype=bool)
    for decision in seed_decisions(menu, x).values():
        out |= decision
    return out


def menu_rates(
    menu: Menu,
    zb_inputs: npt.ArrayLike,
    *,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    cl: float = DEFAULT_CL,
) -> dict[str, MeasuredRate]:
    """Rate of each seed, and of the whole menu under the key ``"total"``, on zero-bias inputs.

    Raises:
        DataFormatError: the inputs do not have shape (n, 57), are empty, or hold NaN.
    """
    x = _inputs(zb_inputs)
    if len(x) == 0:
        msg = "zero-bias trigger inputs: no events"
        raise DataFormatError(msg)
    decisions = seed_decisions(menu, x)
    total = np.zeros(len(x), dtype=bool)
    out: dict[str, MeasuredRate] = {}
    for name, d in decisions.items():
        total |= d
        out[name] = measured_rate(int(d.sum()), len(x), crossing_rate_khz=crossing_rate_khz, cl=cl)
    out["total"] = measured_rate(
        int(total.sum()), len(x), crossing_rate_khz=crossing_rate_khz, cl=cl
    )
    return out


def calibrate_menu(
    menu: Menu,
    zb_inputs: npt.ArrayLike,
    *,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
    min_pass: int = DEFAULT_MIN_PASS,
    description: str | None = None,
) -> Menu:
    """The menu with each threshold re-set to meet the seed's target rate on a zero-bias sample.

    Each threshold is :func:`~l1scout.tasks.rates.threshold_for_rate`
    of the seed's quantity on the zero-bias inputs (at least 0 GeV): the
    smallest observed value that at most ``round(n x target / crossing rate)``
    events exceed. A seed whose target rate the sample cannot measure (fewer
    than ``min_pass`` expected events) is still set, with a warning in the log:
    its threshold rests on a handful of events.

    Args:
        menu: the menu to calibrate (its seeds, target rates and cuts are kept).
        zb_inputs: physical trigger inputs of zero-bias events, shape (n, 57).
        crossing_rate_khz: rate of non-empty crossings (kHz): the normalisation
            of the target rates (default the Phase-2 one).
        min_pass: measurability rule of :func:`threshold_for_rate`.
        description: replaces the menu's description; by default it records the calibration.

    Returns:
        The calibrated menu, with ``calibrated_on_events`` set to n.

    Raises:
        DataFormatError: the inputs do not have shape (n, 57), are empty, or hold NaN.
    """
    x = _inputs(zb_inputs)
    if len(x) == 0:
        msg = "zero-bias trigger inputs: no events to calibrate the menu on"
        raise DataFormatError(msg)
    seeds = []
    for seed in menu.seeds:
        t = threshold_for_rate(
            _seed_quantity(seed, x),
            seed.target_rate_khz,
            crossing_rate_khz=crossing_rate_khz,
            min_pass=min_pass,
        )
        threshold = max(0.0, t.threshold) if math.isfinite(t.threshold) else 0.0
        if not t.measurable:
            _log.warning(
                "seed %s: %.1f zero-bias events expected at %g kHz in %d (at least %d needed); "
                "its calibrated threshold %.4g GeV is statistically unreliable",
                seed.name,
                t.expected_pass,
                seed.target_rate_khz,
                len(x),
                min_pass,
                threshold,
            )
        _log.info(
            "seed %s: threshold %.4g -> %.4g GeV, rate %.3g kHz (target %g kHz)",
            seed.name,
            seed.threshold_gev,
            threshold,
            t.rate_measured_khz,
            seed.target_rate_khz,
        )
        seeds.append(seed.model_copy(update={"threshold_gev": threshold}))
    text = (
        description
        if description is not None
        else f"{menu.name} with thresholds calibrated to the target rates on {len(x)} zero-bias events."
    )
    return Menu(name=menu.name, description=text, calibrated_on_events=len(x), seeds=tuple(seeds))


def menu_summary(
    menu: Menu, rates: Mapping[str, MeasuredRate] | None = None
) -> list[dict[str, object]]:
    """Rows describing the seeds (for reports): name, object, cut, threshold, target and measured rate."""
    rows: list[dict[str, object]] = []
    for s in menu.seeds:
        cut = f"{s.multiplicity} x {s.object}" if s.multiplicity > 1 else s.object
        if s.leading_min_gev is not None:
            cut += f", leading > {s.leading_min_gev:g} GeV"
        if s.eta_max is not None:
            cut += f", |eta| < {s.eta_max:g}"
        if s.object == "ht":
            pt_min = _HT_JET_PT_MIN if s.ht_jet_pt_min_gev is None else s.ht_jet_pt_min_gev
            eta = _HT_ETA_MAX if s.eta_max is None else s.eta_max
            cut = f"ht (jets pT > {pt_min:g} GeV, |eta| < {eta:g})"
        row: dict[str, object] = {
            "seed": s.name,
            "cut": cut,
            "threshold_gev": s.threshold_gev,
            "target_rate_khz": s.target_rate_khz,
        }
        if rates is not None and s.name in rates:
            row["rate_khz"] = rates[s.name].rate_khz
        rows.append(row)
    return rows
