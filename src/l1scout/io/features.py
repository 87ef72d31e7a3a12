"""Feature builders for machine learning on event chunks: one import for all of them.

Each builder reads a chunk of events (an ``ak.Array`` of records whose fields
are canonical column names, as :mod:`l1scout.io.dataset` yields, or a plain
mapping from names to arrays) and returns dense float32 numpy arrays, with
whole-array numpy operations (no loop over events):

* :func:`trigger_inputs`: the 57 inputs of the Level-1 anomaly-detection
  trigger (:mod:`l1scout.io.trigger_inputs`);
* :func:`particle_set`: the k highest-pT particles with a mask and truth labels
  (:mod:`l1scout.io.particle_sets`);
* :func:`jets_with_constituents`: jets with their highest-pT constituents
  (:mod:`l1scout.io.jet_sets`).

Each has a ``*_columns`` companion that names the columns it reads, to pass to
the reader. The FPGA-friendly scalers are in :mod:`l1scout.io.scalers`.

Example:
    >>> len(trigger_input_columns()), len(trigger_input_names())
    (14, 57)
"""

from __future__ import annotations

from l1scout.io.jet_sets import (
    CONSTITUENT_FEATURES,
    JET_FEATURES,
    JetSet,
    jet_constituent_columns,
    jet_particles,
    jets_with_constituents,
)
from l1scout.io.particle_sets import (
    PARTICLE_FEATURES,
    PARTICLE_TYPES,
    ParticleSet,
    particle_set,
    particle_set_columns,
)
from l1scout.io.trigger_inputs import (
    N_TRIGGER_INPUTS,
    TRIGGER_OBJECTS,
    trigger_input_columns,
    trigger_input_names,
    trigger_inputs,
)

__all__ = [
    "CONSTITUENT_FEATURES",
    "JET_FEATURES",
    "N_TRIGGER_INPUTS",
    "PARTICLE_FEATURES",
    "PARTICLE_TYPES",
    "TRIGGER_OBJECTS",
    "JetSet",
    "ParticleSet",
    "jet_constituent_columns",
    "jet_particles",
    "jets_with_constituents",
    "particle_set",
    "particle_set_columns",
    "trigger_input_columns",
    "trigger_input_names",
    "trigger_inputs",
]
