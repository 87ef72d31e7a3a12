"""Regression data sets for the re-calibration of Level-1 muons and jets (the seed's recipe).

The re-calibration study ("the seed"; ``docs/physics/l1-algorithms.md``,
"Re-calibration of L1 objects", "Dataset recipe") prepares
its data as follows, and so do :func:`muon_dataset` and :func:`jet_dataset`:

1. **Hardware objects**: the Level-1 objects of the ``L1T`` view as the trigger
   stores them (:mod:`l1scout.tasks.recalib.hardware`), all values digitised.
   Muons come by default from the muon system (``source="standalone"``: the
   ``L1T_MuonStandalone`` collection of :mod:`l1scout.detector.muon_system`,
   pT from the track finders' curvature, eta and phi at the second muon
   station), as the seed's muons do; ``source="tracker"`` takes the L1T
   tracker muons (``MuonTight``: tracker pT, direction at the vertex) and bends
   their phi to the station with :func:`~l1scout.tasks.recalib.hardware.phi_at_station`.
2. **Duplicates dropped**: within an event, an object whose hardware tuple
   (``hwPt, hwEta, hwPhi[, hwSign]``) equals an earlier one's is dropped.
3. **Physical units**: hardware values times their bin widths (GeV, rad;
   phi in [0, 2 pi)); the charge as +1 / -1.
4. **Matching** to the offline (``FullReco``) objects
   (:mod:`l1scout.tasks.recalib.matching`). Muons one to one, greedy in dR
   (:func:`~l1scout.tasks.recalib.match_one_to_one`), where
   the offline muon is first propagated to the same station as the L1 muon's
   (standalone: through the card's field map,
   :func:`l1scout.detector.muon_system.station_position`, from the origin, its
   eta and phi at the station; tracker: the same bending formula,
   :func:`~l1scout.tasks.recalib.hardware.phi_at_station`), as CMS matches L1
   muons to offline ones at the second station (the seed's data carry
   ``phiExtRecoSt1`` for the same reason); a station phi compared with a vertex
   phi would lose the low-pT muons. Jets: every offline
   jet to its nearest L1 jet within dR 0.4, the target the sum of the matched
   offline pT.
5. **Selection**: muons with ``5.5 < pT_L1 < 45 GeV`` (the seed's cut on the L1 pT).
6. **Targets as residuals** (``TARGET_NAMES``), offline minus L1:
   ``dpt_over_pt = (pT_reco - pT_L1) / pT_reco``, ``deta = eta_reco - eta_L1``,
   ``dphi = wrap(phi_reco - phi_L1)`` in [-pi, pi) (:func:`l1scout._jagged.wrap_phi`),
   with the offline phi first brought to the L1 range [0, 2 pi). For a muon the
   offline values are those at the vertex, so ``dphi`` holds the bending the
   model must undo. For a jet with several matches, ``pT_reco`` is the scalar sum
   of their pT and ``eta_reco``, ``phi_reco`` the direction of the vector sum.
   Jets regress ``dpt_over_pt`` only by default (:data:`JET_TARGETS`, the seed's
   jet study corrects the pT alone); ``jet_dataset(targets=TARGET_NAMES)`` adds
   eta and phi. A model's corrected pT is ``pT_L1 / (1 - predicted dpt_over_pt)``
   (:func:`l1scout.tasks.recalib.metrics.corrected_pt`).
7. **Split** 65 / 20 / 15 % into train / val / test by a permutation drawn from
   ``numpy.random.default_rng(seed)``: the same input and seed give the same split.
8. **Scaling**: inputs min-max scaled to [0, 1] with the train split's minimum
   and maximum (val and test may fall slightly outside); targets standardised
   with the train split's mean and standard deviation. A constant column keeps
   a scale of 1. :meth:`RegressionData.unscale_targets` inverts the target scaling.

Example:
    >>> import awkward as ak
    >>> n = 40
    >>> rng = np.random.default_rng(0)
    >>> eta = rng.uniform(-1, 1, n)
    >>> ev = {
    ...     "L1T_JetPuppiAK4_PT": ak.unflatten(rng.uniform(20, 80, n), 1),
    ...     "L1T_JetPuppiAK4_Eta": ak.unflatten(eta, 1),
    ...     "L1T_JetPuppiAK4_Phi": ak.unflatten(np.zeros(n), 1),
    ...     "FullReco_JetPuppiAK4_PT": ak.unflatten(rng.uniform(20, 80, n), 1),
    ...     "FullReco_JetPuppiAK4_Eta": ak.unflatten(eta + 0.01, 1),
    ...     "FullReco_JetPuppiAK4_Phi": ak.unflatten(np.zeros(n), 1),
    ... }
    >>> data = jet_dataset(ev, seed=3)
    >>> {k: len(v) for k, v in data.x.items()}, data.target_names
    ({'train': 26, 'val': 8, 'test': 6}, ('dpt_over_pt',))
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, match_one_to_one, offsets_from_counts, wrap_phi
from l1scout._types import F32, F64, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import EventsLike, field_like, jagged
from l1scout.tasks.recalib.hardware import (
    HardwareJets,
    HardwareMuons,
    MuonBending,
    l1_jets,
    l1_muons,
    l1_standalone_muons,
    phi_at_station,
)
from l1scout.tasks.recalib.matching import match_jets

if TYPE_CHECKING:
    from l1scout.detector.muon_system import MuonGeometry

__all__ = [
    "JET_FEATURES",
    "JET_TARGETS",
    "MIN_OBJECTS",
    "MUON_FEATURES",
    "MUON_SOURCES",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "TARGET_NAMES",
    "MuonSource",
    "RegressionData",
    "build_regression_data",
    "drop_duplicates",
    "jet_dataset",
    "muon_dataset",
    "offline_at_station",
    "residuals",
    "split_indices",
]

_log = logging.getLogger(__name__)


#: Muon inputs (physical): pT (GeV), eta, phi at the station (rad, [0, 2 pi)), charge (+-1).
MUON_FEATURES: tuple[str, ...] = ("pt", "eta", "phi", "charge")
#: Jet inputs (physical): pT (GeV), eta, phi (rad, [0, 2 pi)).
JET_FEATURES: tuple[str, ...] = ("pt", "eta", "phi")
#: Residual targets of both kinds, offline minus L1 (muons regress all three).
TARGET_NAMES: tuple[str, ...] = ("dpt_over_pt", "deta", "dphi")
#: Where the L1 muons come from: the muon system (default, the seed's muons) or the tracker.
MuonSource = Literal["standalone", "tracker"]
#: The muon sources, the default first.
MUON_SOURCES: tuple[str, ...] = ("standalone", "tracker")
#: The jets' default targets: the pT residual only, as in the seed's jet study.
JET_TARGETS: tuple[str, ...] = ("dpt_over_pt",)
#: The splits, in order.
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: The seed's 65 / 20 / 15 % split.
SPLIT_FRACTIONS: tuple[float, float, float] = (0.65, 0.20, 0.15)
#: Fewest matched objects a data set is built from (every split then has a few).
MIN_OBJECTS = 20


@dataclass(frozen=True)
class RegressionData:
    """A split, scaled regression data set of L1 objects and their residuals to offline.

    Attributes:
        kind: ``"muon"`` or ``"jet"``.
        feature_names: names of the physical inputs (columns of ``x``).
        target_names: names of the residual targets (columns of ``y``).
        x: split -> inputs min-max scaled with the train split's range, float32 (n, features).
        y: split -> standardised residual targets, float32 (n, targets).
        x_physical: split -> physical L1 inputs (GeV, rad), float64.
        residual: split -> physical residual targets, float64.
        target_mean, target_std: the train split's target mean and standard deviation.
        input_min, input_max: the train split's input minimum and maximum.
        match: match counts and fractions, selection counts (for the report).
    """

    kind: Literal["muon", "jet"]
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    x: dict[str, F32]
    y: dict[str, F32]
    x_physical: dict[str, F64]
    residual: dict[str, F64]
    target_mean: F64
    target_std: F64
    input_min: F64
    input_max: F64
    match: dict[str, float]

    @property
    def sizes(self) -> dict[str, int]:
        """Rows per split."""
        return {split: len(self.x[split]) for split in self.x}

    def scale_inputs(self, x_physical: npt.ArrayLike) -> F32:
        """Physical inputs (n, features) -> the scaled inputs the models read (float32)."""
        x = np.asarray(x_physical, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            msg = f"inputs: expected shape (n, {len(self.feature_names)}), got {x.shape}"
            raise DataFormatError(msg)
        span = _span(self.input_min, self.input_max)
        out: F32 = ((x - self.input_min) / span).astype(np.float32)
        return out

    def unscale_targets(self, y_std: npt.ArrayLike) -> F64:
        """Standardised targets (n, targets) -> physical residuals (float64).

        >>> d = build_regression_data("jet", ("pt",), np.arange(20.0)[:, None],
        ...                           np.c_[np.arange(20.0), np.ones(20)], ("a", "b"), seed=1)
        >>> bool(np.allclose(d.unscale_targets(d.y["test"]), d.residual["test"], atol=1e-5))
        True
        """
        y = np.asarray(y_std, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != len(self.target_names):
            msg = f"targets: expected shape (n, {len(self.target_names)}), got {y.shape}"
            raise DataFormatError(msg)
        out: F64 = y * self.target_std + self.target_mean
        return out


def _span(lo: F64, hi: F64) -> F64:
    span = hi - lo
    out: F64 = np.where(span > 0, span, 1.0)
    return out


def split_indices(
    n: int, seed: int, fractions: tuple[float, float, float] = SPLIT_FRACTIONS
) -> dict[str, I64]:
    """Row indices of the train / val / test splits: a seeded permutation cut at the fractions.

    The train and val sizes are rounded, the test split takes the rest.

    >>> {k: len(v) for k, v in split_indices(100, seed=1).items()}
    {'train': 65, 'val': 20, 'test': 15}
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1):
        msg = f"fractions: expected three non-negative fractions summing to 1, got {fractions}"
        raise ConfigError(msg)
    perm = np.random.default_rng(seed).permutation(n).astype(np.int64)
    n_train = round(fractions[0] * n)
    n_val = min(round(fractions[1] * n), n - n_train)
    return {
        "train": perm[:n_train],
        "val": perm[n_train : n_train + n_val],
        "test": perm[n_train + n_val :],
    }


