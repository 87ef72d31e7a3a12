"""Where generated data that can be rebuilt at will is cached: pileup pools, Pythia's MPI tables.

Every cached file carries the SHA-256 and size of its content and is verified
when it is read; one that fails is rebuilt with a warning naming it and what was
wrong, and replaced atomically (:mod:`l1scout.generate.pileup`,
:func:`l1scout.generate.pythia.mpi_init_file`).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where pools are cached (created on demand).

    ``$L1SCOUT_CACHE_DIR``, else ``$XDG_CACHE_HOME/l1scout``, else ``~/.cache/l1scout``.
    """
    env = os.environ.get("L1SCOUT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "l1scout"
