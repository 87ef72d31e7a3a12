"""The generator truth of a batch of events, as every view's measurement needs it.

:func:`read_truth` takes the generated particles, the true collision
vertices, the generator MET and the generator jets of a
:class:`~l1scout.detector.validation.reading.Batch` once, for all views: which
particles are prompt (produced within
:data:`~l1scout.detector.validation.definitions.PROMPT_MM` of the hard
scatter), the hard-scatter vertex z and the generator MET components per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from l1scout._jagged import event_index, first_per_event
from l1scout._types import F64, I64, B
from l1scout.detector.validation import metrics as m
from l1scout.detector.validation.definitions import PROMPT_MM
from l1scout.detector.validation.reading import Batch

__all__ = ["Truth", "read_truth"]


@dataclass(frozen=True)
class Truth:
    """The generator truth of one batch.

    Attributes:
        n_events: events in the batch.
        gen_off: offsets of the generated particles (``Gen_Part``).
        pid, status, pt, eta, phi, charge, is_pu, mass: the particles' fields.
        x, y, z: the particles' production points (mm).
        prompt: particles produced within ``PROMPT_MM`` of the hard-scatter vertex.
        hs_z: hard-scatter vertex z per event (mm).
        n_vertices: generated collisions per event.
        met_x, met_y: generator MET components per event (GeV).
        jets: generator jets per collection: (offsets, pT, eta, phi).
    """

    n_events: int
    gen_off: I64
    pid: I64
    status: I64
    pt: F64
    eta: F64
    phi: F64
    charge: I64
    is_pu: I64
    mass: F64
    x: F64
    y: F64
    z: F64
    prompt: B
    hs_z: F64
    n_vertices: I64
    met_x: F64
    met_y: F64
    jets: dict[str, tuple[I64, F64, F64, F64]]


def read_truth(batch: Batch, gen_jets: Sequence[str]) -> Truth:
    """The truth of *batch*, with the generator jet collections *gen_jets* (``Gen_JetAK4``)."""
    gen_off = batch.offsets("Gen_Part_PT")
    v_off = batch.offsets("Vertex_Index")
    hard = batch.ints("Vertex_Index") == 0
    hs = {c: m.first_where(batch.floats(f"Vertex_{c}"), v_off, hard) for c in ("X", "Y", "Z")}
    ev = event_index(gen_off)
    x, y, z = (batch.floats(f"Gen_Part_{c}") for c in ("X", "Y", "Z"))
    dist = np.sqrt((x - hs["X"][ev]) ** 2 + (y - hs["Y"][ev]) ** 2 + (z - hs["Z"][ev]) ** 2)
    met_off = batch.offsets("Gen_MissingET_MET")
    met_x, met_y = m.met_components(
        first_per_event(met_off, batch.floats("Gen_MissingET_MET"), fill=np.nan, dtype=np.float64),
        first_per_event(met_off, batch.floats("Gen_MissingET_Phi"), fill=np.nan, dtype=np.float64),
    )
    jets = {
        name: (
            batch.offsets(f"{name}_PT"),
            batch.floats(f"{name}_PT"),
            batch.floats(f"{name}_Eta"),
            batch.floats(f"{name}_Phi"),
        )
        for name in gen_jets
    }
    return Truth(
        n_events=len(gen_off) - 1,
        gen_off=gen_off,
        pid=batch.ints("Gen_Part_PID"),
        status=batch.ints("Gen_Part_Status"),
        pt=batch.floats("Gen_Part_PT"),
        eta=batch.floats("Gen_Part_Eta"),
        phi=batch.floats("Gen_Part_Phi"),
        charge=batch.ints("Gen_Part_Charge"),
        is_pu=batch.ints("Gen_Part_IsPU"),
        mass=batch.floats("Gen_Part_Mass"),
        x=x,
        y=y,
        z=z,
        prompt=dist < PROMPT_MM,
        hs_z=hs["Z"],
        n_vertices=m.counts(v_off),
        met_x=met_x,
        met_y=met_y,
        jets=jets,
    )
