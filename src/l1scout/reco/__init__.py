"""Reconstruction of a detector view: particle flow, vertices, CHS, PUPPI, rho, leptons, jets, MET.

:func:`simulate_view` runs a view card's whole chain over a batch of generated
events and returns the view's COLLIDE columns; :func:`truth_objects` makes the
generator jets and MET. The kernels (PUPPI, isolation, rho, vertexing) are
pure functions on flat arrays with per-event offsets.
"""

from l1scout.reco.view import simulate_view, truth_objects

__all__ = ["simulate_view", "truth_objects"]
