"""Jets for the detector views: clustering, flavour, b-tagging and constituent sums.

The clustering itself is FastJet (M. Cacciari, G. P. Salam, G. Soyez, EPJC 72
(2012) 1896, arXiv:1111.6097) through its scikit-hep Python binding, run on a
whole batch at once with the binding's awkward multi-event interface. FastJet
prints its banner on first use in every process (each Dask worker, each
clustering process); :func:`_fastjet` turns it off before the first clustering. The
sequential-recombination algorithms are anti-kT (Cacciari, Salam, Soyez, JHEP
04 (2008) 063, arXiv:0802.1189), kT and Cambridge/Aachen, all with E-scheme
recombination (four-vector sums), as Delphes' ``FastJetFinder`` module runs
them.

The helpers after the clustering follow Delphes modules in simplified form:

* :func:`jet_flavour`: the ``JetFlavorAssociation`` idea, matching b/c
  hadrons and hard partons to the jet axis in (eta, phi);
* :func:`btag`: the ``BTagging`` module, one Bernoulli draw per jet with a
  probability that depends on the jet flavour, pT and eta;
* :func:`constituent_sums`: ``Jet.Charge``, ``NCharged`` and ``NNeutrals`` of
  the Delphes ``Jet`` class.

A batch follows the l1scout convention: flat arrays of all events
concatenated plus ``offsets`` (int64, length ``n_events + 1``). Momenta and
energies are in GeV; phi is in [-pi, pi].

Example:
    >>> spec = JetDefinitionSpec("antikt", 0.4, 10.0)
    >>> offsets = np.array([0, 3, 3])
    >>> px = np.array([50.0, 45.0, -30.0])
    >>> py = np.array([0.0, 2.0, 1.0])
    >>> pz = np.array([0.0, 0.0, 5.0])
    >>> e = np.sqrt(px**2 + py**2 + pz**2)
    >>> jets = cluster_jets(offsets, px, py, pz, e, spec)
    >>> jets.offsets.tolist(), jets.constituents.tolist()
    ([0, 2, 2], [0, 1, 2])
    >>> np.round(jets.pt, 3).tolist()
    [95.021, 30.017]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from l1scout._jagged import check_offsets, offsets_from_counts, wrap_phi
from l1scout._types import F64, I64
from l1scout.errors import ConfigError
from l1scout.pdg import heavy_flavour

__all__ = [
    "JetDefinitionSpec",
    "Jets",
    "btag",
    "cluster_jets",
    "constituent_sums",
    "jet_flavour",
]


#: FastJet's name for each algorithm a spec may ask for.
_ALGORITHMS: dict[str, str] = {
    "antikt": "antikt_algorithm",
    "kt": "kt_algorithm",
    "cambridge": "cambridge_algorithm",
}

#: Pseudorapidity given to a jet with zero transverse momentum (FastJet's ``MaxRap``).
_MAX_ETA = 1.0e5

#: PDG ids of the light partons a jet may take its flavour from (d, u, s, gluon).
_LIGHT_PARTONS = np.array([1, 2, 3, 21], dtype=np.int64)


@dataclass(frozen=True)
class JetDefinitionSpec:
    """What to cluster with.

    Attributes:
        algorithm: ``"antikt"``, ``"kt"`` or ``"cambridge"`` (Cambridge/Aachen).
        radius: the distance parameter R (in the (rapidity, phi) plane).
        pt_min: smallest jet transverse momentum kept, in GeV (jets with
            ``pt >= pt_min`` are kept).
    """

    algorithm: Literal["antikt", "kt", "cambridge"]
    radius: float
    pt_min: float

    def __post_init__(self) -> None:
        """Check the values; a bad one raises :class:`ConfigError`."""
        if self.algorithm not in _ALGORITHMS:
            msg = f"JetDefinitionSpec.algorithm must be one of {sorted(_ALGORITHMS)}, got {self.algorithm!r}"
            raise ConfigError(msg)
        if not (np.isfinite(self.radius) and self.radius > 0):
            msg = f"JetDefinitionSpec.radius must be a finite number > 0, got {self.radius!r}"
            raise ConfigError(msg)
        if not (np.isfinite(self.pt_min) and self.pt_min >= 0):
            msg = f"JetDefinitionSpec.pt_min must be a finite number >= 0 GeV, got {self.pt_min!r}"
            raise ConfigError(msg)


@dataclass(frozen=True, eq=False)
class Jets:
    """A batch of jets: flat arrays plus offsets, sorted by pT descending in each event.

    Attributes:
        offsets: int64, length ``n_events + 1``; event k owns jets
            ``offsets[k]:offsets[k + 1]``.
        px: jet momentum x component, GeV.
        py: jet momentum y component, GeV.
        pz: jet momentum z component, GeV.
        e: jet energy, GeV.
        pt: jet transverse momentum, GeV.
        eta: jet pseudorapidity (``1e5`` times the sign of pz for a jet with pt = 0).
        phi: jet azimuth in [-pi, pi].
        mass: jet invariant mass, GeV (0 where rounding makes m^2 negative).
        constituent_offsets: int64, length ``n_jets + 1``; jet j owns
            ``constituents[constituent_offsets[j]:constituent_offsets[j + 1]]``.
        constituents: int64, the index of each constituent inside its event's
            input collection (0-based, local to the event), increasing within a jet.
    """

    offsets: I64
    px: F64
    py: F64
    pz: F64
    e: F64
    pt: F64
    eta: F64
    phi: F64
    mass: F64
    constituent_offsets: I64
    constituents: I64


# ---------------------------------------------------------------------------
# input checks


def _as_f64(values: npt.ArrayLike, name: str, n: int, length_of: str = "") -> F64:
    """Return ``values`` as a contiguous float64 1-D array of length ``n``."""
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.shape != (n,):
        expected = f"{length_of} = {n}" if length_of else str(n)
        msg = f"{name} must be a 1-D array of length {expected}, got shape {arr.shape}"
        raise ConfigError(msg)
    return arr


def _check_jets(jets: Jets, name: str = "jets") -> int:
    """Return the number of events of ``jets`` after checking its offsets."""
    n_jets = jets.pt.shape[0]
    check_offsets(jets.offsets, f"{name}.offsets", n_jets)
    check_offsets(
        jets.constituent_offsets, f"{name}.constituent_offsets", jets.constituents.shape[0]
    )
    if jets.constituent_offsets.shape[0] != n_jets + 1:
        msg = f"{name}.constituent_offsets must have length n_jets + 1 = {n_jets + 1}"
        raise ConfigError(msg)
    return int(jets.offsets.shape[0] - 1)


# ---------------------------------------------------------------------------
# clustering


@functools.cache
def _fastjet() -> Any:
    """The ``fastjet`` module, its banner turned off (once per process).

    The banner goes to FastJet's banner stream on the first clustering of a
    process; a null stream suppresses it. The stream is a static of the shared
    ``libfastjet`` that both the SWIG and the awkward (pybind11) interfaces use,
    so setting it through the SWIG class covers both.
    """
    import fastjet

    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
    return fastjet


def _jet_definition(spec: JetDefinitionSpec) -> Any:
    """Build the FastJet jet definition of ``spec`` with E-scheme recombination."""
    fastjet = _fastjet()

    algorithm = getattr(fastjet, _ALGORITHMS[spec.algorithm])
    # Keep to this three-argument form: the binding's four-argument call
    # (algorithm, R, scheme, strategy) binds to (algorithm, R, extra, scheme, ...)
    # and silently gives pt-scheme recombination with the N^3 strategy.
    jet_def = fastjet.JetDefinition(algorithm, float(spec.radius), fastjet.E_scheme)
    if jet_def.recombination_scheme() != fastjet.E_scheme:  # pragma: no cover - binding guard
        msg = (
            f"the fastjet binding built {jet_def.description()!r}, expected E-scheme recombination"
        )
        raise RuntimeError(msg)
    return jet_def


def _empty_jets(n_events: int) -> Jets:
    zf = np.zeros(0, dtype=np.float64)
    return Jets(
        offsets=np.zeros(n_events + 1, dtype=np.int64),
        px=zf,
        py=zf.copy(),
        pz=zf.copy(),
        e=zf.copy(),
        pt=zf.copy(),
        eta=zf.copy(),
        phi=zf.copy(),
        mass=zf.copy(),
        constituent_offsets=np.zeros(1, dtype=np.int64),
        constituents=np.zeros(0, dtype=np.int64),
    )


def _run_fastjet(
    offsets: I64, momenta: list[F64], spec: JetDefinitionSpec
) -> tuple[I64, F64, F64, F64, F64, I64, I64]:
    """Cluster a batch with FastJet's awkward multi-event interface.

    ``momenta`` is ``[px, py, pz, E]`` of the entries to cluster, in GeV.

    Returns:
        Per-event jet counts, jet px, py, pz, E (FastJet's order), per-jet
        constituent counts, and the constituent indices local to each event.
    """
    import awkward as ak

    fastjet = _fastjet()
    content = ak.contents.RecordArray(
        [ak.contents.NumpyArray(a) for a in momenta], ["px", "py", "pz", "E"]
    )
    events = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), content))
    sequence = fastjet.ClusterSequence(events, _jet_definition(spec))
    jets = sequence.inclusive_jets(float(spec.pt_min))
    index = sequence.constituent_index(float(spec.pt_min))

    n_per_event = np.asarray(ak.num(jets, axis=1), dtype=np.int64)
    flat = ak.flatten(jets, axis=1)
    jpx, jpy, jpz, je = (np.asarray(flat[f], dtype=np.float64) for f in ("px", "py", "pz", "E"))
    jet_lists = ak.flatten(index, axis=1)
    n_const = np.asarray(ak.num(jet_lists, axis=1), dtype=np.int64)
    local = np.asarray(ak.flatten(jet_lists, axis=None), dtype=np.int64)
    if not np.array_equal(np.asarray(ak.num(index, axis=1)), n_per_event):  # pragma: no cover
        msg = "fastjet returned different jet counts for the jets and their constituents"
        raise RuntimeError(msg)
    return n_per_event, jpx, jpy, jpz, je, n_const, local


def cluster_jets(
    offsets: npt.ArrayLike,
    px: npt.ArrayLike,
    py: npt.ArrayLike,
    pz: npt.ArrayLike,
    e: npt.ArrayLike,
    spec: JetDefinitionSpec,
    *,
    weights: npt.ArrayLike | None = None,
) -> Jets:
    """Cluster one collection per event into jets with FastJet (E-scheme recombination).

    The whole batch goes to FastJet in one call (awkward multi-event interface),
    as Delphes' ``FastJetFinder`` clusters each event's input array.

    Args:
        offsets: int64 event offsets of the input collection, length ``n_events + 1``.
        px: momentum x component of each input entry, GeV.
        py: momentum y component, GeV.
        pz: momentum z component, GeV.
        e: energy, GeV.
        spec: algorithm, R and jet pT threshold.
        weights: optional per-entry weight (PUPPI). When given, only entries
            with weight > 0 are clustered, each with its four-momentum scaled by
            its weight; entries with weight 0 are never constituents.

    Returns:
        The jets with ``pt >= spec.pt_min``, sorted by pT descending in each
        event; constituents are indices into each event's (unmasked) input
        collection, increasing within a jet.

    Raises:
        ConfigError: on inconsistent lengths, bad offsets or non-finite inputs.
    """
    off = check_offsets(offsets, "offsets")
    n = int(off[-1])
    n_events = off.shape[0] - 1
    arrays = [
        _as_f64(a, name, n, "offsets[-1]")
        for a, name in ((px, "px"), (py, "py"), (pz, "pz"), (e, "e"))
    ]
    for a, name in zip(arrays, ("px", "py", "pz", "e"), strict=True):
        if not np.all(np.isfinite(a)):
            msg = f"{name} must be finite"
            raise ConfigError(msg)

    selected: I64 | None = None
    in_off = off
    if weights is not None:
        w = _as_f64(weights, "weights", n, "offsets[-1]")
        if not np.all(np.isfinite(w)):
            msg = "weights must be finite"
            raise ConfigError(msg)
        keep = w > 0
        selected = np.flatnonzero(keep).astype(np.int64)
        in_off = offsets_from_counts(keep.astype(np.int64))[off]
        ws = w[selected]
        arrays = [a[selected] * ws for a in arrays]

    if int(in_off[-1]) == 0:
        return _empty_jets(n_events)

    n_per_event, jpx, jpy, jpz, je, n_const, local = _run_fastjet(in_off, arrays, spec)
    n_jets = jpx.shape[0]
    if n_jets == 0:
        return _empty_jets(n_events)

    event_of_jet = np.repeat(np.arange(n_events, dtype=np.int64), n_per_event)
    jet_of_const = np.repeat(np.arange(n_jets, dtype=np.int64), n_const)
    if selected is not None:
        event_of_const = event_of_jet[jet_of_const]
        local = selected[in_off[event_of_const] + local] - off[event_of_const]

    pt2 = jpx * jpx + jpy * jpy
    pt = np.sqrt(pt2)
    # jets by pT descending within each event, then their constituent lists in that order
    order = np.lexsort((-pt, event_of_jet))
    jpx, jpy, jpz, je, pt, pt2 = (a[order] for a in (jpx, jpy, jpz, je, pt, pt2))

    old_const_off = offsets_from_counts(n_const)
    new_counts = n_const[order]
    const_off = offsets_from_counts(new_counts)
    shift = np.repeat(old_const_off[order] - const_off[:-1], new_counts)
    constituents = local[np.arange(const_off[-1], dtype=np.int64) + shift]
    new_jet_of_const = np.repeat(np.arange(n_jets, dtype=np.int64), new_counts)
    constituents = constituents[np.lexsort((constituents, new_jet_of_const))]

    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(jpz / np.where(pt > 0, pt, 1.0)), _MAX_ETA * np.sign(jpz))
    # m^2 as FastJet's PseudoJet::m2 writes it
    m2 = (je + jpz) * (je - jpz) - pt2
    return Jets(
        offsets=offsets_from_counts(n_per_event),
        px=jpx,
        py=jpy,
        pz=jpz,
        e=je,
        pt=pt,
        eta=eta,
        phi=np.arctan2(jpy, jpx),
        mass=np.sqrt(np.maximum(m2, 0.0)),
        constituent_offsets=const_off,
        constituents=constituents,
    )


# ---------------------------------------------------------------------------
# flavour and b-tagging


def jet_flavour(
    jets: Jets,
    tag_offsets: npt.ArrayLike,
    tag_eta: npt.ArrayLike,
    tag_phi: npt.ArrayLike,
    tag_pid: npt.ArrayLike,
    *,
    delta_r: float,
) -> npt.NDArray[np.uint32]:
    """Jet flavour from b/c hadrons and hard partons near the jet axis.

    A simplified version of Delphes' ``JetFlavorAssociation``: among the tags
    of the jet's event with ``dR = sqrt(d_eta^2 + d_phi^2) <= delta_r`` from
    the jet axis, the flavour is 5 if any is a b hadron or b quark, else 4 if
    any is a c hadron or c quark (see :func:`l1scout.pdg.heavy_flavour`), else the |pid|
    of the nearest light parton (d, u, s or gluon: 1, 2, 3, 21), else 0.

    Args:
        jets: the jets.
        tag_offsets: event offsets of the tags, length ``n_events + 1`` (as ``jets.offsets``).
        tag_eta: pseudorapidity of each tag.
        tag_phi: azimuth of each tag, radians.
        tag_pid: signed PDG id of each tag.
        delta_r: matching distance in (eta, phi).

    Returns:
        uint32 flavour per jet.

    Raises:
        ConfigError: on inconsistent lengths or a bad ``delta_r``.
    """
    n_events = _check_jets(jets)
    toff = check_offsets(tag_offsets, "tag_offsets")
    if toff.shape[0] != n_events + 1:
        msg = f"tag_offsets must have length n_events + 1 = {n_events + 1} (as jets.offsets), got {toff.shape[0]}"
        raise ConfigError(msg)
    n_tags = int(toff[-1])
    t_eta = _as_f64(tag_eta, "tag_eta", n_tags)
    t_phi = _as_f64(tag_phi, "tag_phi", n_tags)
    t_pid = np.asarray(tag_pid)
    if t_pid.shape != (n_tags,) or not np.issubdtype(t_pid.dtype, np.integer):
        msg = f"tag_pid must be a 1-D integer array of length {n_tags}, got shape {t_pid.shape} and dtype {t_pid.dtype}"
        raise ConfigError(msg)
    if not (np.isfinite(delta_r) and delta_r >= 0):
        msg = f"delta_r must be a finite number >= 0, got {delta_r!r}"
        raise ConfigError(msg)

    n_jets = jets.pt.shape[0]
    flavour = np.zeros(n_jets, dtype=np.uint32)
    if n_jets == 0 or n_tags == 0:
        return flavour

    # every (jet, tag) pair of the same event
    event_of_jet = np.repeat(np.arange(n_events, dtype=np.int64), np.diff(jets.offsets))
    tags_per_jet = np.diff(toff)[event_of_jet]
    pair_jet = np.repeat(np.arange(n_jets, dtype=np.int64), tags_per_jet)
    pair_start = offsets_from_counts(tags_per_jet)
    pair_tag = np.repeat(toff[event_of_jet] - pair_start[:-1], tags_per_jet) + np.arange(
        pair_start[-1], dtype=np.int64
    )

    d_eta = jets.eta[pair_jet] - t_eta[pair_tag]
    d_phi = wrap_phi(jets.phi[pair_jet] - t_phi[pair_tag])
    dr2 = d_eta * d_eta + d_phi * d_phi
    inside = dr2 <= delta_r * delta_r
    pair_jet, pair_tag, dr2 = pair_jet[inside], pair_tag[inside], dr2[inside]

    pid = t_pid.astype(np.int64)[pair_tag]
    heavy = heavy_flavour(pid)
    has_b = np.zeros(n_jets, dtype=bool)
    has_b[pair_jet[heavy == 5]] = True
    has_c = np.zeros(n_jets, dtype=bool)
    has_c[pair_jet[heavy == 4]] = True

    light = np.isin(np.abs(pid), _LIGHT_PARTONS)
    l_jet, l_dr2, l_pid = pair_jet[light], dr2[light], np.abs(pid[light])
    nearest = np.lexsort((l_dr2, l_jet))
    l_jet, l_pid = l_jet[nearest], l_pid[nearest]
    first = np.ones(l_jet.shape[0], dtype=bool)
    first[1:] = l_jet[1:] != l_jet[:-1]
    flavour[l_jet[first]] = l_pid[first].astype(np.uint32)

    flavour[has_c] = 4
    flavour[has_b] = 5
    return flavour


def btag(
    flavour: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    efficiency: Callable[[str, F64, F64], F64],
    rng: np.random.Generator,
) -> npt.NDArray[np.int8]:
    """B-tag bit per jet from flavour-dependent efficiencies, as Delphes' ``BTagging``.

    Each jet is tagged with probability ``efficiency(kind, pt, eta)``, where
    kind is ``"b"`` for flavour 5, ``"c"`` for flavour 4 and ``"light"``
    otherwise. ``efficiency`` is called at most once per kind, on the pT
    (GeV) and eta of the jets of that kind (kinds without jets are skipped).
    One uniform number per jet is drawn from ``rng``, in jet order.

    Args:
        flavour: jet flavour (e.g. from :func:`jet_flavour`).
        pt: jet transverse momentum, GeV.
        eta: jet pseudorapidity.
        efficiency: tag probability as a function of kind, pT and eta.
        rng: the random generator.

    Returns:
        int8 array, 1 for a tagged jet, else 0.

    Raises:
        ConfigError: on inconsistent lengths, or if ``efficiency`` returns
            the wrong shape or values outside [0, 1].

    Example:
        >>> eff = lambda kind, pt, eta: np.full(pt.shape, {"b": 1.0, "c": 0.0, "light": 0.0}[kind])
        >>> btag([5, 4, 21], [50.0, 50.0, 50.0], [0.0, 0.0, 0.0], eff, np.random.default_rng(1)).tolist()
        [1, 0, 0]
    """
    flav = np.asarray(flavour)
    n = flav.shape[0] if flav.ndim == 1 else -1
    if n < 0:
        msg = f"flavour must be a 1-D array, got shape {flav.shape}"
        raise ConfigError(msg)
    pt_a = _as_f64(pt, "pt", n)
    eta_a = _as_f64(eta, "eta", n)
    prob = np.zeros(n, dtype=np.float64)
    kinds = {"b": flav == 5, "c": flav == 4}
    kinds["light"] = ~(kinds["b"] | kinds["c"])
    for kind, mask in kinds.items():
        if not np.any(mask):
            continue
        p = np.asarray(efficiency(kind, pt_a[mask], eta_a[mask]), dtype=np.float64)
        if p.shape != (int(np.count_nonzero(mask)),):
            msg = f"efficiency({kind!r}, pt, eta) must return one probability per jet, got shape {p.shape}"
            raise ConfigError(msg)
        if not np.all((p >= 0) & (p <= 1)):
            msg = f"efficiency({kind!r}, pt, eta) must return probabilities in [0, 1]"
            raise ConfigError(msg)
        prob[mask] = p
    return (rng.random(n) < prob).astype(np.int8)


# ---------------------------------------------------------------------------
# constituent sums


def constituent_sums(
    jets: Jets, cand_offsets: npt.ArrayLike, charge: npt.ArrayLike
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Jet charge and charged/neutral constituent counts, as in Delphes' ``Jet`` class.

    Args:
        jets: the jets, clustered from the collection described by ``cand_offsets``.
        cand_offsets: event offsets of that input collection, length ``n_events + 1``.
        charge: charge of each input entry, in units of e (integer values; a
            float array is rounded).

    Returns:
        ``(Charge, NCharged, NNeutrals)``: sum of constituent charges clipped
        to the int8 range, number of constituents with charge != 0, number
        with charge == 0.

    Raises:
        ConfigError: on inconsistent lengths or a constituent index outside its event.
    """
    n_events = _check_jets(jets)
    coff = check_offsets(cand_offsets, "cand_offsets")
    if coff.shape[0] != n_events + 1:
        msg = f"cand_offsets must have length n_events + 1 = {n_events + 1} (as jets.offsets), got {coff.shape[0]}"
        raise ConfigError(msg)
    q_in = np.asarray(charge)
    if q_in.shape != (int(coff[-1]),):
        msg = f"charge must be a 1-D array of length {int(coff[-1])}, got shape {q_in.shape}"
        raise ConfigError(msg)
    q_all = (
        q_in.astype(np.int64)
        if np.issubdtype(q_in.dtype, np.integer)
        else np.rint(q_in.astype(np.float64)).astype(np.int64)
    )

    event_of_jet = np.repeat(np.arange(n_events, dtype=np.int64), np.diff(jets.offsets))
    n_const = np.diff(jets.constituent_offsets)
    event_of_const = np.repeat(event_of_jet, n_const)
    local = jets.constituents
    if np.any(local < 0) or np.any(local >= np.diff(coff)[event_of_const]):
        msg = "jets.constituents must index into each event's input collection (cand_offsets)"
        raise ConfigError(msg)
    q = q_all[coff[event_of_const] + local]

    def per_jet(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        cumulative = offsets_from_counts(values)  # prefix sums, from 0
        co = jets.constituent_offsets
        return cumulative[co[1:]] - cumulative[co[:-1]]

    total = per_jet(q)
    n_charged = per_jet((q != 0).astype(np.int64))
    jet_charge = np.clip(total, np.iinfo(np.int8).min, np.iinfo(np.int8).max).astype(np.int8)
    return jet_charge, n_charged.astype(np.int32), (n_const - n_charged).astype(np.int32)