def residuals(
    pt_l1: npt.ArrayLike,
    eta_l1: npt.ArrayLike,
    phi_l1: npt.ArrayLike,
    pt_reco: npt.ArrayLike,
    eta_reco: npt.ArrayLike,
    phi_reco: npt.ArrayLike,
) -> F64:
    """The (n, 3) residuals ``(pT_reco - pT_L1) / pT_reco``, ``eta_reco - eta_L1``, ``wrap(phi_reco - phi_L1)``.

    The offline phi is brought to [0, 2 pi) (the L1 range) first; the difference
    is wrapped to [-pi, pi) anyway.

    >>> residuals([9.0], [0.1], [6.2], [10.0], [0.15], [-0.05]).round(4).tolist()
    [[0.1, 0.05, 0.0332]]
    """
    p1 = np.asarray(pt_l1, dtype=np.float64)
    pr = np.asarray(pt_reco, dtype=np.float64)
    if np.any(~(pr > 0)):
        msg = "offline pT: expected positive values (the pT residual divides by it)"
        raise DataFormatError(msg)
    phi_r = np.mod(np.asarray(phi_reco, dtype=np.float64), 2 * np.pi)
    dphi = wrap_phi(phi_r - np.asarray(phi_l1, dtype=np.float64))
    deta = np.asarray(eta_reco, dtype=np.float64) - np.asarray(eta_l1, dtype=np.float64)
    out: F64 = np.stack([(pr - p1) / pr, deta, dphi], axis=1)
    return out


