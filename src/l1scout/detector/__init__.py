"""Detector cards (data files, one per view) and the detector simulation.

The front-end card (pileup, truth jets) and the view cards (``FullReco``,
``L1T`` or a user's) are validated data; the simulation stages are small
vectorised functions: propagation in the field, tracking, calorimeters.
Reconstruction (particle flow, PUPPI, jets, ...) lives in :mod:`l1scout.reco`.
"""

from l1scout.detector.card import FrontendCard, TruthJetSpec, load_frontend_card
from l1scout.detector.param import BinnedFunction
from l1scout.detector.particles import GenParticles
from l1scout.detector.view_card import VIEW_NAMES, ViewCard, load_view_card

__all__ = [
    "VIEW_NAMES",
    "BinnedFunction",
    "FrontendCard",
    "GenParticles",
    "TruthJetSpec",
    "ViewCard",
    "load_frontend_card",
    "load_view_card",
]
