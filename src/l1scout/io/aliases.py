"""The one alias table between the COLLIDE schemas, schema detection, and legacy PID unwrapping.

Canonical column names are the final COLLIDE-2V names, which are also
l1scout's (:mod:`l1scout.io.schema`). Three kinds of file are read
(``docs/physics/data-format.md``, "The COLLIDE-1m schema"):

* ``l1scout``: canonical names, ``dataset_version`` metadata ``l1scout_*``;
* ``collide2v``: canonical names, ``dataset_version`` ``collide2v_*`` or
  absent (a file with canonical names and no version is taken as COLLIDE-2V);
* ``collide1m``: the older COLLIDE-1m schema on the public hub. Its names map
  to canonical ones collection by collection through :data:`LEGACY_COLLECTIONS`:
  ``<View>_PFCand_*`` -> ``<View>_PFPart_*`` (any view), ``FullReco_GenPart_*``
  -> ``Gen_Part_*``, ``FullReco_GenJetAK4/AK8_*`` -> ``Gen_JetAK4/AK8_*``,
  ``FullReco_GenMissingET_*`` -> ``Gen_MissingET_*``,
  ``FullReco_PrimaryVertex_*`` -> ``Vertex_*``; and, by the same rule (our
  reading: the reference lists neither), ``FullReco_Event_*`` -> ``Event_*`` and
  ``L1T_PrimaryVertex_*`` -> ``L1T_Vertex_*``. Field names are unchanged. Every other name (the
  ``PUPPIPart``, lepton, photon, jet, MET collections of both views) is the
  same in both schemas.

A column that is in no table (a user's extra column) keeps its own name.

Legacy PID values were stored as int8, so ids wrap modulo 256 (2212 -> -92,
211 -> 45). :func:`unwrap_pid` inverts the wrap for the ids in
:data:`UNWRAPPED_PIDS`: the particles that occur as final-state generator
particles or particle-flow candidates whose int8 images collide neither with
each other nor with an id that fits in int8 (:data:`INT8_NATIVE_PIDS`). Any
other stored value is returned unchanged, which is right for every id with
|id| <= 127 (quarks, leptons, gauge bosons, pi0, ...) and wrong, with no way
to tell, for heavier hadrons outside the table: B and D mesons and baryons of
the hard-process record (511 is stored as -1 and reads as -1), and the
Xi and Omega hyperons, left out of the table because their images coincide
with neutrinos and top quarks (Xi- 3312 -> -16, Xi0 3322 -> -6,
Omega- 3334 -> 6). The unwrapped column is int32, as in the final schema.

Example:
    >>> canonical_name("FullReco_PFCand_PT"), canonical_name("FullReco_GenPart_PID")
    ('FullReco_PFPart_PT', 'Gen_Part_PID')
    >>> legacy_name("Vertex_Z"), legacy_name("L1T_PUPPIPart_PT")
    ('FullReco_PrimaryVertex_Z', 'L1T_PUPPIPart_PT')
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from l1scout._types import I32
from l1scout.errors import DataFormatError
from l1scout.io.schema import (
    GEN_COLUMNS,
    Column,
    gen_object_columns,
    view_columns,
)

__all__ = [
    "INT8_NATIVE_PIDS",
    "JET_COLLECTIONS",
    "LEGACY_COLLECTIONS",
    "SCHEMA_KINDS",
    "UNWRAPPED_PIDS",
    "VIEWS",
    "SchemaKind",
    "SchemaMatch",
    "canonical_name",
    "closest_names",
    "column_collection",
    "column_view",
    "detect_schema",
    "known_columns",
    "legacy_name",
    "unwrap_pid",
    "wrap_pid",
]

#: The schema kinds a reader can find.
SchemaKind = Literal["l1scout", "collide2v", "collide1m"]
SCHEMA_KINDS: tuple[SchemaKind, ...] = ("l1scout", "collide2v", "collide1m")

#: The detector views of COLLIDE-2V (user views pass through under their own prefix).
VIEWS: tuple[str, ...] = ("FullReco", "L1T")
#: The jet collections of each COLLIDE view.
JET_COLLECTIONS: tuple[str, ...] = ("JetAK4", "JetAK8", "JetPuppiAK4", "JetPuppiAK8")
_GEN_JETS: tuple[str, ...] = ("Gen_JetAK4", "Gen_JetAK8")
#: First tokens of the columns that belong to no view.
_VIEWLESS = frozenset({"Gen", "Vertex", "Event"})

#: The alias table: legacy COLLIDE-1m collection -> canonical collection.
#: ``<View>_PFCand`` -> ``<View>_PFPart`` holds for every view besides these.
LEGACY_COLLECTIONS: Mapping[str, str] = {
    "FullReco_GenPart": "Gen_Part",
    "FullReco_GenJetAK4": "Gen_JetAK4",
    "FullReco_GenJetAK8": "Gen_JetAK8",
    "FullReco_GenMissingET": "Gen_MissingET",
    "FullReco_PrimaryVertex": "Vertex",
    "FullReco_Event": "Event",
    "FullReco_PFCand": "FullReco_PFPart",
    "L1T_PFCand": "L1T_PFPart",
    "L1T_PrimaryVertex": "L1T_Vertex",
}
_CANONICAL_TO_LEGACY: Mapping[str, str] = {v: k for k, v in LEGACY_COLLECTIONS.items()}
_PFCAND = re.compile(r"^([A-Za-z0-9]+)_PFCand$")
_PFPART = re.compile(r"^([A-Za-z0-9]+)_PFPart$")

#: PDG ids that fit in int8 and that an unwrapped value must never stand for
#: by mistake: quarks, leptons, gauge and Higgs bosons, light unflavoured mesons.
INT8_NATIVE_PIDS: frozenset[int] = frozenset(
    {s * i for i in (*range(1, 9), *range(11, 19), 24, 34, 37) for s in (1, -1)}
    | {21, 22, 23, 25, 32, 33, 35, 36, 39, 111, 113, 115, 117, 119}
)
#: Final-state / particle-flow PDG ids whose int8 image is unwrapped (see the module notes).
UNWRAPPED_PIDS: tuple[int, ...] = (
    0,
    11,
    -11,
    12,
    -12,
    13,
    -13,
    14,
    -14,
    16,
    -16,
    22,
    211,
    -211,
    321,
    -321,
    130,
    310,
    2112,
    -2112,
    2212,
    -2212,
    3122,
    -3122,
    3112,
    -3112,
    3222,
    -3222,
)


def wrap_pid(pid: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """The int8 image of PDG ids, as the legacy COLLIDE-1m files stored them (modulo 256).

    >>> wrap_pid([2212, 211, -211, 22, 130]).tolist()
    [-92, -45, 45, 22, -126]
    """
    p = np.asarray(pid, dtype=np.int64)
    return ((p + 128) % 256 - 128).astype(np.int8)


@functools.cache
def _unwrap_table() -> I32:
    # index: the stored byte as uint8; default: the stored value itself
    table = np.arange(256, dtype=np.int32)
    table[table >= 128] -= 256
    images = wrap_pid(list(UNWRAPPED_PIDS)).view(np.uint8)
    table[images] = np.asarray(UNWRAPPED_PIDS, dtype=np.int32)
    table.setflags(write=False)
    return table


def unwrap_pid(stored: npt.ArrayLike) -> I32:
    """Undo the int8 wrap of legacy PID values (int32 out); values outside the table pass through.

    >>> unwrap_pid(np.array([-92, -45, 45, 22, -126, 5, -1], dtype=np.int8)).tolist()
    [2212, 211, -211, 22, 130, 5, -1]
    """
    values = np.asarray(stored)
    if values.dtype != np.int8:
        values = values.astype(np.int8)
    return _unwrap_table()[values.view(np.uint8)]


def _split(name: str) -> tuple[str, str]:
    head, _, tail = name.rpartition("_")
    return head, tail


def _rename(name: str, table: Mapping[str, str], pf: re.Pattern[str], pf_to: str) -> str:
    """*name* with its collection renamed by *table*, or a *pf* match's ``<View>_`` + *pf_to*."""
    head, tail = _split(name)
    if not head:
        return name
    if head in table:
        return f"{table[head]}_{tail}"
    match = pf.match(head)
    if match:
        return f"{match.group(1)}_{pf_to}_{tail}"
    return name