def drop_duplicates(offsets: npt.ArrayLike, hardware: npt.ArrayLike) -> B:
    """Keep-mask of the objects whose hardware tuple is not an earlier object's in the same event.

    Args:
        offsets: per-event offsets.
        hardware: (n, k) integer hardware tuples.

    >>> drop_duplicates([0, 3, 4], [[1, 2], [1, 2], [1, 3], [1, 2]]).tolist()
    [True, False, True, True]
    """
    hw = np.asarray(hardware, dtype=np.int64)
    n = len(hw)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    key = np.concatenate([event_index(np.asarray(offsets, dtype=np.int64))[:, None], hw], axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    keep[first] = True
    return keep


def _too_few(kind: str, n: int, n_events: int, min_objects: int, what: str) -> None:
    if n < min_objects:
        msg = (
            f"{kind} data set: {n} {what} in {n_events} events, at least {min_objects} are "
            f"needed for a 65/20/15 split; read more events (or a process rich in {kind}s)"
        )
        raise DataFormatError(msg)


def build_regression_data(
    kind: Literal["muon", "jet"],
    feature_names: tuple[str, ...],
    x_physical: npt.ArrayLike,
    residual: npt.ArrayLike,
    target_names: tuple[str, ...] = TARGET_NAMES,
    *,
    seed: int = 1,
    match: Mapping[str, float] | None = None,
    min_objects: int = MIN_OBJECTS,
) -> RegressionData:
    """Split and scale matched rows (steps 7 and 8 of the recipe).

    Args:
        kind: ``"muon"`` or ``"jet"``.
        feature_names: names of the columns of *x_physical*.
        x_physical: (n, features) physical inputs.
        residual: (n, targets) physical residual targets.
        target_names: names of the columns of *residual*.
        seed: seed of the split permutation.
        match: counts and fractions to carry along.
        min_objects: fewest rows accepted.

    Raises:
        DataFormatError: shapes that do not fit the names, non-finite values, or
            fewer than *min_objects* rows.
    """
    x = np.asarray(x_physical, dtype=np.float64)
    r = np.asarray(residual, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(feature_names):
        msg = f"{kind} inputs: expected shape (n, {len(feature_names)}), got {x.shape}"
        raise DataFormatError(msg)
    if r.shape != (len(x), len(target_names)):
        msg = f"{kind} targets: expected shape ({len(x)}, {len(target_names)}), got {r.shape}"
        raise DataFormatError(msg)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(r))):
        msg = f"{kind} data set: inputs and targets must be finite"
        raise DataFormatError(msg)
    if len(x) < min_objects:
        msg = f"{kind} data set: {len(x)} rows, at least {min_objects} are needed for a 65/20/15 split"
        raise DataFormatError(msg)
    idx = split_indices(len(x), seed)
    train_x, train_r = x[idx["train"]], r[idx["train"]]
    lo, hi = train_x.min(axis=0), train_x.max(axis=0)
    mean, std = train_r.mean(axis=0), train_r.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    span = _span(lo, hi)
    return RegressionData(
        kind=kind,
        feature_names=tuple(feature_names),
        target_names=tuple(target_names),
        x={s: ((x[i] - lo) / span).astype(np.float32) for s, i in idx.items()},
        y={s: ((r[i] - mean) / std).astype(np.float32) for s, i in idx.items()},
        x_physical={s: x[i] for s, i in idx.items()},
        residual={s: r[i] for s, i in idx.items()},
        target_mean=mean,
        target_std=std,
        input_min=lo,
        input_max=hi,
        match=dict(match or {}),
    )


