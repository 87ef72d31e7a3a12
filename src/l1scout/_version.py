"""The l1scout version, read by hatchling and written into every file's metadata."""

__version__ = "0.1.0"