def canonical_name(physical: str) -> str:
    """The canonical (final COLLIDE-2V) name of a column name of any known schema.

    >>> canonical_name("L1T_PFCand_PuppiW"), canonical_name("FullReco_PrimaryVertex_SumPT2")
    ('L1T_PFPart_PuppiW', 'Vertex_SumPT2')
    >>> canonical_name("my_label")
    'my_label'
    """
    return _rename(physical, LEGACY_COLLECTIONS, _PFCAND, "PFPart")


def legacy_name(canonical: str) -> str:
    """The COLLIDE-1m name of a canonical column (the inverse of :func:`canonical_name`).

    >>> legacy_name("Gen_Part_PID"), legacy_name("MyView_PFPart_PT")
    ('FullReco_GenPart_PID', 'MyView_PFCand_PT')
    """
    return _rename(canonical, _CANONICAL_TO_LEGACY, _PFPART, "PFCand")


def column_view(name: str) -> str | None:
    """The view of a canonical column (``L1T``, ``FullReco``, a user's), None for truth/event/other.

    >>> column_view("L1T_MuonTight_PT"), column_view("Gen_Part_PT"), column_view("label")
    ('L1T', None, None)
    """
    parts = name.split("_")
    if len(parts) < 3 or parts[0] in _VIEWLESS:
        return None
    return parts[0]