def _dedup_muons(mu: HardwareMuons) -> tuple[HardwareMuons, int]:
    keep = drop_duplicates(mu.offsets, mu.hardware())
    counts = np.bincount(event_index(mu.offsets)[keep], minlength=len(mu.offsets) - 1)
    off = offsets_from_counts(counts)
    out = HardwareMuons(off, mu.hw_pt[keep], mu.hw_eta[keep], mu.hw_phi[keep], mu.hw_sign[keep])
    return out, int((~keep).sum())


def _dedup_jets(jets: HardwareJets) -> tuple[HardwareJets, int]:
    keep = drop_duplicates(jets.offsets, jets.hardware())
    counts = np.bincount(event_index(jets.offsets)[keep], minlength=len(jets.offsets) - 1)
    off = offsets_from_counts(counts)
    out = HardwareJets(off, jets.hw_pt[keep], jets.hw_eta[keep], jets.hw_phi[keep])
    return out, int((~keep).sum())


def _check_events(l1_off: I64, reco_off: I64, kind: str) -> int:
    if len(l1_off) != len(reco_off):
        msg = f"{kind} data set: the L1 and offline columns have different numbers of events ({len(l1_off) - 1} and {len(reco_off) - 1})"
        raise DataFormatError(msg)
    return len(l1_off) - 1


