"""Which generator particles to keep as truth, and their family links.

A full Pythia record holds hundreds of partons and intermediate states per
event. l1scout keeps what a user needs later (see ``truth_mask``) and rewrites
the mother/daughter links so that they point into the kept list:

* ``M1`` (``M2``): the nearest kept ancestor reached through Pythia's first
  (second) mother; -1 if none is kept.
* ``D1`` .. ``D2``: the smallest and largest index among kept particles whose
  ``M1`` or ``M2`` is this particle; -1 if none. Particles in between need not
  all be children: use ``M1``/``M2`` for exact links.

Status codes follow HepMC (``statusHepMC`` in Pythia, as Delphes stores them):
1 final state, 2 decayed hadron or lepton, 4 beam, otherwise Pythia's |status|
(21-29 hard process, ...).

The link rewriting is a numba kernel, :func:`relink`, checked against the slow
:func:`relink_reference`.

The links are made on the hard collision's record alone, so a kept particle's
mothers and daughters are hard-collision particles too; the pileup particles
(final state only) have no links. :func:`hard_scatter_cut` keeps the hard
collision's entries of a written ``Gen_Part`` (the optional ``Gen_PartHS``
collection, :mod:`l1scout.io.schema`) and points the links into the cut list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._types import I32, I64, B
from l1scout.errors import DataFormatError
from l1scout.pdg import is_hadron, is_heavy_flavour_hadron

__all__ = [
    "hard_scatter_cut",
    "relink",
    "relink_reference",
    "status_hepmc",
    "truth_mask",
]


def status_hepmc(pid: I32, status: I32, first_daughter_pid: I32) -> npt.NDArray[np.int8]:
    """Pythia's ``Particle::statusHepMC`` on arrays.

    Args:
        pid: PDG ids.
        status: Pythia status codes.
        first_daughter_pid: PDG id of each particle's first daughter (0 if none).

    >>> status_hepmc(np.array([211, 511, 15, 2212, 6]), np.array([91, -91, -93, -12, -22]),
    ...              np.array([0, 421, 16, 0, 24])).tolist()
    [1, 2, 2, 4, 22]
    """
    a = np.abs(pid)
    out = np.abs(status).astype(np.int64)
    decays = (is_hadron(pid) | (a == 13) | (a == 15)) & (first_daughter_pid != pid)
    out = np.where(decays, 2, out)
    out = np.where((status == -11) | (status == -12), 4, out)
    out = np.where(status > 0, 1, out)
    return np.clip(out, -128, 127).astype(np.int8)


def truth_mask(pid: I32, status: I32, mother1: I32, offsets: I64) -> B:
    """The particles kept as truth from complete hard-event records.

    Kept: final-state particles; hard-process particles (|status| 21-29); taus
    and the direct decay products of taus (their visible products include
    the final ones); b and c hadrons.
    """
    a = np.abs(pid)
    keep = (status > 0) | ((np.abs(status) >= 21) & (np.abs(status) <= 29))
    keep |= a == 15
    keep |= is_heavy_flavour_hadron(pid, 5) | is_heavy_flavour_hadron(pid, 4)
    # direct daughters of taus (mother1 is an index inside the same event)
    evt = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    has_mother = mother1 >= 0
    mother_global = np.where(has_mother, offsets[evt] + mother1, 0)
    keep |= has_mother & (np.abs(pid[mother_global]) == 15) & (a != 15)
    return keep


@numba.njit(cache=True)
def _relink_kernel(
    offsets: I64, keep: B, mother1: I32, mother2: I32
) -> tuple[I32, I32, I32, I32]:  # pragma: no cover - compiled
    n_keep = 0
    for i in range(keep.shape[0]):
        if keep[i]:
            n_keep += 1
    m1_out = np.full(n_keep, -1, np.int32)
    m2_out = np.full(n_keep, -1, np.int32)
    d1_out = np.full(n_keep, -1, np.int32)
    d2_out = np.full(n_keep, -1, np.int32)
    new_index = np.full(keep.shape[0], -1, np.int32)
    k_base = 0
    for ev in range(offsets.shape[0] - 1):
        lo = offsets[ev]
        hi = offsets[ev + 1]
        k = 0
        for i in range(lo, hi):
            if keep[i]:
                new_index[i] = k
                k += 1
        for i in range(lo, hi):
            if not keep[i]:
                continue
            me = k_base + new_index[i]
            for which in range(2):
                start = mother1[i] if which == 0 else mother2[i]
                if which == 1 and start == mother1[i]:
                    continue
                j = start
                steps = 0
                while j >= 0 and j < hi - lo and not keep[lo + j] and steps < hi - lo:
                    j = mother1[lo + j]
                    steps += 1
                if j >= 0 and j < hi - lo and keep[lo + j]:
                    if which == 0:
                        m1_out[me] = new_index[lo + j]
                    else:
                        m2_out[me] = new_index[lo + j]
        for kk in range(k):
            me = k_base + kk
            for m in (m1_out[me], m2_out[me]):
                if m >= 0:
                    parent = k_base + m
                    if d1_out[parent] < 0 or kk < d1_out[parent]:
                        d1_out[parent] = kk
                    d2_out[parent] = max(d2_out[parent], kk)
        k_base += k
    return m1_out, m2_out, d1_out, d2_out


def relink(offsets: I64, keep: B, mother1: I32, mother2: I32) -> tuple[I32, I32, I32, I32]:
    """Family links (M1, M2, D1, D2) of the kept particles, as indices into the kept list.

    Args:
        offsets: event boundaries into the particle arrays.
        keep: which particles are kept.
        mother1: Pythia's first mother, as an index inside each event (-1: none).
        mother2: Pythia's second mother, likewise.

    Returns:
        Four int32 arrays over the kept particles, indices local to their event.
    """
    return _relink_kernel(  # type: ignore[no-any-return,unused-ignore]
        np.ascontiguousarray(offsets, dtype=np.int64),
        np.ascontiguousarray(keep, dtype=np.bool_),
        np.ascontiguousarray(mother1, dtype=np.int32),
        np.ascontiguousarray(mother2, dtype=np.int32),
    )


def relink_reference(
    offsets: I64, keep: B, mother1: I32, mother2: I32
) -> tuple[I32, I32, I32, I32]:
    """Slow, obviously correct version of :func:`relink` (for tests)."""
    m1s: list[int] = []
    m2s: list[int] = []
    d1s: list[int] = []
    d2s: list[int] = []
    for ev in range(len(offsets) - 1):
        lo, hi = int(offsets[ev]), int(offsets[ev + 1])
        kept = [i for i in range(hi - lo) if keep[lo + i]]
        where = {old: new for new, old in enumerate(kept)}

        def nearest_kept(
            start: int, lo: int = lo, hi: int = hi, where: dict[int, int] = where
        ) -> int:
            j, seen = start, 0
            while 0 <= j < hi - lo and j not in where and seen < hi - lo:
                j = int(mother1[lo + j])
                seen += 1
            return where.get(j, -1)

        ev_m1 = [nearest_kept(int(mother1[lo + i])) for i in kept]
        ev_m2 = [
            nearest_kept(int(mother2[lo + i])) if mother2[lo + i] != mother1[lo + i] else -1
            for i in kept
        ]
        for me in range(len(kept)):
            children = [c for c in range(len(kept)) if me in (ev_m1[c], ev_m2[c])]
            d1s.append(min(children) if children else -1)
            d2s.append(max(children) if children else -1)
        m1s += ev_m1
        m2s += ev_m2
    return (
        np.asarray(m1s, dtype=np.int32),
        np.asarray(m2s, dtype=np.int32),
        np.asarray(d1s, dtype=np.int32),
        np.asarray(d2s, dtype=np.int32),
    )


def hard_scatter_cut(
    offsets: npt.ArrayLike, is_pu: npt.ArrayLike, links: Sequence[npt.ArrayLike] = ()
) -> tuple[I64, I64, I64, list[I32]]:
    """The hard collision's entries of a ``Gen_Part`` record, with its family links pointed into them.

    Args:
        offsets: per-event offsets into the record's flat arrays (starting at 0).
        is_pu: ``IsPU`` of every entry (0: the hard collision).
        links: ``M1``, ``M2``, ``D1``, ``D2`` (any of them), each an index into
            the same event's full list (-1: none).

    Returns:
        ``(cut_offsets, take, index, cut_links)``: the per-event offsets of the
        cut list; the flat positions of the kept entries in the full arrays
        (``values[take]`` is a field of the cut list, in the same order); each
        kept entry's index in its event's full list (``Gen_PartHS_Index``); the
        links as indices into the event's cut list, -1 where there is none or
        where the linked entry is not kept (it never is for a record that
        :func:`relink` linked: the links stay within the hard collision).

    Raises:
        DataFormatError: *is_pu* or a link array does not have ``offsets[-1]`` entries.

    >>> off, take, index, (m1,) = hard_scatter_cut([0, 4, 5], [0, 1, 0, 0, 1], [[-1, -1, 0, 2, -1]])
    >>> off.tolist(), take.tolist(), index.tolist(), m1.tolist()
    ([0, 3, 3], [0, 2, 3], [0, 2, 3], [-1, 0, 1])
    """
    off = np.asarray(offsets, dtype=np.int64)
    pu = np.asarray(is_pu)
    n = int(off[-1])
    if pu.shape != (n,):
        msg = f"is_pu: expected {n} entries (the last offset), got shape {pu.shape}"
        raise DataFormatError(msg)
    evt = event_index(off)
    keep = pu == 0
    take = np.flatnonzero(keep).astype(np.int64)
    cut_off = offsets_from_counts(np.bincount(evt[take], minlength=len(off) - 1))
    index = take - off[evt[take]]
    # the position of every full entry in its event's cut list (-1: not kept)
    new_local = np.full(n, -1, dtype=np.int64)
    new_local[take] = np.arange(len(take), dtype=np.int64) - cut_off[evt[take]]
    start = off[evt[take]]
    out: list[I32] = []
    for link in links:
        full = np.asarray(link, dtype=np.int64)
        if full.shape != (n,):
            msg = f"links: expected {n} entries (the last offset), got shape {full.shape}"
            raise DataFormatError(msg)
        v = full[take]
        ok = (v >= 0) & (v < (off[1:] - off[:-1])[evt[take]])
        out.append(np.where(ok, new_local[np.where(ok, start + v, 0)], -1).astype(np.int32))
    return cut_off, take, index, out