def column_collection(name: str) -> str:
    """The collection of a canonical column, with its view (``L1T_PUPPIPart``, ``Gen_Part``).

    >>> column_collection("L1T_JetPuppiAK4_Constituents"), column_collection("Event_Number")
    ('L1T_JetPuppiAK4', 'Event')
    """
    head, _ = _split(name)
    return head or name


@functools.cache
def known_columns() -> tuple[Column, ...]:
    """Every canonical column of a COLLIDE-2V file with both views (and l1scout's extensions)."""
    cols = GEN_COLUMNS + gen_object_columns(list(_GEN_JETS))
    for view in VIEWS:
        cols += view_columns(view, list(JET_COLLECTIONS))
    return cols


@functools.cache
def _known_names() -> frozenset[str]:
    return frozenset(c.name for c in known_columns())


@functools.cache
def _known_legacy_names() -> frozenset[str]:
    return frozenset(legacy_name(n) for n in _known_names())


@functools.cache
def _renamed_canonical() -> frozenset[str]:
    """Canonical names that COLLIDE-1m spells differently (they identify the final schema)."""
    return frozenset(n for n in _known_names() if legacy_name(n) != n)


def closest_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to *name* (difflib), best first; case-insensitive.

    >>> closest_names("L1T_MuonTight_Pt", ["L1T_MuonTight_PT", "L1T_MuonTight_Eta", "Gen_Part_PT"])
    ['L1T_MuonTight_PT', 'L1T_MuonTight_Eta']
    """
    pool = list(dict.fromkeys(candidates))
    by_lower: dict[str, str] = {}
    for c in pool:
        by_lower.setdefault(c.lower(), c)
    hits = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[h] for h in hits]


@dataclass(frozen=True)
class SchemaMatch:
    """What :func:`detect_schema` found in one file.

    Attributes:
        kind: the schema kind.
        physical: canonical name -> the file's own column name, for every column.
        unwrap: canonical names of int8 PID columns to unwrap with :func:`unwrap_pid`.
    """

    kind: SchemaKind
    physical: Mapping[str, str] = field(hash=False)
    unwrap: frozenset[str] = frozenset()


def _innermost(typ: pa.DataType) -> pa.DataType:
    while pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        typ = typ.value_type
    return typ


def _readable(names: frozenset[str]) -> bool:
    """True if some collection has its PT, Eta and Phi (or MET and Phi) among *names*."""
    for name in names:
        coll = column_collection(name)
        if f"{coll}_Phi" in names and (
            (f"{coll}_PT" in names and f"{coll}_Eta" in names) or f"{coll}_MET" in names
        ):
            return True
    return False


@functools.cache
def _anchor_groups() -> tuple[tuple[str, ...], ...]:
    """For each known collection, the columns that make a file readable (Gen_Part first)."""
    groups: dict[str, tuple[str, ...]] = {
        "Gen_Part": ("Gen_Part_PT", "Gen_Part_Eta", "Gen_Part_Phi")
    }
    known = _known_names()
    for name in sorted(known):
        coll = column_collection(name)
        if coll in groups:
            continue
        if f"{coll}_PT" in known:
            groups[coll] = (f"{coll}_PT", f"{coll}_Eta", f"{coll}_Phi")
        elif f"{coll}_MET" in known:
            groups[coll] = (f"{coll}_MET", f"{coll}_Phi")
    return tuple(groups.values())


def detect_schema(
    types: Mapping[str, pa.DataType],
    metadata: Mapping[str, str],
    source: str,
) -> SchemaMatch:
    """Find which schema a file's columns follow and map them to canonical names.

    Args:
        types: the file's column names and Arrow types, in file order.
        metadata: the file's key-value metadata (``dataset_version`` tells l1scout
            from COLLIDE-2V files).
        source: the file (or hub dataset) named in errors.

    Returns:
        The kind, the canonical -> physical mapping of every column, and the
        PID columns to unwrap (int8 ones, whatever the kind).

    Raises:
        DataFormatError: the file holds the PT, Eta and Phi (or MET and Phi) of
            no known collection in either schema; the message names the file,
            the closest schema and the columns it misses.

    >>> t = pa.list_(pa.float16())
    >>> m = detect_schema({"FullReco_GenPart_PT": t, "FullReco_GenPart_Eta": t,
    ...                    "FullReco_GenPart_Phi": t}, {}, "f.parquet")
    >>> m.kind, m.physical["Gen_Part_PT"]
    ('collide1m', 'FullReco_GenPart_PT')
    """
    names = list(types)
    legacy_only = [n for n in names if canonical_name(n) != n]
    final_only = [n for n in names if n in _renamed_canonical()]
    version = metadata.get("dataset_version", "")
    int8_pid = [n for n in names if _split(n)[1] == "PID" and _innermost(types[n]) == pa.int8()]
    legacy: bool
    if legacy_only or final_only:
        legacy = len(legacy_only) > len(final_only)
    else:  # only names both schemas share
        legacy = bool(int8_pid) or version.startswith("collide1m")

    physical: dict[str, str] = {}
    if legacy:
        for n in names:  # a name that is already canonical wins over a renamed one
            canon = canonical_name(n)
            if canon not in physical or canon == n:
                physical[canon] = n
    else:
        physical = {n: n for n in names}

    present = frozenset(physical)
    if not _readable(present):
        known_final = sum(n in _known_names() for n in names)
        known_legacy = sum(n in _known_legacy_names() for n in names)
        closest: SchemaKind = "collide1m" if known_legacy > known_final else "collide2v"
        spell = legacy_name if closest == "collide1m" else (lambda s: s)
        best = max(_anchor_groups(), key=lambda g: sum(c in present for c in g))
        missing = [spell(c) for c in best if c not in present]
        found = max(known_final, known_legacy)
        msg = (
            f"{source}: not an l1scout or COLLIDE event file: closest schema {closest} "
            f"({found} of its columns found); it misses {', '.join(missing)} "
            "(a file needs the PT, Eta and Phi, or MET and Phi, of at least one collection)"
        )
        raise DataFormatError(msg)

    kind: SchemaKind
    if legacy:
        kind = "collide1m"
    elif version.startswith("l1scout"):
        kind = "l1scout"
    else:
        kind = "collide2v"
    unwrap = frozenset(c for c, p in physical.items() if p in int8_pid)
    return SchemaMatch(kind=kind, physical=physical, unwrap=unwrap)
