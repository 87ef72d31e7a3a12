"""The process catalog: COLLIDE-2V process names, their Pythia 8 settings, BSM signals."""

from l1scout.processes.catalog import GROUPS, Catalog, ProcessSpec, Tune, load_catalog

__all__ = ["GROUPS", "Catalog", "ProcessSpec", "Tune", "load_catalog"]
