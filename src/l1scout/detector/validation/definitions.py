"""The bins, cuts and collections of the detector validation, in one place.

Reading (:mod:`~l1scout.detector.validation.reading`), measuring
(:mod:`~l1scout.detector.validation.accumulator`), checking
(:mod:`~l1scout.detector.validation.checks`) and plotting
(:mod:`~l1scout.detector.validation.plots`) all use these, so a bin or a cut
is changed here once.

Example:
    >>> [j.reco for j in JETS if j.gen == "Gen_JetAK8"]
    ['JetAK8', 'JetPuppiAK8']
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from l1scout._types import F64

__all__ = [
    "CENTRAL_ETA",
    "COUNTED",
    "EFF_ETA_EDGES",
    "EFF_PT_EDGES",
    "ETA_TOLERANCE",
    "FAT_JET_PT_EDGES",
    "JETS",
    "JET_ETA_MAX",
    "JET_PT_EDGES",
    "L1T_ETA_MAX",
    "L1T_MAX_CANDIDATES",
    "L1T_PT_MIN",
    "MUON_MATCH_DR",
    "MUON_PT_EDGES",
    "MUON_TABLE_PT",
    "PROMPT_MM",
    "PUPPI_GROUPS",
    "PUPPI_PU_OVER_PV_MAX",
    "PUPPI_W_EDGES",
    "PV_WINDOW_MM",
    "RES_PT_EDGES",
    "SPECIES",
    "STANDALONE_FIELDS",
    "JetStudy",
]

#: Track-efficiency bins: pT (GeV, |eta| < 2.4) and eta (pT > 2 GeV).
EFF_PT_EDGES: F64 = np.array(
    [0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.5, 8.0, 10.0, 15.0, 25.0, 50.0, 100.0]
)
EFF_ETA_EDGES: F64 = np.linspace(-4.0, 4.0, 33)
#: Track-resolution bins in generator pT (GeV).
RES_PT_EDGES: F64 = np.array([1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0])
#: Standalone Level-1 muon bins in generator pT (GeV): the turn-on at 3-5 GeV, then the plateau.
MUON_PT_EDGES: F64 = np.array(
    [2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 70.0, 100.0, 200.0, 500.0]
)
#: The generator-pT window (GeV) of the standalone muons' table numbers.
MUON_TABLE_PT = (10.0, 50.0)
#: Generator muons match standalone Level-1 muons within this Delta R at the second station.
MUON_MATCH_DR = 0.3
#: The standalone Level-1 muon fields the validation reads (``<View>_<collection>_<field>``).
STANDALONE_FIELDS = ("PT", "Eta", "Phi", "Charge")
#: Jet bins in generator pT (GeV): AK4 and AK8.
JET_PT_EDGES: F64 = np.array([20.0, 30.0, 50.0, 80.0, 120.0, 200.0, 500.0])
FAT_JET_PT_EDGES: F64 = np.array([200.0, 300.0, 400.0, 600.0, 1000.0])
#: PUPPI-weight histogram bins.
PUPPI_W_EDGES: F64 = np.linspace(0.0, 1.0, 51)
#: Acceptance of the jet study: the L1T tracker.
JET_ETA_MAX = 2.4
#: Central tracks of the table numbers.
CENTRAL_ETA = 1.2
#: A particle is prompt if produced within this distance of the hard-scatter vertex (mm).
PROMPT_MM = 0.01
#: PV identified when the leading vertex is this close to the true one (mm).
PV_WINDOW_MM = 1.0
#: L1T requirements checked on the files (the L1T card's acceptance and cap).
L1T_PT_MIN, L1T_ETA_MAX, L1T_MAX_CANDIDATES = 2.0, 2.4, 1000
#: Float16 spacing near |eta| = 2.4 is 2^-9; allow for the rounding of the stored Eta.
ETA_TOLERANCE = 0.005
#: "PUPPI removes pileup": the PU pT share kept is below this fraction of the PV one.
PUPPI_PU_OVER_PV_MAX = 0.25

#: The species of the tracking efficiency, in the order of
#: :func:`l1scout.detector.validation.metrics.species` codes.
SPECIES = ("electron", "muon", "charged_hadron")
#: The PUPPI-weight histograms: charged or neutral, primary (pv) or pileup (pu) candidates.
PUPPI_GROUPS = ("charged_pv", "charged_pu", "neutral_pv", "neutral_pu")
#: The view collections counted per event (their ``PT`` column).
COUNTED = ("PFPart", "PUPPIPart", "Electron", "MuonTight", "PhotonTight")


class JetStudy(NamedTuple):
    """One reco jet collection measured against its generator jets.

    Attributes:
        reco: the view's jet collection (``JetPuppiAK4``).
        gen: the generator jets (``Gen_JetAK4``).
        max_dr: the matching cone (Delta R).
        edges: the generator-pT bins (GeV).
        table_bin: the (low, high) generator-pT bin of the table numbers (GeV).
    """

    reco: str
    gen: str
    max_dr: float
    edges: F64
    table_bin: tuple[float, float]


#: The jet studies, each measured where the files hold both collections.
JETS = (
    JetStudy("JetAK4", "Gen_JetAK4", 0.2, JET_PT_EDGES, (50.0, 80.0)),
    JetStudy("JetPuppiAK4", "Gen_JetAK4", 0.2, JET_PT_EDGES, (50.0, 80.0)),
    JetStudy("JetAK8", "Gen_JetAK8", 0.4, FAT_JET_PT_EDGES, (300.0, 400.0)),
    JetStudy("JetPuppiAK8", "Gen_JetAK8", 0.4, FAT_JET_PT_EDGES, (300.0, 400.0)),
)
