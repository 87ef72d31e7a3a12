"""Assemble generator-level events: hard-scatter truth plus pileup, in COLLIDE columns.

:func:`assemble_columns` takes a batch of complete Pythia records of the hard
collision and the pileup drawn for the same events and returns the
``Gen_Part_*``, ``Vertex_*`` and ``Event_*`` columns of
:data:`l1scout.io.schema.GEN_COLUMNS` as (offsets, values) pairs. The hard
particles are prepared with numpy; the merge with the pileup, the pT ordering
and the gathering of every column run as compiled kernels over the whole batch
(``l1scout.generate._merge``, ``l1scout._sort.sort_within_events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import (
    Jagged,
    eta_phi_pt,
    event_index,
    offsets_from_counts,
)
from l1scout._sort import sort_within_events
from l1scout._types import F64, I64
from l1scout.constants import C_MM_PER_PS, C_MM_PER_S
from l1scout.generate import _merge
from l1scout.generate.pileup import PileupDraw
from l1scout.generate.pythia import RawEvents
from l1scout.generate.truth import relink, status_hepmc, truth_mask
from l1scout.generate.vertex import PileupSpec

__all__ = ["assemble_columns"]


def _single(values: npt.ArrayLike, n: int) -> Jagged:
    return np.arange(n + 1, dtype=np.int64), np.asarray(values)


def assemble_columns(
    raw: RawEvents,
    charge: npt.NDArray[np.int8],
    pileup: PileupDraw,
    spec: PileupSpec,
    event_numbers: Sequence[int],
    *,
    family: bool = True,
    vertices: bool = True,
) -> dict[str, Jagged]:
    """Build the generator-level columns of a batch.

    Args:
        raw: complete records of the hard collisions.
        charge: charge of every particle of *raw* (units of e).
        pileup: the pileup drawn for the same events.
        spec: the card's pileup section (beam spot).
        event_numbers: the events' numbers in the file.
        family: make the family links ``Gen_Part_M1``, ``M2``, ``D1``, ``D2``
            (False: left out, for files that do not write ``Gen_Part``).
        vertices: make the ``Vertex_*`` columns (False: left out).
    """
    n_ev = raw.n_events
    evt_raw = event_index(raw.offsets)

    # --- hard-scatter truth
    keep = truth_mask(raw.pid, raw.status, raw.mother1, raw.offsets)
    has_d = raw.daughter1 >= 0
    first_d_pid = np.where(
        has_d, raw.pid[np.where(has_d, raw.offsets[evt_raw] + raw.daughter1, 0)], 0
    )
    status = status_hepmc(raw.pid, raw.status, first_d_pid)
    evt_h = evt_raw[keep]
    n_hard = np.bincount(evt_h, minlength=n_ev).astype(np.int64)
    offsets = offsets_from_counts(n_hard + np.diff(pileup.part_offsets))
    hard_off = offsets_from_counts(n_hard)
    h_eta, h_phi, h_pt = eta_phi_pt(raw.px[keep], raw.py[keep], raw.pz[keep])
    h_status = status[keep].astype(np.int8)
    h_charge = charge[keep].astype(np.int8)
    hard_f = np.stack(
        [
            h_pt,
            h_eta,
            h_phi,
            raw.mass[keep],
            raw.vx[keep] + spec.beamspot_x_mm,
            raw.vy[keep] + spec.beamspot_y_mm,
            raw.vz[keep] + pileup.hard_z[evt_h],
            raw.vt[keep] + pileup.hard_t[evt_h] * C_MM_PER_PS,
        ]
    ).astype(np.float64, copy=False)
    hard_i = np.stack([raw.pid[keep], h_status, h_charge]).astype(np.int32)

    pool = pileup.pool
    if pool is not None:
        p_eta, _, p_pt = pool.eta_phi_pt
        p_f32 = (pool.mass, pool.vx, pool.vy, pool.vz, pool.vt)
        p_pid, p_charge = pool.pid, pool.charge
    else:
        p_eta = p_pt = np.zeros(0)
        empty = np.zeros(0, np.float32)
        p_f32 = (empty, empty, empty, empty, empty)
        p_pid, p_charge = np.zeros(0, np.int32), np.zeros(0, np.int8)
    source = pileup.source
    pt_merged = _merge.merged_pt(offsets, n_hard, hard_off, h_pt, pileup.part_offsets, source, p_pt)

    # --- sort by pT within events (stable), gather every column once in the new order
    perm, new_local = sort_within_events(offsets, pt_merged)
    f, i32, i8 = _merge.gather_particles(
        offsets,
        n_hard,
        hard_off,
        pileup.part_offsets,
        new_local,
        hard_f,
        hard_i,
        source,
        pileup.collision,
        pileup.vertex_index,
        pileup.phi_part,
        p_pt,
        p_eta,
        *p_f32,
        p_pid,
        p_charge,
        np.cos(pileup.phi),
        np.sin(pileup.phi),
        pileup.z,
        pileup.t,
        spec.beamspot_x_mm,
        spec.beamspot_y_mm,
        C_MM_PER_PS,
        C_MM_PER_S,
    )
    cols: dict[str, Jagged] = {}
    part: dict[str, npt.NDArray[Any]] = {
        "PID": i32[0],
        "Status": i8[0],
        "PT": f[0],
        "Eta": f[1],
        "Phi": f[2],
        "Mass": f[3],
        "IsPU": i8[2],
        "Charge": i8[1],
        "VertexIndex": i32[1],
        "X": f[4],
        "Y": f[5],
        "Z": f[6],
        "T": f[7],
    }
    if family:
        m1, m2, d1, d2 = relink(raw.offsets, keep, raw.mother1, raw.mother2)
        links = _merge.gather_links(
            offsets, n_hard, hard_off, perm, new_local, np.stack([m1, m2, d1, d2])
        )
        part.update(M1=links[0], M2=links[1], D1=links[2], D2=links[3])
    for name in _PART_ORDER:
        if name in part:
            cols[f"Gen_Part_{name}"] = (offsets, part[name])
    if vertices:
        cols.update(_vertex_columns(pileup, spec, n_hard, hard_off, h_pt, h_status, h_charge))
    cols.update(_event_columns(raw, pileup, event_numbers))
    return cols


_PART_ORDER = (
    "PID", "Status", "PT", "Eta", "Phi", "Mass", "M1", "M2", "D1", "D2",
    "IsPU", "Charge", "VertexIndex", "X", "Y", "Z", "T",
)  # fmt: skip


def _vertex_columns(
    pileup: PileupDraw,
    spec: PileupSpec,
    n_hard: I64,
    hard_off: I64,
    h_pt: F64,
    h_status: npt.NDArray[np.int8],
    h_charge: npt.NDArray[np.int8],
) -> dict[str, Jagged]:
    """The truth vertices: the hard scatter (index 0) and the pileup collisions (1..N), by SumPT2."""
    pool = pileup.pool
    p_pt = pool.eta_phi_pt[2] if pool is not None else np.zeros(0)
    p_charge = pool.charge if pool is not None else np.zeros(0, np.int8)
    n_vtx = 1 + pileup.n_pu
    vtx_off = offsets_from_counts(n_vtx)
    ndf, sumpt2 = _merge.vertex_sums(
        n_hard,
        hard_off,
        h_pt,
        h_status,
        h_charge,
        pileup.part_offsets,
        pileup.source,
        pileup.vertex_index,
        p_pt,
        p_charge,
        vtx_off,
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
    vperm, _ = sort_within_events(vtx_off, sumpt2)
    vertex: dict[str, npt.ArrayLike] = {
        "Index": v_index,
        "X": np.full(len(v_index), spec.beamspot_x_mm),
        "Y": np.full(len(v_index), spec.beamspot_y_mm),
        "Z": v_z,
        "T": v_t * 1e-12,
        "NDF": ndf,
        "SumPT2": sumpt2,
    }
    return {f"Vertex_{name}": (vtx_off, np.asarray(v)[vperm]) for name, v in vertex.items()}


def _event_columns(
    raw: RawEvents, pileup: PileupDraw, event_numbers: Sequence[int]
) -> dict[str, Jagged]:
    n_ev = raw.n_events
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
    return {f"Event_{name}": _single(evals, n_ev) for name, evals in event.items()}
