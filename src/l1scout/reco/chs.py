"""Charged-hadron subtraction (CHS): flag charged pileup candidates.

As Delphes' ``TrackPileUpSubtractor`` in the Phase-2 card: a charged candidate
from a pileup collision whose true production z lies further than
``sigma_z(pT, eta)`` from the true primary vertex is flagged ``IsRecoPU`` (a
perfect subtraction outside the vertex resolution); pT and eta are the
generated particle's. Nothing else is flagged.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from l1scout.detector.param import BinnedFunction
from l1scout.detector.particles import GenParticles

__all__ = ["chs_flags"]


def chs_flags(
    gen_index: npt.NDArray[np.int64],
    gen: GenParticles,
    pv_z: npt.NDArray[np.float64],
    sigma_z: BinnedFunction,
) -> npt.NDArray[np.int32]:
    """``IsRecoPU`` for candidates whose generated particle is ``gen_index`` (-1: neutral).

    Args:
        gen_index: global index into *gen* of each candidate's particle, -1 for neutrals.
        gen: the generated particles.
        pv_z: z of the true primary vertex of every event (mm).
        sigma_z: the card's vertex resolution sigma_z(pT, eta) in mm.
    """
    charged = gen_index >= 0
    g = gen_index[charged]
    dist = np.abs(gen.z[g] - pv_z[gen.event[g]])
    flag = (gen.is_pu[g] == 1) & (dist > sigma_z(gen.pt[g], gen.eta[g]))
    out = np.zeros(len(gen_index), np.int32)
    out[charged] = flag
    return out
