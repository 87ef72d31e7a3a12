"""Detector cards (data files, one per view) and the detector simulation."""

from l1scout.detector.card import FrontendCard, PileupSpec, load_frontend_card

__all__ = ["FrontendCard", "PileupSpec", "load_frontend_card"]
