"""The numpy assembly of generator-level columns that the compiled kernels replaced.

The slow, obviously correct reference of :func:`l1scout.generate.event.assemble_columns`
(l1scout 0.x before the speed work of issue 14): every column merged with
numpy fancy indexing, sorted with ``np.lexsort``, gathered again. The tests
require the kernels to give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import Jagged, eta_phi_pt, event_index, offsets_from_counts
from l1scout._types import I64
from l1scout.constants import C_MM_PER_PS, C_MM_PER_S
from l1scout.generate.pileup import PileupDraw
from l1scout.generate.pythia import RawEvents
from l1scout.generate.truth import relink, status_hepmc, truth_mask
from l1scout.generate.vertex import PileupSpec


def _stable_sort(offsets: I64, key: npt.NDArray[Any]) -> tuple[I64, I64]:
    evt = event_index(offsets)
    perm = np.lexsort((-np.asarray(key, dtype=np.float64), evt))
    new_local = np.empty(len(key), dtype=np.int64)
    new_local[perm] = np.arange(len(key)) - offsets[evt]
    return perm, new_local


def _single(values: npt.ArrayLike, n: int) -> Jagged:
    return np.arange(n + 1, dtype=np.int64), np.asarray(values)


def _remap(links: npt.NDArray[Any], offsets: I64, new_local: I64) -> npt.NDArray[np.int32]:
    evt = event_index(offsets)
    ok = links >= 0
    out = np.full(len(links), -1, dtype=np.int32)
    out[ok] = new_local[offsets[evt[ok]] + links[ok]]
    return out


def assemble_columns_reference(
    raw: RawEvents,
    charge: npt.NDArray[np.int8],
    pileup: PileupDraw,
    spec: PileupSpec,
    event_numbers: Sequence[int],
) -> dict[str, Jagged]:
    """The numpy version of :func:`l1scout.generate.event.assemble_columns` (merge, stable sort, gather).

    Args:
        raw: complete records of the hard collisions.
        charge: charge of every particle of *raw* (units of e).
        pileup: the pileup drawn for the same events.
        spec: the card's pileup section (beam spot).
        event_numbers: the events' numbers in the file.
    """
    n_ev = raw.n_events
    evt_raw = event_index(raw.offsets)

    # --- hard-scatter truth
    keep = truth_mask(raw.pid, raw.status, raw.mother1, raw.offsets)
    m1, m2, d1, d2 = relink(raw.offsets, keep, raw.mother1, raw.mother2)
    has_d = raw.daughter1 >= 0
    first_d_pid = np.where(
        has_d, raw.pid[np.where(has_d, raw.offsets[evt_raw] + raw.daughter1, 0)], 0
    )
    status = status_hepmc(raw.pid, raw.status, first_d_pid)
    evt_h = evt_raw[keep]
    n_hard = np.bincount(evt_h, minlength=n_ev).astype(np.int64)
    n_pu_parts = np.diff(pileup.part_offsets)
    counts = n_hard + n_pu_parts
    offsets = offsets_from_counts(counts)
    total = int(offsets[-1])

    hard_off = offsets_from_counts(n_hard)
    pos_h = offsets[evt_h] + (np.arange(len(evt_h)) - hard_off[evt_h])
    evt_p = event_index(pileup.part_offsets)
    pos_p = offsets[evt_p] + n_hard[evt_p] + (np.arange(len(evt_p)) - pileup.part_offsets[evt_p])

    def merged(hard: npt.ArrayLike, pu: npt.ArrayLike, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        out = np.empty(total, dtype=dtype)
        out[pos_h] = hard
        out[pos_p] = pu
        return out

    pid = merged(raw.pid[keep], pileup.pid, np.int32)
    stat = merged(status[keep], np.ones(len(evt_p), np.int8), np.int8)
    h_eta, h_phi, h_pt = eta_phi_pt(raw.px[keep], raw.py[keep], raw.pz[keep])
    eta = merged(h_eta, pileup.eta, np.float64)
    phi = merged(h_phi, pileup.phi_part, np.float64)
    pt = merged(h_pt, pileup.pt, np.float64)
    mass = merged(raw.mass[keep], pileup.mass, np.float64)
    chg = merged(charge[keep], pileup.charge, np.int8)
    is_pu = merged(np.zeros(len(evt_h), np.int8), np.ones(len(evt_p), np.int8), np.int8)
    vidx = merged(np.zeros(len(evt_h), np.int32), pileup.vertex_index, np.int32)
    x = merged(raw.vx[keep] + spec.beamspot_x_mm, pileup.x, np.float64)
    y = merged(raw.vy[keep] + spec.beamspot_y_mm, pileup.y, np.float64)
    z = merged(raw.vz[keep] + pileup.hard_z[evt_h], pileup.zpos, np.float64)
    t_mm = merged(raw.vt[keep] + pileup.hard_t[evt_h] * C_MM_PER_PS, pileup.tpos_mm, np.float64)
    none = np.full(len(evt_p), -1, np.int32)
    links = [merged(lnk, none, np.int32) for lnk in (m1, m2, d1, d2)]

    # --- sort by pT within events and remap family links
    perm, new_local = _stable_sort(offsets, pt)
    links = [_remap(lnk, offsets, new_local)[perm] for lnk in links]

    cols: dict[str, Jagged] = {}
    part: dict[str, npt.NDArray[Any] | None] = {
        "PID": pid,
        "Status": stat,
        "PT": pt,
        "Eta": eta,
        "Phi": phi,
        "Mass": mass,
        "M1": None,
        "M2": None,
        "D1": None,
        "D2": None,
        "IsPU": is_pu,
        "Charge": chg,
        "VertexIndex": vidx,
        "X": np.round(x, 3),
        "Y": np.round(y, 3),
        "Z": np.round(z, 3),
        "T": np.round(t_mm / C_MM_PER_S, 15),
    }
    for name, values in part.items():
        if values is not None:
            cols[f"Gen_Part_{name}"] = (offsets, values[perm])
    for name, values in zip(("M1", "M2", "D1", "D2"), links, strict=True):
        cols[f"Gen_Part_{name}"] = (offsets, values)

    # --- truth vertices: hard scatter (index 0) and pileup collisions (1..N)
    n_vtx = 1 + pileup.n_pu
    vtx_off = offsets_from_counts(n_vtx)
    evt_all = event_index(offsets)
    charged_final = (stat == 1) & (chg != 0)
    gvid = vtx_off[evt_all] + vidx
    ndf = np.bincount(gvid[charged_final], minlength=int(vtx_off[-1]))
    sumpt2 = np.bincount(
        gvid[charged_final], weights=pt[charged_final] ** 2, minlength=int(vtx_off[-1])
    )
    v_index = (np.arange(int(vtx_off[-1])) - vtx_off[event_index(vtx_off)]).astype(np.int32)
    is_hard = v_index == 0
    pu_slot = np.cumsum(~is_hard) - 1  # position of each pileup vertex in pileup.z / t
    evt_v = event_index(vtx_off)
    v_z = np.where(
        is_hard, pileup.hard_z[evt_v], pileup.z[np.clip(pu_slot, 0, None)] if len(pileup.z) else 0.0
    )
    v_t = np.where(
        is_hard, pileup.hard_t[evt_v], pileup.t[np.clip(pu_slot, 0, None)] if len(pileup.t) else 0.0
    )
    vperm, _ = _stable_sort(vtx_off, sumpt2)
    vertex: dict[str, npt.ArrayLike] = {
        "Index": v_index,
        "X": np.full(len(v_index), spec.beamspot_x_mm),
        "Y": np.full(len(v_index), spec.beamspot_y_mm),
        "Z": v_z,
        "T": v_t * 1e-12,
        "NDF": ndf,
        "SumPT2": sumpt2,
    }
    for name, vvals in vertex.items():
        cols[f"Vertex_{name}"] = (vtx_off, np.asarray(vvals)[vperm])

    event: dict[str, npt.ArrayLike] = {
        "Number": np.asarray(event_numbers, dtype=np.int64),
        "ProcessID": raw.process_code,
        "Weight": raw.weight,
        "CrossSection": raw.sigma_pb,
        "CrossSectionError": raw.sigma_err_pb,
        "Scale": raw.q_ren,
        "AlphaQCD": raw.alpha_s,
        "AlphaQED": raw.alpha_em,
        "ID1": raw.id1,
        "ID2": raw.id2,
        "X1": raw.x1,
        "X2": raw.x2,
        "PDF1": raw.pdf1,
        "PDF2": raw.pdf2,
        "ScalePDF": raw.q_fac,
        "NumPU": pileup.n_pu,
    }
    for name, evals in event.items():
        cols[f"Event_{name}"] = _single(evals, n_ev)
    return cols
