"""Schema, Parquet writing and reading, file summaries."""

from l1scout.io.inspect import FileSummary, inspect_file
from l1scout.io.parquet import AtomicParquetWriter
from l1scout.io.schema import EVENT_COLUMNS, GEN_COLUMNS, Column, arrow_schema

__all__ = [
    "EVENT_COLUMNS",
    "GEN_COLUMNS",
    "AtomicParquetWriter",
    "Column",
    "FileSummary",
    "arrow_schema",
    "inspect_file",
]
