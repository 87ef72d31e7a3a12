"""The Level-1 jet tagger's inputs: 16 PUPPI constituents x 21 features per jet, plus the jet's pT and eta.

The layout is the Phase-2 Level-1 jet tagger's (arXiv:2509.24371): every
jet of a view's jet collection (``<view>_JetPuppiAK4`` by default) with
``pT >= pt_min`` and ``|eta| <= eta_max`` keeps its :data:`N_CONSTITUENTS`
highest-pT constituents (candidate pT, not PUPPI-weighted; ties in the
file's order), zero-padded with a mask, read through
:func:`l1scout.io.jet_sets.jets_with_constituents` from the candidates that
``ConstituentsIdx`` points at (``<view>_PUPPIPart``). The 21 features of a
constituent (:data:`CONSTITUENT_FEATURES`), from the candidate fields of
``docs/physics/data-format.md``:

===================  ======  =====================================================
``PT``               GeV     transverse momentum (measured, not PUPPI-weighted)
``PTRel``                    ``PT`` / jet pT
``LogPT``                    ln(``PT`` / 1 GeV)
``E``                GeV     energy
``DEta``                     eta - jet eta
``DPhi``             rad     phi - jet phi, wrapped to [-pi, pi)
``DR``                       sqrt(``DEta``^2 + ``DPhi``^2)
``Eta``                      pseudorapidity
``Phi``              rad     azimuth
``Mass``             GeV     the mass the view gives the candidate (0 for neutrals,
                             its track's true particle's for a charged one)
``Charge``           e       electric charge
``D0``               mm      transverse impact parameter (0 for neutrals)
``DZ``               mm      longitudinal impact parameter from the nominal
                             interaction point (0 for neutrals)
``D0Sig``                    ``D0`` / ``ErrorD0`` (0 where the error is 0: neutrals)
``DZSig``                    ``DZ`` / ``ErrorDZ`` (0 where the error is 0)
``PuppiW``                   PUPPI weight in [0, 1]
``IsPhoton`` ...             one-hot type: photon, electron, muon, charged hadron,
                             neutral hadron (:data:`l1scout.io.ragged.PARTICLE_TYPES`)
===================  ======  =====================================================

Padded slots are all zeros. The deployed tagger's 20-odd inputs are of the
same kinds (pT, relative pT, log pT, position relative to the jet, the
particle type and charge, z0 and dxy, the PUPPI weight); ours add the energy,
mass and impact-parameter significances the views write. Jets come flat,
event by event and by decreasing pT within an event, with their event's row
in the chunk, their position in the event's jet list, the card's ``BTag``
bits (the baseline tagger) and, with ``labels``, the truth of
:mod:`l1scout.tasks.jettag.labels`.

Example: one event, a jet of two constituents and a jet below the pT cut.

    >>> import awkward as ak
    >>> ev = {c: ak.Array([[0, 0]]) for c in jet_tag_columns(labels=False) if "JetPuppiAK4" in c}
    >>> ev.update({c: ak.Array([[0.0, 0.0, 0.0]]) for c in jet_tag_columns(labels=False)
    ...            if "PUPPIPart" in c})
    >>> ev["L1T_JetPuppiAK4_PT"] = ak.Array([[50.0, 10.0]])
    >>> ev["L1T_JetPuppiAK4_ConstituentsIdx"] = ak.Array([[[0, 1], [2]]])
    >>> ev["L1T_PUPPIPart_PT"] = ak.Array([[10.0, 40.0, 10.0]])
    >>> x = jet_tag_inputs(ev, pt_min=15.0, labels=False)
    >>> x.n_jets, x.constituents[0, :3, 1].tolist(), x.mask[0, :3].tolist(), x.label.tolist()
    (1, [0.800000011920929, 0.20000000298023224, 0.0], [True, True, False], [-1])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import awkward as ak
import numpy as np

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._types import F32, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.jet_sets import JET_FEATURES, jet_constituent_columns, jets_with_constituents
from l1scout.io.particle_sets import PARTICLE_FEATURES
from l1scout.io.ragged import PARTICLE_TYPES, EventsLike, check_count, column, jagged, top_k
from l1scout.tasks.jettag.labels import jet_truth_from_chunk, label_columns

__all__ = [
    "CONSTITUENT_FEATURES",
    "N_CONSTITUENTS",
    "JetTagInputs",
    "jet_tag_columns",
    "jet_tag_inputs",
]

#: Constituents per jet (the deployed tagger's).
N_CONSTITUENTS = 16
#: The 21 features of a constituent, in order (units in the module docstring).
CONSTITUENT_FEATURES: tuple[str, ...] = (
    "PT",
    "PTRel",
    "LogPT",
    "E",
    "DEta",
    "DPhi",
    "DR",
    "Eta",
    "Phi",
    "Mass",
    "Charge",
    "D0",
    "DZ",
    "D0Sig",
    "DZSig",
    "PuppiW",
    *PARTICLE_TYPES,
)
#: Candidate fields read besides those of :func:`l1scout.io.jet_sets.jets_with_constituents`.
_EXTRA_FIELDS: tuple[str, ...] = ("E", "Mass", "ErrorD0", "ErrorDZ")
#: Position of the jet-set constituent features (``PARTICLE_FEATURES`` + ``DEta``, ``DPhi``).
_SRC = {name: i for i, name in enumerate((*PARTICLE_FEATURES, "DEta", "DPhi"))}
#: pT floor of ``LogPT`` (GeV): a candidate never has less in a view.
_PT_FLOOR = 1e-3


@dataclass(frozen=True)
class JetTagInputs:
    """The tagger's inputs of a batch of jets, flat over the jets (event by event, decreasing pT).

    Attributes:
        constituents: float32 (n_jets, 16, 21), :data:`CONSTITUENT_FEATURES`; zeros where padded.
        mask: bool (n_jets, 16), True for a real constituent.
        jet_pt: float32 (n_jets,), the jet's pT (GeV).
        jet_eta: float32 (n_jets,), its pseudorapidity.
        jet_phi: float32 (n_jets,), its azimuth (rad).
        event: int64 (n_jets,), the event's row in the chunk.
        jet: int64 (n_jets,), the jet's position in its event's jet list.
        btag: int64 (n_jets,), the card's ``BTag`` bits.
        label: int64 (n_jets,), index into
            :data:`~l1scout.tasks.jettag.labels.JET_CLASSES`; -1 unlabelled or no truth read.
        gen_pt: float32 (n_jets,), the matched generator jet's pT (GeV); NaN when none or no truth read.
    """

    constituents: F32
    mask: B
    jet_pt: F32
    jet_eta: F32
    jet_phi: F32
    event: I64
    jet: I64
    btag: I64
    label: I64
    gen_pt: F32

    @property
    def n_jets(self) -> int:
        """Jets in the batch."""
        return len(self.jet_pt)


def jet_tag_columns(
    view: str = "L1T",
    jets: str = "JetPuppiAK4",
    labels: bool = True,
    *,
    available: Iterable[str] | None = None,
) -> tuple[str, ...]:
    """The canonical columns :func:`jet_tag_inputs` reads.

    Args:
        view: the detector view.
        jets: the jet collection.
        labels: also the truth columns (:func:`~l1scout.tasks.jettag.labels.label_columns`).
        available: the columns the data has: the generator record is
            ``Gen_PartHS`` when they hold it, else ``Gen_Part``.

    >>> cols = jet_tag_columns()
    >>> cols[0], "L1T_PUPPIPart_ErrorDZ" in cols, cols[-1]
    ('L1T_JetPuppiAK4_PT', True, 'Gen_JetAK4_Phi')
    """
    base = jet_constituent_columns(view, jets, truth=True, label_fields=_EXTRA_FIELDS)
    cols = list(base)
    if labels:
        cols += [c for c in label_columns(view, jets, available=available) if c not in base]
    return tuple(cols)


def _selected(
    events: EventsLike, view: str, jets: str, pt_min: float, eta_max: float
) -> tuple[dict[str, ak.Array], I64, I64, int]:
    """The chunk's columns with only the jets passing the cuts.

    Returns:
        ``(columns, full, offsets, n_max)``: the columns of :func:`jet_tag_columns`
        without labels (the jet ones cut), the flat index in the full jet list
        of every kept jet in the order of
        :func:`~l1scout.io.jet_sets.jets_with_constituents` (event by event,
        decreasing pT: the same :func:`~l1scout.io.ragged.top_k`), the full
        list's offsets, and the most kept jets of an event (at least 1).
    """
    prefix = f"{view}_{jets}"
    off, pt = jagged(events, f"{prefix}_PT", np.float32)
    _, eta = jagged(events, f"{prefix}_Eta", np.float32)
    keep = (pt >= pt_min) & (np.abs(eta) <= eta_max)
    sel = ak.unflatten(keep, np.diff(off))
    cols: dict[str, ak.Array] = {}
    for name in jet_tag_columns(view, jets, labels=False):
        col = column(events, name)
        cols[name] = col[sel] if name.startswith(f"{prefix}_") else col
    kept = np.flatnonzero(keep)
    sel_off = offsets_from_counts(np.bincount(event_index(off)[kept], minlength=len(off) - 1))
    n_max = max(int(np.diff(sel_off).max(initial=0)), 1)
    idx, idx_mask = top_k(sel_off, pt[kept], n_max)
    return cols, kept[idx[idx_mask]], off, n_max


def _features(src: F32, extra: F32, mask: B, jet_pt: F32) -> F32:
    """The 21 features (n, C, 21) from the jet-set features *src* and the *extra* fields."""
    out = np.zeros((*mask.shape, len(CONSTITUENT_FEATURES)), dtype=np.float32)
    col = {name: i for i, name in enumerate(CONSTITUENT_FEATURES)}
    pt = src[..., _SRC["PT"]]
    deta, dphi = src[..., _SRC["DEta"]], src[..., _SRC["DPhi"]]
    ratio = np.divide(pt, jet_pt[:, None], out=np.zeros_like(pt), where=jet_pt[:, None] > 0)
    err_d0, err_dz = extra[..., 2], extra[..., 3]
    values = {
        "PT": pt,
        "PTRel": ratio,
        "LogPT": np.log(np.maximum(pt, np.float32(_PT_FLOOR))),
        "E": extra[..., 0],
        "DEta": deta,
        "DPhi": dphi,
        "DR": np.sqrt(deta * deta + dphi * dphi),
        "Eta": src[..., _SRC["Eta"]],
        "Phi": src[..., _SRC["Phi"]],
        "Mass": extra[..., 1],
        "Charge": src[..., _SRC["Charge"]],
        "D0": src[..., _SRC["D0"]],
        "DZ": src[..., _SRC["DZ"]],
        "D0Sig": np.divide(src[..., _SRC["D0"]], err_d0, out=np.zeros_like(pt), where=err_d0 > 0),
        "DZSig": np.divide(src[..., _SRC["DZ"]], err_dz, out=np.zeros_like(pt), where=err_dz > 0),
        "PuppiW": src[..., _SRC["PuppiW"]],
    }
    for name, value in values.items():
        out[..., col[name]] = np.where(mask, value, 0)
    for name in PARTICLE_TYPES:
        out[..., col[name]] = src[..., _SRC[name]]
    return out


def jet_tag_inputs(
    chunk: EventsLike,
    view: str = "L1T",
    jets: str = "JetPuppiAK4",
    *,
    n_constituents: int = N_CONSTITUENTS,
    pt_min: float = 0.0,
    eta_max: float = 2.4,
    labels: bool = True,
) -> JetTagInputs:
    """The tagger's inputs of every jet of a chunk with ``pT >= pt_min`` and ``|eta| <= eta_max``.

    Args:
        chunk: a chunk of events (``ak.Array`` of records or a mapping) with the
            columns of :func:`jet_tag_columns`.
        view: the detector view (``L1T``, ``FullReco``).
        jets: the jet collection (a PUPPI jet collection: its constituents are
            ``<view>_PUPPIPart``).
        n_constituents: constituents kept per jet (highest pT first).
        pt_min: the smallest jet pT kept (GeV, inclusive).
        eta_max: the largest jet |eta| kept (inclusive).
        labels: also the truth (:func:`~l1scout.tasks.jettag.labels.jet_truth_from_chunk`);
            without it ``label`` is -1 and ``gen_pt`` NaN.

    Returns:
        A :class:`JetTagInputs`.

    Raises:
        ConfigError: *n_constituents* is not a positive integer, or a cut is not a finite number.
        DataFormatError: a column is missing or the jet and constituent lists disagree.
    """
    n_constituents = check_count("n_constituents", n_constituents)
    for name, value in (("pt_min", pt_min), ("eta_max", eta_max)):
        if not np.isfinite(value):
            msg = f"{name}: expected a finite number, got {value!r}"
            raise ConfigError(msg)
    cols, full, off, n_max = _selected(chunk, view, jets, pt_min, eta_max)
    # the constituent "label" gather reads any candidate field at the constituents:
    # it brings E, Mass, ErrorD0 and ErrorDZ along with the standard features
    s = jets_with_constituents(
        cols,
        view,
        jets,
        n_jets=n_max,
        n_constituents=n_constituents,
        truth=True,
        label_fields=_EXTRA_FIELDS,
    )
    if s.constituent_labels is None:  # pragma: no cover - truth=True always gathers them
        msg = "jets_with_constituents returned no constituent fields"
        raise DataFormatError(msg)
    event = np.nonzero(s.jet_mask)[0].astype(np.int64)
    jet_feats = s.jets[s.jet_mask]
    jet_pt = jet_feats[:, JET_FEATURES.index("PT")]
    mask = s.constituent_mask[s.jet_mask]
    extra = s.constituent_labels[s.jet_mask]
    label = np.full(len(full), -1, dtype=np.int64)
    gen_pt = np.full(len(full), np.nan, dtype=np.float32)
    if labels:
        truth = jet_truth_from_chunk(chunk, view, jets)
        label, gen_pt = truth.label[full], truth.gen_pt[full]
    return JetTagInputs(
        constituents=_features(s.constituents[s.jet_mask], extra, mask, jet_pt),
        mask=mask,
        jet_pt=jet_pt,
        jet_eta=jet_feats[:, JET_FEATURES.index("Eta")],
        jet_phi=jet_feats[:, JET_FEATURES.index("Phi")],
        event=event,
        jet=full - off[event],
        btag=jet_feats[:, JET_FEATURES.index("BTag")].astype(np.int64),
        label=label,
        gen_pt=gen_pt,
    )