def muon_dataset(
    events: EventsLike,
    *,
    seed: int = 1,
    pt_min: float = 5.5,
    pt_max: float = 45.0,
    max_dr: float = 0.2,
    bending: MuonBending | None = None,
    l1_view: str = "L1T",
    offline_view: str = "FullReco",
    collection: str = "MuonTight",
    min_objects: int = MIN_OBJECTS,
    source: MuonSource = "standalone",
    standalone_collection: str = "MuonStandalone",
    geometry: MuonGeometry | None = None,
) -> RegressionData:
    """The muon re-calibration data set of a chunk of events (the module's recipe).

    Args:
        events: an awkward record array (or mapping) with the columns
            ``<l1_view>_<collection>_PT/Eta/Phi/Charge`` and the same of
            ``<offline_view>`` (what :func:`l1scout.io.open_dataset` reads).
        seed: seed of the split.
        pt_min: lower end of the L1 pT window (GeV, exclusive), the seed's 5.5.
        pt_max: upper end of the L1 pT window (GeV, exclusive), the seed's 45.
        max_dr: the matching distance at the muon station.
        bending: the bending geometry of the tracker muons (``source="tracker"``;
            default :class:`MuonBending`).
        l1_view: the view of the L1 muons.
        offline_view: the view of the offline muons.
        collection: the offline muon collection, and the L1 one for ``source="tracker"``.
        min_objects: fewest selected muons accepted.
        source: ``"standalone"`` (the muon system's L1 muons, columns
            ``<l1_view>_<standalone_collection>_HwPt/HwEta/HwPhi/Charge``) or
            ``"tracker"`` (``<l1_view>_<collection>_PT/Eta/Phi/Charge``).
        standalone_collection: the standalone muon collection.
        geometry: the field map and station of the standalone muons (default:
            the ``[muon_system]`` geometry of the L1T card).

    Returns:
        ``kind="muon"``, features :data:`MUON_FEATURES`, targets :data:`TARGET_NAMES`;
        ``match`` holds ``l1``, ``offline``, ``matched`` and the matched fractions,
        ``duplicates`` (L1 muons dropped) and ``selected`` (rows).

    Raises:
        DataFormatError: a column is missing, or fewer than *min_objects* matched
            muons in the pT window.
    """
    if not pt_max > pt_min:
        msg = f"pt_max: expected more than pt_min ({pt_min} GeV), got {pt_max}"
        raise ConfigError(msg)
    if source == "standalone":
        raw = l1_standalone_muons(events, view=l1_view, collection=standalone_collection)
    elif source == "tracker":
        raw = l1_muons(events, view=l1_view, collection=collection, bending=bending)
    else:
        msg = f"source: expected one of {', '.join(MUON_SOURCES)}, got {source!r}"
        raise ConfigError(msg)
    mu, dupes = _dedup_muons(raw)
    prefix = f"{offline_view}_{collection}"
    off_r, pt_r = jagged(events, f"{prefix}_PT", np.float64)
    eta_r = field_like(events, prefix, "Eta", off_r, np.float64)
    phi_r = field_like(events, prefix, "Phi", off_r, np.float64)
    q_r = field_like(events, prefix, "Charge", off_r, np.float64)
    n_events = _check_events(mu.offsets, off_r, "muon")
    if source == "standalone":
        eta_st, phi_st = offline_at_station(pt_r, eta_r, phi_r, q_r, geometry)
    else:
        eta_st, phi_st = eta_r, phi_at_station(phi_r, pt_r, eta_r, q_r, bending)
    m = match_one_to_one(mu.offsets, mu.eta, mu.phi, off_r, eta_st, phi_st, max_dr=max_dr)
    pt, eta, phi, charge = (mu.pt[m.l1], mu.eta[m.l1], mu.phi[m.l1], mu.charge[m.l1])
    sel = (pt > pt_min) & (pt < pt_max)
    match = m.summary()
    match["duplicates"] = float(dupes)
    match["selected"] = float(sel.sum())
    _too_few(
        "muon",
        int(sel.sum()),
        n_events,
        min_objects,
        f"matched L1 muons with {pt_min} < pT < {pt_max} GeV",
    )
    x = np.stack([pt, eta, phi, charge.astype(np.float64)], axis=1)[sel]
    j = m.offline[sel]
    res = residuals(pt[sel], eta[sel], phi[sel], pt_r[j], eta_r[j], phi_r[j])
    _log.info(
        "muon data set: %d events, %d L1 muons (%d duplicates dropped), %d matched, %d selected",
        n_events,
        m.n_l1,
        dupes,
        len(m.l1),
        int(sel.sum()),
    )
    return build_regression_data(
        "muon", MUON_FEATURES, x, res, seed=seed, match=match, min_objects=min_objects
    )


