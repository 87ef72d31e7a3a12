"""Column layout of l1scout files: COLLIDE-2V names and dtypes, plus documented extensions.

Every column is ``<View>_<Collection>_<Field>`` (truth and event columns have
no view), holds one list per event (event-level quantities are lists of
length 1), and has the dtype of ``shared/reference/collide-format.md``.
Columns that COLLIDE does not have are marked ``collide=False``: l1scout
extensions, documented here.

Schema notes for the generator-level columns (``GEN_COLUMNS``):

* ``Gen_Part`` holds, for the hard collision, final-state particles, the
  hard-process particles (|status| 21-29), taus and their direct decay
  products, and b and c hadrons; for pileup collisions only final-state
  particles (``IsPU`` = 1). Sorted by PT descending; ``M1``/``M2``/``D1``/``D2``
  index into the same event's ``Gen_Part`` list (-1: none), see
  :mod:`l1scout.generate.truth`. ``Status`` is HepMC's (1 final, 2 decayed).
* ``Gen_Part_VertexIndex`` (extension) is the ``Vertex_Index`` of the
  particle's collision: 0 for the hard scatter, 1..N for the pileup ones.
* ``Vertex`` is the generator truth of the collision vertices, sorted by
  ``SumPT2`` descending: ``NDF`` counts and ``SumPT2`` sums pT^2 of the
  charged final-state particles of the collision. The reconstructed vertices
  with their ``Constituents`` come with the detector views.
* Positions are in mm and times in s, as Delphes writes them; momenta in GeV;
  cross sections in pb. Production positions are rounded to 1 um and times to
  1 fs: far below any detector resolution, and it keeps the nanometre offsets
  of very short-lived decays from bloating the files.

Example:
    >>> [c.name for c in GEN_COLUMNS if c.collection == "Vertex"][:3]
    ['Vertex_Index', 'Vertex_X', 'Vertex_Y']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

__all__ = [
    "EVENT_COLUMNS",
    "GEN_COLUMNS",
    "GEN_PART_COLUMNS",
    "VERTEX_COLUMNS",
    "Column",
    "arrow_schema",
]

_ARROW = {
    "float16": pa.float16(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint32": pa.uint32(),
}


@dataclass(frozen=True)
class Column:
    """One column: its name, element dtype, list depth, and whether COLLIDE has it."""

    name: str
    dtype: str
    unit: str = ""
    doc: str = ""
    collide: bool = True
    depth: int = 1

    @property
    def collection(self) -> str:
        """The collection part of the name (``Gen_Part``, ``Vertex``, ``Event``, ...)."""
        head = self.name.rsplit("_", 1)[0]
        for view in ("FullReco_", "L1T_"):
            if head.startswith(view):
                return head[len(view) :]
        return head

    @property
    def field(self) -> str:
        """The field part of the name (``PT``, ``Z``, ...)."""
        return self.name.rsplit("_", 1)[1]

    def arrow_type(self) -> pa.DataType:
        """The Arrow type: ``depth`` nested lists of the element dtype."""
        typ = _ARROW[self.dtype]
        for _ in range(self.depth):
            typ = pa.list_(typ)
        return typ


def _cols(
    prefix: str, spec: Sequence[tuple[str, str, str, str] | tuple[str, str, str, str, bool]]
) -> tuple[Column, ...]:
    out = []
    for item in spec:
        field, dtype, unit, doc = item[:4]
        collide = bool(item[4]) if len(item) > 4 else True
        out.append(Column(f"{prefix}_{field}", dtype, unit, doc, collide))
    return tuple(out)


GEN_PART_COLUMNS = _cols(
    "Gen_Part",
    [
        ("PID", "int32", "", "PDG id"),
        ("Status", "int8", "", "HepMC status: 1 final, 2 decayed, 4 beam, else Pythia |status|"),
        ("PT", "float16", "GeV", "transverse momentum"),
        ("Eta", "float16", "", "pseudorapidity (+-999.9 for pT = 0)"),
        ("Phi", "float16", "rad", "azimuth in [-pi, pi]"),
        ("Mass", "float32", "GeV", "generated mass"),
        ("M1", "int32", "", "first mother, index into the event's Gen_Part (-1: none)"),
        ("M2", "int32", "", "second mother (-1: none)"),
        ("D1", "int32", "", "first daughter (-1: none)"),
        ("D2", "int32", "", "last daughter (-1: none)"),
        ("IsPU", "int8", "", "1 if from a pileup collision"),
        ("Charge", "int8", "e", "electric charge", False),
        (
            "VertexIndex",
            "int32",
            "",
            "Vertex_Index of the particle's collision (0: hard scatter)",
            False,
        ),
        ("X", "float32", "mm", "production vertex x, rounded to 1 um", False),
        ("Y", "float32", "mm", "production vertex y, rounded to 1 um", False),
        ("Z", "float32", "mm", "production vertex z, rounded to 1 um", False),
        ("T", "float32", "s", "production time, rounded to 1 fs", False),
    ],
)

VERTEX_COLUMNS = _cols(
    "Vertex",
    [
        ("Index", "int32", "", "collision number: 0 hard scatter, 1..N pileup"),
        ("X", "float32", "mm", "vertex x"),
        ("Y", "float32", "mm", "vertex y"),
        ("Z", "float32", "mm", "vertex z"),
        ("T", "float32", "s", "vertex time"),
        ("NDF", "int32", "", "number of charged final-state particles (truth)"),
        ("SumPT2", "float32", "GeV^2", "sum of pT^2 of charged final-state particles (truth)"),
    ],
)

EVENT_COLUMNS = _cols(
    "Event",
    [
        ("Number", "int64", "", "event number in the file"),
        ("ProcessID", "int32", "", "Pythia process code"),
        ("Weight", "float32", "", "event weight"),
        ("CrossSection", "float32", "pb", "Pythia's running cross-section estimate"),
        ("CrossSectionError", "float32", "pb", "its statistical error"),
        ("Scale", "float32", "GeV", "renormalisation scale Q"),
        ("AlphaQCD", "float32", "", "alpha_s of the hard process"),
        ("AlphaQED", "float32", "", "alpha_em of the hard process"),
        ("ID1", "int32", "", "PDG id of the first incoming parton"),
        ("ID2", "int32", "", "PDG id of the second incoming parton"),
        ("X1", "float32", "", "momentum fraction of parton 1"),
        ("X2", "float32", "", "momentum fraction of parton 2"),
        ("PDF1", "float32", "", "x * f(x, Q) of parton 1"),
        ("PDF2", "float32", "", "x * f(x, Q) of parton 2"),
        ("ScalePDF", "float32", "GeV", "factorisation scale"),
        ("NumPU", "int32", "", "number of pileup collisions", False),
    ],
)

GEN_COLUMNS: tuple[Column, ...] = GEN_PART_COLUMNS + VERTEX_COLUMNS + EVENT_COLUMNS


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Arrow schema of *columns*, in order."""
    return pa.schema([pa.field(c.name, c.arrow_type()) for c in columns])
