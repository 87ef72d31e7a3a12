"""The l1scout exception hierarchy.

Every error that l1scout raises on bad input or a failed job derives from
:class:`L1ScoutError`, so a caller can catch the domain errors apart from bugs.
Messages name the thing that was wrong and what was expected.
"""

from __future__ import annotations

__all__ = [
    "CardError",
    "CatalogError",
    "ConfigError",
    "DataFormatError",
    "GenerationError",
    "L1ScoutError",
    "ProductionError",
    "UnknownProcessError",
]


class L1ScoutError(Exception):
    """Base class of every error l1scout raises on purpose."""


class ConfigError(L1ScoutError, ValueError):
    """A configuration value is invalid; the message names the field and what was expected."""


class CatalogError(ConfigError):
    """The process catalog file is malformed."""


class UnknownProcessError(ConfigError, KeyError):
    """A process name is not in the catalog.

    Attributes:
        name: the name that was asked for.
        suggestions: the closest catalog names, best first.
    """

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown process {name!r}{hint} (`l1scout processes` lists every name)")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class CardError(ConfigError):
    """A detector card is malformed; the message names the file, the field and what was expected."""


class GenerationError(L1ScoutError, RuntimeError):
    """Event generation failed (Pythia refused a setting, failed to initialise, or ran out)."""


class DataFormatError(L1ScoutError, ValueError):
    """A data file does not have the expected layout, or cannot be read."""


class ProductionError(L1ScoutError, RuntimeError):
    """A dataset production cannot start or go on; the message says why and what to do.

    Raised for an unwritable output folder, a plan that contradicts the folder's
    manifest, a full disk, or shards that kept failing.
    """