def offline_at_station(
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    charge: npt.ArrayLike,
    geometry: MuonGeometry | None = None,
) -> tuple[F64, F64]:
    """Eta and phi (in [0, 2 pi)) where offline muons reach the standalone muons' station.

    Each muon is transported from the origin through the card's field map
    (:func:`l1scout.detector.muon_system.station_position`); the offline
    collections carry no production point, and a beam spot of a few cm moves
    the station eta by about 0.01, far inside the matching distance. A muon
    that does not reach the station gets eta = 1e9, so that it matches nothing.

    Args:
        pt: transverse momentum (GeV).
        eta: pseudorapidity at the vertex.
        phi: azimuth at the vertex (rad).
        charge: +1 or -1.
        geometry: the field map and station (default: the L1T card's ``[muon_system]``).
    """
    from l1scout.detector.muon_system import station_position

    if geometry is None:
        from l1scout.detector.view_card import load_view_card

        spec = load_view_card("L1T").muon_system
        if spec is None:  # pragma: no cover - the shipped card has the section
            msg = "the L1T card has no [muon_system] section: no standalone muon geometry"
            raise ConfigError(msg)
        geometry = spec.geometry
    p = np.asarray(pt, dtype=np.float64)
    zero = np.zeros_like(p)
    eta_st, phi_st, reached = station_position(p, eta, phi, charge, zero, zero, zero, geometry)
    eta_out: F64 = np.where(reached, eta_st, 1e9)
    phi_out: F64 = np.mod(phi_st, 2.0 * np.pi)
    return eta_out, phi_out


