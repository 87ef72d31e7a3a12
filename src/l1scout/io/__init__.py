"""Schema, Parquet writing and reading (ours, COLLIDE-2V, COLLIDE-1m, the hub), features.

Reading: :func:`~l1scout.io.dataset.open_dataset` (:mod:`l1scout.io.dataset`)
gives a local :class:`Dataset` or a :class:`HubDataset` (:mod:`l1scout.io.hub`);
both readers build on :mod:`l1scout.io.paths` (sources to files),
:mod:`l1scout.io.footer` (a file's footer as a :class:`DataFile`),
:mod:`l1scout.io.selection` (processes, views, collections, columns) and
:mod:`l1scout.io.convert` (Arrow to awkward with canonical names), over the
alias table of :mod:`l1scout.io.aliases`.

``l1scout.io.torchdata`` (PyTorch datasets) is imported on its own so that
``import l1scout.io`` never imports torch.
"""

from l1scout.io.aliases import SchemaKind
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.features import (
    JetSet,
    ParticleSet,
    jets_with_constituents,
    particle_set,
    trigger_inputs,
)
from l1scout.io.footer import DataFile
from l1scout.io.hub import HubDataset
from l1scout.io.inspect import FileSummary, inspect_file
from l1scout.io.parquet import AtomicParquetWriter
from l1scout.io.scalers import PowerOfTwoRobustScaler, StandardScaler
from l1scout.io.schema import EVENT_COLUMNS, GEN_COLUMNS, Column, arrow_schema

__all__ = [
    "EVENT_COLUMNS",
    "GEN_COLUMNS",
    "AtomicParquetWriter",
    "Column",
    "DataFile",
    "Dataset",
    "FileSummary",
    "HubDataset",
    "JetSet",
    "ParticleSet",
    "PowerOfTwoRobustScaler",
    "SchemaKind",
    "StandardScaler",
    "arrow_schema",
    "inspect_file",
    "jets_with_constituents",
    "open_dataset",
    "particle_set",
    "trigger_inputs",
]
