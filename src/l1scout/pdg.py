"""PDG particle-id rules (Review of Particle Physics, "Monte Carlo particle numbering scheme").

A hadron's id is ``n_r n_L n_q1 n_q2 n_q3 n_J``: its quark content sits in the
digits ``n_q1 n_q2 n_q3``; a meson has ``n_q1 = 0``; diquarks end in ``0``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from l1scout._types import I64, B

__all__ = ["heavy_flavour", "is_hadron", "is_heavy_flavour_hadron"]


def _quark_digits(pid: I64) -> tuple[I64, I64, I64]:
    a = np.abs(pid) % 10000
    return (a // 1000) % 10, (a // 100) % 10, (a // 10) % 10


def is_hadron(pid: npt.ArrayLike) -> B:
    """True for hadron ids (not quarks, gluons, diquarks, leptons or nuclei).

    >>> is_hadron([211, 5101, 21, 2212, 553, 13]).tolist()
    [True, False, False, True, True, False]
    """
    p = np.asarray(pid, dtype=np.int64)
    a = np.abs(p)
    _, q2, q3 = _quark_digits(p)
    # PDG numbering: hadrons have a non-zero n_q3 and n_q2 digit; diquarks (..0x) are partons.
    return np.asarray((a > 100) & (a < 10_000_000) & (q3 != 0) & (q2 != 0), dtype=np.bool_)


def is_heavy_flavour_hadron(pid: npt.ArrayLike, quark: int) -> B:
    """True for hadrons containing quark *quark* (4: c, 5: b), by PDG digit rules.

    >>> is_heavy_flavour_hadron(np.array([511, -521, 5122, 553, 421, 211, 5103]), 5).tolist()
    [True, True, True, True, False, False, False]
    """
    p = np.asarray(pid, dtype=np.int64)
    q1, q2, q3 = _quark_digits(p)
    has = (q1 == quark) | (q2 == quark) | (q3 == quark)
    return np.asarray(is_hadron(p) & has, dtype=np.bool_)


def heavy_flavour(pid: npt.ArrayLike) -> I64:
    """Heaviest of b (5) or c (4) in a hadron or quark id, else 0.

    >>> heavy_flavour([521, -4122, 5, -4, 21, 211, 553, 431, 5122, 10521, 541, 5101]).tolist()
    [5, 4, 5, 4, 0, 0, 5, 4, 5, 5, 5, 0]
    """
    p = np.asarray(pid, dtype=np.int64)
    a = np.abs(p)
    b = is_heavy_flavour_hadron(p, 5) | (a == 5)
    c = is_heavy_flavour_hadron(p, 4) | (a == 4)
    return np.where(b, 5, np.where(c, 4, 0)).astype(np.int64)
