"""Column layout of l1scout files: COLLIDE-2V names and dtypes, plus documented extensions.

Every column is ``<View>_<Collection>_<Field>`` (truth and event columns have
no view), holds one list per event (event-level quantities are lists of
length 1), and has the dtype of ``docs/physics/data-format.md``.
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

Standalone Level-1 muons (extension, in a view whose card has a ``muon_system``
section; the shipped ``L1T`` writes ``L1T_MuonStandalone``): the muons of the
muon track finders, measured in the muon system alone, with eta and phi at the
second muon station and every value on the Global Muon Trigger's hardware bins
(:mod:`l1scout.detector.muon_system`). ``HwPt``/``HwEta``/``HwPhi`` are the
integers; ``PT``/``Eta``/``Phi`` the same values times the card's bin widths.
At most eight per event, best ``Quality`` first, then highest pT.

Pre-cut collections (extension, :data:`PRECUT_COLLECTIONS`, written only when
asked for: a production's ``collections`` names them, for example
``("Event", "L1T_PUPPIPart128")``; a file without them is unchanged):

* ``<View>_PUPPIPart128`` holds, per event, the (at most) 128 highest-pT
  entries of ``<View>_PUPPIPart`` with all its fields, in the same order. It
  equals, entry for entry, the full collection cut to its first 128 by pT
  (a stable sort of the stored float16 ``PT``; the writer's lists are already
  sorted, so the cut is their first 128). The COLLIDE-2V dataset card
  recommends the 128 highest-pT L1T candidates for Level-1 studies: a reader
  of particle sets with k <= 128 decodes 128 entries per event instead of
  ~1,000 (:func:`l1scout.io.particle_sets.particle_set_columns`).

* ``Gen_PartHS`` (:data:`GEN_PART_HS_COLUMNS`) holds the ``Gen_Part`` entries
  of the hard collision only (``IsPU`` = 0, ``VertexIndex`` = 0), with all the
  fields of ``Gen_Part`` and the same values, in the same order (pT
  descending). ``M1``/``M2``/``D1``/``D2`` index into the event's
  ``Gen_PartHS`` list (-1: none; the family links of a hard-collision particle
  only ever point to hard-collision particles). The extra field ``Index`` is
  the entry's index in the event's full ``Gen_Part``, the index that the other
  collections' truth links use (a track's ``fUniqueID`` - 1, ``<View>_Track_GenIndex``).
  At pileup 200 ``Gen_Part`` holds the final-state particles of every pileup
  collision too (about 96 % of a signal file); a study that needs only the
  hard collision's record asks for ``Gen_PartHS`` instead
  (:func:`l1scout.generate.truth.hard_scatter_cut` makes it).

Detector-element collections (extension, :data:`ELEMENT_COLLECTIONS`, written
only when asked for, as the pre-cut ones; :mod:`l1scout.reco.elements` makes
them): the inputs of a machine-learned particle flow with their truth. Every
float is float32: d0 and dz need it (float16 steps 0.06 mm at 100 mm), and so
do energy sums that must add up (float16 keeps 3 digits) and track directions
(the tracker measures them to 1e-4 rad, float16 steps 2e-3 near pi).

* ``<View>_Track``: the view's reconstructed tracks, in generator order (the
  Delphes ``Track`` names; ``EtaOuter``/``PhiOuter`` at the calorimeter
  surface). Truth: ``GenIndex``, the particle's index in the event's
  ``Gen_Part`` (``Gen_Part_PT[GenIndex]`` is its pT), and ``IsPU``.
* ``<View>_Tower``: one entry per HCAL tower whose measured energy, with the
  ECAL towers inside it, is positive; sorted by tower (eta row, then phi).
  ``Eem``/``Ehad`` split the measured energy between ECAL and HCAL, ``Ehf``
  is ``E`` in the forward calorimeter (the segments ECAL and HCAL share, HF,
  2.958 < |eta| < 5 in the shipped cards) and 0 elsewhere. Truth: ``ETrue``
  (all true deposits in the tower, ECAL and HCAL), ``PUFraction`` = sum(IsPU
  x E) / sum(E) over them, ``NParticles``.
* ``<View>_TowerContrib``: per event, every (tower, particle) pair with the
  particle's true deposited energy; within a tower by decreasing energy.
  ``Tower`` indexes the event's ``<View>_Tower``, ``GenIndex`` its ``Gen_Part``.
  Per tower the ``E`` add up to ``ETrue``.

Example:
    >>> [c.name for c in GEN_COLUMNS if c.collection == "Vertex"][:3]
    ['Vertex_Index', 'Vertex_X', 'Vertex_Y']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import pyarrow as pa

__all__ = [
    "ELEMENT_COLLECTIONS",
    "EVENT_COLUMNS",
    "GEN_COLUMNS",
    "GEN_PART_COLUMNS",
    "GEN_PART_HS_COLUMNS",
    "PRECUT_COLLECTIONS",
    "VERTEX_COLUMNS",
    "Column",
    "arrow_schema",
    "element_columns",
    "gen_object_columns",
    "precut_columns",
    "view_columns",
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
        """The Arrow type: ``depth`` nested lists of the element dtype, nothing nullable.

        No value is ever missing, and declaring it lets Parquet drop the
        definition levels of the values: reading a 1000-candidate particle
        column decodes about 40 % faster (``benchmarks/reading.py``).
        """
        typ = _ARROW[self.dtype]
        for _ in range(self.depth):
            typ = pa.list_(pa.field("item", typ, nullable=False))
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

#: The optional hard-collision cut of ``Gen_Part`` (module docstring): its fields, then ``Index``.
GEN_PART_HS_COLUMNS: tuple[Column, ...] = (
    *(
        Column(
            c.name.replace("Gen_Part_", "Gen_PartHS_", 1),
            c.dtype,
            c.unit,
            c.doc.replace("the event's Gen_Part", "the event's Gen_PartHS")
            + "; the hard collision's entries of Gen_Part",
            collide=False,
        )
        for c in GEN_PART_COLUMNS
    ),
    Column(
        "Gen_PartHS_Index",
        "int32",
        "",
        "index of the entry in the event's full Gen_Part (track fUniqueID - 1, Track_GenIndex)",
        collide=False,
    ),
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

_PARTICLE_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    (
        "fUniqueID",
        "uint32",
        "",
        "id within the event: Gen_Part index + 1 for tracks, from 2^31 for neutrals",
    ),
    ("PID", "int32", "", "PDG id: the true one for tracks, 22 / 0 for ECAL / HCAL neutrals"),
    ("Charge", "int8", "e", "electric charge"),
    ("PT", "float16", "GeV", "transverse momentum (measured, unweighted)"),
    ("Eta", "float16", "", "pseudorapidity"),
    ("Phi", "float16", "rad", "azimuth"),
    ("E", "float16", "GeV", "energy"),
    ("Mass", "float32", "GeV", "mass"),
    ("D0", "float32", "mm", "transverse impact parameter (0 for neutrals)"),
    ("DZ", "float32", "mm", "longitudinal impact parameter (0 for neutrals)"),
    ("ErrorD0", "float32", "mm", "resolution of D0"),
    ("ErrorDZ", "float32", "mm", "resolution of DZ"),
    (
        "IsPU",
        "int8",
        "",
        "truth: 1 if from a pileup collision (neutrals: most of the tower energy)",
    ),
    ("IsRecoPU", "int32", "", "1 if charged-hadron subtraction flagged it"),
    ("PuppiW", "float16", "", "PUPPI weight"),
)

_PT_ETA_PHI: tuple[tuple[str, str, str, str], ...] = (
    ("PT", "float16", "GeV", "transverse momentum"),
    ("Eta", "float16", "", "pseudorapidity"),
    ("Phi", "float16", "rad", "azimuth"),
)

_JET_MOMENTUM = (*_PT_ETA_PHI, ("Mass", "float32", "GeV", "invariant mass"))

_LEPTON_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("Charge", "int8", "e", "electric charge"),
    ("D0", "float32", "mm", "transverse impact parameter"),
    ("DZ", "float32", "mm", "longitudinal impact parameter"),
    ("ErrorD0", "float32", "mm", "resolution of D0"),
    ("ErrorDZ", "float32", "mm", "resolution of DZ"),
    *_PT_ETA_PHI,
)

_ISOLATION_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("IsolationVar", "float32", "", "sum pT of candidates in the cone / pT"),
    ("IsolationVarRhoCorr", "float32", "", "the same with the neutral sum corrected by rho"),
)

_EHAD = ("EhadOverEem", "float32", "", "HCAL over ECAL energy of the towers at the object")

# standalone Level-1 muons (extension): physical values are the hardware integers times their bin widths
_STANDALONE_MUON_FIELDS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("PT", "float32", "GeV", "measured pT: HwPt x 0.5 GeV", False),
    ("Eta", "float32", "", "pseudorapidity at the second muon station: HwEta x 0.010875", False),
    ("Phi", "float32", "rad", "azimuth at the second muon station, in [-pi, pi)", False),
    ("Charge", "int8", "e", "measured charge (the sign of the measured curvature)", False),
    ("Quality", "int8", "", "4 x (stations with a segment) - 1: 7, 11 or 15", False),
    ("Region", "int8", "", "track finder: 0 barrel, 1 overlap, 2 endcap", False),
    ("HwPt", "int16", "", "hardware pT bin, 0.5 GeV, in [1, 511]", False),
    ("HwEta", "int16", "", "hardware eta bin, 0.010875, in [-256, 255]", False),
    ("HwPhi", "int16", "", "hardware phi bin, 2 pi / 576, in [0, 575]", False),
)


def _jet_columns(prefix: str) -> tuple[Column, ...]:
    cols = _cols(
        prefix,
        [
            *_JET_MOMENTUM,
            ("Charge", "int8", "e", "sum of the constituents' charges"),
            (
                "Flavor",
                "uint32",
                "",
                "5 b, 4 c, else the nearest light parton's |PDG id| (0: none)",
            ),
            ("BTag", "int8", "", "1 if b-tagged (card efficiencies on Flavor)"),
            ("BTagPhys", "int8", "", "1 if b-tagged (card efficiencies on the physics flavour)"),
            ("NCharged", "int32", "", "charged constituents"),
            ("NNeutrals", "int32", "", "neutral constituents"),
        ],
    )
    nested = (
        Column(f"{prefix}_Constituents", "uint32", "", "fUniqueID of the constituents", depth=2),
        Column(
            f"{prefix}_ConstituentsIdx",
            "int16",
            "",
            "index of each constituent in the view's particle collection",
            depth=2,
        ),
    )
    return cols + nested


def view_columns(
    view: str, jet_names: Sequence[str], standalone_muons: str | None = None
) -> tuple[Column, ...]:
    """Columns of one detector view.

    Args:
        view: the view name (``FullReco``, ``L1T`` or a user's).
        jet_names: the names of the view card's jet collections.
        standalone_muons: the name of the view's standalone Level-1 muon
            collection (the card's ``muon_system.collection``), or None.

    >>> cols = view_columns("L1T", ["JetAK4"])
    >>> cols[0].name, cols[-1].name, cols[-1].depth
    ('L1T_PFPart_fUniqueID', 'L1T_Vertex_SumPT2', 1)
    """
    out: list[Column] = []
    for coll in ("PFPart", "PUPPIPart"):
        out += _cols(f"{view}_{coll}", _PARTICLE_FIELDS)
    out += _cols(f"{view}_Electron", [*_LEPTON_FIELDS, _EHAD, *_ISOLATION_FIELDS])
    out += _cols(f"{view}_MuonTight", [*_LEPTON_FIELDS, *_ISOLATION_FIELDS])
    if standalone_muons is not None:
        out += _cols(f"{view}_{standalone_muons}", _STANDALONE_MUON_FIELDS)
    out += _cols(
        f"{view}_PhotonTight",
        [
            *_PT_ETA_PHI,
            _EHAD,
            *_ISOLATION_FIELDS,
        ],
    )
    for name in jet_names:
        out += _jet_columns(f"{view}_{name}")
    for coll in ("MET", "PUPPIMET"):
        out += _cols(
            f"{view}_{coll}",
            [
                ("MET", "float16", "GeV", "missing transverse momentum"),
                ("Eta", "float16", "", "pseudorapidity of minus the visible momentum sum"),
                ("Phi", "float16", "rad", "azimuth of the missing momentum"),
            ],
        )
    out += _cols(
        f"{view}_Rho",
        [("Rho", "float32", "GeV", "pileup pT density per unit area, one per region")],
    )
    out += _cols(f"{view}_ScalarHT", [("HT", "float32", "GeV", "scalar sum of pT")])
    out += _cols(
        f"{view}_Vertex",
        [
            ("Index", "int32", "", "reconstruction order", False),
            ("X", "float32", "mm", "beam-spot x", False),
            ("Y", "float32", "mm", "beam-spot y", False),
            ("Z", "float32", "mm", "weighted mean z of the tracks", False),
            ("T", "float32", "s", "mean track time (0: the view measures no time)", False),
            ("NDF", "int32", "", "2 x tracks - 3", False),
            ("SumPT2", "float32", "GeV^2", "sum of the tracks' pT^2", False),
        ],
    )
    return tuple(out)


#: Pre-cut view collections: name -> (the full collection, entries kept per event).
PRECUT_COLLECTIONS: Mapping[str, tuple[str, int]] = MappingProxyType(
    {"PUPPIPart128": ("PUPPIPart", 128)}
)


def precut_columns(view: str) -> tuple[Column, ...]:
    """Columns of a view's pre-cut collections (:data:`PRECUT_COLLECTIONS`), written only on request.

    Same fields, dtypes and units as the full collection; the meaning says which
    entries are kept.

    >>> cols = precut_columns("L1T")
    >>> cols[3].name, cols[3].unit, cols[3].collide, len(cols)
    ('L1T_PUPPIPart128_PT', 'GeV', False, 15)
    """
    out: list[Column] = []
    for name, (full, k) in PRECUT_COLLECTIONS.items():
        for field, dtype, unit, doc in _PARTICLE_FIELDS:
            note = f"{doc}; the {k} highest-pT entries of {view}_{full}"
            out.append(Column(f"{view}_{name}_{field}", dtype, unit, note, collide=False))
    return tuple(out)


#: Detector-element collections of a view (machine-learned particle flow), written only on request.
ELEMENT_COLLECTIONS: tuple[str, ...] = ("Track", "Tower", "TowerContrib")

_TRACK_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("PT", "float32", "GeV", "measured transverse momentum"),
    ("Eta", "float32", "", "pseudorapidity at the vertex"),
    ("Phi", "float32", "rad", "azimuth at the vertex"),
    ("Charge", "int8", "e", "electric charge"),
    ("P", "float32", "GeV", "measured momentum, PT cosh(Eta)"),
    ("D0", "float32", "mm", "transverse impact parameter"),
    ("DZ", "float32", "mm", "longitudinal impact parameter"),
    ("ErrorPT", "float32", "GeV", "resolution of PT (the card's)"),
    ("ErrorD0", "float32", "mm", "resolution of D0"),
    ("ErrorDZ", "float32", "mm", "resolution of DZ"),
    ("EtaOuter", "float32", "", "pseudorapidity of the impact point on the calorimeter surface"),
    ("PhiOuter", "float32", "rad", "azimuth of the impact point on the calorimeter surface"),
    ("GenIndex", "int32", "", "truth: the particle's index in the event's Gen_Part"),
    ("IsPU", "int8", "", "truth: 1 if the particle comes from a pileup collision"),
)

_TOWER_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("E", "float32", "GeV", "measured energy, Eem + Ehad"),
    ("ET", "float32", "GeV", "measured transverse energy, E / cosh(Eta)"),
    ("Eem", "float32", "GeV", "measured ECAL energy (the ECAL towers inside this HCAL tower)"),
    ("Ehad", "float32", "GeV", "measured HCAL energy"),
    ("Ehf", "float32", "GeV", "E of a forward (HF) tower, 0 elsewhere"),
    ("Eta", "float32", "", "pseudorapidity of the tower centre"),
    ("Phi", "float32", "rad", "azimuth of the tower centre"),
    ("X", "float32", "mm", "x of the tower centre on the calorimeter surface"),
    ("Y", "float32", "mm", "y of the tower centre on the calorimeter surface"),
    ("Z", "float32", "mm", "z of the tower centre on the calorimeter surface"),
    ("NParticles", "int32", "", "truth: generator particles that deposit energy in the tower"),
    ("ETrue", "float32", "GeV", "truth: sum of the true deposits (ECAL + HCAL)"),
    ("PUFraction", "float32", "", "truth: sum(IsPU x E) / sum(E) over the true deposits"),
)

_TOWER_CONTRIB_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("Tower", "int32", "", "truth: index of the tower in the event's <View>_Tower"),
    ("GenIndex", "int32", "", "truth: the particle's index in the event's Gen_Part"),
    ("E", "float32", "GeV", "truth: the particle's deposited energy in the tower"),
)


def element_columns(view: str) -> tuple[Column, ...]:
    """Columns of a view's detector-element collections (:data:`ELEMENT_COLLECTIONS`), written only on request.

    >>> cols = element_columns("FullReco")
    >>> cols[0].name, cols[0].dtype, cols[-1].name, len(cols)
    ('FullReco_Track_PT', 'float32', 'FullReco_TowerContrib_E', 30)
    """
    out: list[Column] = []
    fields = (_TRACK_FIELDS, _TOWER_FIELDS, _TOWER_CONTRIB_FIELDS)
    for name, spec in zip(ELEMENT_COLLECTIONS, fields, strict=True):
        for field, dtype, unit, doc in spec:
            out.append(Column(f"{view}_{name}_{field}", dtype, unit, doc, collide=False))
    return tuple(out)


def gen_object_columns(jet_names: Sequence[str]) -> tuple[Column, ...]:
    """Generator-level objects shared by the views: the truth jets named by the front-end card, and MET.

    >>> [c.name for c in gen_object_columns(["Gen_JetAK4"])][:2]
    ['Gen_JetAK4_PT', 'Gen_JetAK4_Eta']
    """
    out: list[Column] = []
    for name in jet_names:
        out += _cols(name, _JET_MOMENTUM)
    out += _cols(
        "Gen_MissingET",
        [
            ("MET", "float16", "GeV", "minus the vector sum of visible non-pileup particles"),
            ("Eta", "float16", "", "its pseudorapidity"),
            ("Phi", "float16", "rad", "its azimuth"),
        ],
    )
    return tuple(out)


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Arrow schema of *columns*, in order."""
    return pa.schema([pa.field(c.name, c.arrow_type(), nullable=False) for c in columns])
