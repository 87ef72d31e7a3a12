"""l1scout: machine learning for the CMS Level-1 trigger and Phase-2 L1 scouting.

Subpackages follow the data flow: ``processes`` (what to generate), ``generate``
(Pythia 8 and pileup), ``detector`` (cards and simulation), ``reco``, ``io``,
``tasks``, ``deploy``, ``track`` and ``cli``. Importing l1scout has no side
effects; heavy dependencies load when their subpackage is used.
"""

from l1scout._version import __version__

__all__ = ["__version__"]