def jet_dataset(
    events: EventsLike,
    *,
    seed: int = 1,
    max_dr: float = 0.4,
    offline_pt_min: float = 15.0,
    l1_view: str = "L1T",
    offline_view: str = "FullReco",
    l1_collection: str = "JetPuppiAK4",
    offline_collection: str = "JetPuppiAK4",
    min_objects: int = MIN_OBJECTS,
    targets: tuple[str, ...] = JET_TARGETS,
) -> RegressionData:
    """The jet re-calibration data set of a chunk of events (the module's recipe).

    Args:
        events: an awkward record array (or mapping) with the columns
            ``<l1_view>_<l1_collection>_PT/Eta/Phi`` and
            ``<offline_view>_<offline_collection>_PT/Eta/Phi``.
        seed: seed of the split.
        max_dr: the matching distance (the seed's 0.4).
        offline_pt_min: offline jets with pT at or below this are ignored (GeV;
            15 GeV is the views' own jet threshold, so on l1scout files it
            changes nothing; on other data it keeps the two sides comparable).
        l1_view: the view of the L1 jets.
        offline_view: the view of the offline jets.
        l1_collection: the L1 jet collection: PUPPI AK4 jets, as the Phase-2 L1
            correlator builds them.
        offline_collection: the offline jet collection: PUPPI AK4 jets, the
            Phase-2 offline default.
        min_objects: fewest matched L1 jets accepted.
        targets: the residual targets, a selection of :data:`TARGET_NAMES` in its
            order (default :data:`JET_TARGETS`: the pT only).

    Returns:
        ``kind="jet"``, features :data:`JET_FEATURES`, the *targets* (one row per
        L1 jet with at least one match); ``match`` holds
        :meth:`~l1scout.tasks.recalib.matching.JetMatch.summary`, ``duplicates``
        and ``selected``.

    Raises:
        ConfigError: a target that is not one of :data:`TARGET_NAMES`, or none.
        DataFormatError: a column is missing, or fewer than *min_objects* matched L1 jets.
    """
    columns = _target_columns(targets)
    jets, dupes = _dedup_jets(l1_jets(events, view=l1_view, collection=l1_collection))
    prefix = f"{offline_view}_{offline_collection}"
    off_r, pt_r = jagged(events, f"{prefix}_PT", np.float64)
    eta_r = field_like(events, prefix, "Eta", off_r, np.float64)
    phi_r = field_like(events, prefix, "Phi", off_r, np.float64)
    n_events = _check_events(jets.offsets, off_r, "jet")
    keep = pt_r > offline_pt_min
    counts = np.bincount(event_index(off_r)[keep], minlength=n_events)
    off_k = offsets_from_counts(counts)
    m = match_jets(
        jets.offsets, jets.eta, jets.phi, off_k, pt_r[keep], eta_r[keep], phi_r[keep], max_dr=max_dr
    )
    sel = m.n_matched > 0
    match = m.summary()
    match["duplicates"] = float(dupes)
    match["selected"] = float(sel.sum())
    _too_few("jet", int(sel.sum()), n_events, min_objects, "matched L1 jets")
    x = np.stack([jets.pt, jets.eta, jets.phi], axis=1)[sel]
    res = residuals(
        jets.pt[sel], jets.eta[sel], jets.phi[sel], m.sum_pt[sel], m.axis_eta[sel], m.axis_phi[sel]
    )[:, columns]
    _log.info(
        "jet data set: %d events, %d L1 jets (%d duplicates dropped), %d matched",
        n_events,
        len(jets.pt),
        dupes,
        int(sel.sum()),
    )
    return build_regression_data(
        "jet",
        JET_FEATURES,
        x,
        res,
        tuple(TARGET_NAMES[j] for j in columns),
        seed=seed,
        match=match,
        min_objects=min_objects,
    )


def _target_columns(targets: tuple[str, ...]) -> list[int]:
    """Columns of :func:`residuals` for *targets*, in the order of :data:`TARGET_NAMES`.

    >>> _target_columns(("dphi", "dpt_over_pt"))
    [0, 2]
    """
    unknown = [t for t in targets if t not in TARGET_NAMES]
    if unknown or not targets:
        msg = f"targets: expected some of {', '.join(TARGET_NAMES)}, got {list(targets)}"
        raise ConfigError(msg)
    return [j for j, t in enumerate(TARGET_NAMES) if t in targets]
