"""Physical constants, each with one home.

The speed of light in the units the code needs (exact, SI definition):

>>> C_MM_PER_S == 299_792_458 * 1000
True
>>> C_MM_PER_PS == 299_792_458 / 1e9 == C_LIGHT_GEV_PER_T_M
True
"""

from __future__ import annotations

__all__ = ["C_LIGHT_GEV_PER_T_M", "C_MM_PER_PS", "C_MM_PER_S"]

#: c in mm/s, to turn c*t (mm) into seconds as Delphes writes times.
C_MM_PER_S = 2.99792458e11
#: c in mm/ps: a vertex time (ps) times this is c*t (mm).
C_MM_PER_PS = 0.299792458
#: pT [GeV] = 0.299792458 * |q| * B [T] * r [m] (a charge in a magnetic field).
C_LIGHT_GEV_PER_T_M = 0.299792458
