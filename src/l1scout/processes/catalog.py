"""The process catalog: COLLIDE-2V processes and new-physics signals as data.

The catalog is one TOML file (``catalog.toml`` beside this module). Each entry
has a COLLIDE name, a one-line description, a group label for classification,
the Pythia 8 settings that generate it, and a note on how our Pythia-only
version differs from COLLIDE's MadGraph production. Settings are handed to
Pythia's own parser (``Pythia.readString``); Python never evaluates them.

Example:
    >>> cat = load_catalog()
    >>> cat.get("minbias").group
    'soft'
    >>> cat.get("minbiass")
    Traceback (most recent call last):
    ...
    l1scout.errors.UnknownProcessError: unknown process 'minbiass'; did you mean 'minbias', 'minbias_inelastic'? ...
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from l1scout._datafile import load_toml_model
from l1scout.errors import CatalogError, UnknownProcessError

__all__ = [
    "DEFAULT_CATALOG",
    "GROUPS",
    "RESERVED_SETTING_PREFIXES",
    "Catalog",
    "ProcessSpec",
    "Tune",
    "load_catalog",
]

DEFAULT_CATALOG = Path(__file__).with_name("catalog.toml")

Group = Literal[
    "soft",
    "QCD",
    "V+jets",
    "photon",
    "quarkonium",
    "top",
    "diboson",
    "triboson",
    "Higgs",
    "di-Higgs",
    "BSM",
]
GROUPS: tuple[str, ...] = Group.__args__  # type: ignore[attr-defined]

# Settings that l1scout itself controls for every process: the beams, the tune,
# the random seed, and Pythia's printing. A catalog entry may not override them.
RESERVED_SETTING_PREFIXES: tuple[str, ...] = (
    "Beams:",
    "Random:",
    "Next:",
    "Init:",
    "Print:",
    "Tune:",
    "Main:",
)

# "Key = value" where Key is a Pythia setting ("HardQCD:all") or particle data
# ("25:m0", "25:onIfMatch"); value is anything Pythia's parser accepts.
_SETTING_RE = re.compile(r"^\s*[A-Za-z0-9_]+:[^\s=]+\s*=\s*\S.*$")

ProcessName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
OneLine = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\n]+$")]


def _check_form(value: str) -> str:
    if not _SETTING_RE.match(value):
        msg = f"a Pythia setting must read 'Key = value' (e.g. 'HardQCD:all = on'), got {value!r}"
        raise ValueError(msg)
    return value.strip()


def _check_setting(value: str) -> str:
    _check_form(value)
    key = value.split("=", 1)[0].strip()
    for prefix in RESERVED_SETTING_PREFIXES:
        if key.lower().startswith(prefix.lower()):
            msg = f"setting {key!r} is controlled by l1scout (beams, tune, seed, printing)"
            raise ValueError(msg)
    return value.strip()


ProcessSetting = Annotated[str, AfterValidator(_check_setting)]
TuneSetting = Annotated[str, AfterValidator(_check_form)]


class Tune(BaseModel):
    """A named set of Pythia settings applied to every process (e.g. CMS CP5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: OneLine
    reference: OneLine
    settings: tuple[TuneSetting, ...] = Field(min_length=1)


class ProcessSpec(BaseModel):
    """One catalog entry.

    Attributes:
        name: the COLLIDE-2V folder name (or the l1scout name of a new signal).
        description: one line for tables.
        group: the class label for event classification.
        in_collide: whether COLLIDE-2V has (or plans) this folder.
        collide_million_events: COLLIDE-2V's production size, where published.
        settings: Pythia 8 ``readString`` lines, applied after the tune.
        differences: how our Pythia-only version differs from COLLIDE's.
        parameters: physics parameters of a signal (masses in GeV, lifetimes in mm).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ProcessName
    description: OneLine
    group: Group
    in_collide: bool
    collide_million_events: float | None = Field(default=None, gt=0)
    settings: tuple[ProcessSetting, ...] = Field(min_length=1)
    differences: OneLine
    parameters: dict[str, float | int | str | bool] = Field(default_factory=dict)


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1]
    beams: tuple[str, ...] = Field(min_length=1)
    default_tune: str
    tunes: dict[str, Tune] = Field(min_length=1)
    process: tuple[ProcessSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> _CatalogFile:
        if self.default_tune not in self.tunes:
            msg = f"default_tune {self.default_tune!r} is not one of the tunes {sorted(self.tunes)}"
            raise ValueError(msg)
        seen: set[str] = set()
        for spec in self.process:
            if spec.name in seen:
                msg = f"process name {spec.name!r} appears twice"
                raise ValueError(msg)
            seen.add(spec.name)
        return self


class Catalog:
    """A read-only mapping from process name to :class:`ProcessSpec`, plus the tunes."""

    def __init__(self, data: _CatalogFile, source: Path) -> None:
        self._data = data
        self.source = source
        self._by_name = {spec.name: spec for spec in data.process}

    def __iter__(self) -> Iterator[ProcessSpec]:
        return iter(self._data.process)

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        """All process names, in catalog order."""
        return list(self._by_name)

    def get(self, name: str) -> ProcessSpec:
        """The entry called *name*; an unknown name raises with the closest names."""
        try:
            return self._by_name[name]
        except KeyError:
            lowered = {n.lower(): n for n in self._by_name}
            close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
            raise UnknownProcessError(name, [lowered[c] for c in close]) from None

    @property
    def beams(self) -> tuple[str, ...]:
        """Beam settings shared by every process (14 TeV pp)."""
        return self._data.beams

    @property
    def default_tune(self) -> str:
        """Name of the tune used unless another is asked for."""
        return self._data.default_tune

    def tune(self, name: str | None = None) -> Tune:
        """The tune called *name* (default: the catalog's default tune)."""
        key = name or self._data.default_tune
        try:
            return self._data.tunes[key]
        except KeyError:
            msg = f"unknown tune {key!r}; the catalog has {sorted(self._data.tunes)}"
            raise CatalogError(msg) from None


@lru_cache(maxsize=8)
def _load_cached(path: Path) -> Catalog:
    return Catalog(load_toml_model(path, _CatalogFile, CatalogError), path)


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Load and validate a catalog file (default: the one shipped with l1scout).

    Raises:
        CatalogError: the file is unreadable or malformed; the message names the
            file and the field, e.g. ``process[3].settings[1]``.
    """
    return _load_cached(Path(path).resolve() if path is not None else DEFAULT_CATALOG)
