"""Sources: files, folders, globs and lists of them to Parquet files; a hub id told from a path.

:func:`resolve_paths` turns what :func:`l1scout.io.dataset.open_dataset`
accepts (:data:`Source`) into the Parquet files to read: a file as it is, a
folder searched recursively for ``*.parquet`` (:func:`parquet_files`, hidden
names skipped), a glob, or a list of these, in order and without repeats.
:func:`goes_to_hub` tells a hub dataset id (``owner/name``, when it is not an
existing local path) from a local source; only a plain ``str`` can be one, so a
:data:`LocalSource` (a path, a list or tuple) is local by its type.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from l1scout.errors import ConfigError

__all__ = ["LocalSource", "Source", "goes_to_hub", "parquet_files", "resolve_paths"]

#: What :func:`~l1scout.io.dataset.open_dataset` accepts: a file, a folder, a glob, a hub id, or a list of paths.
Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

#: The sources that are local by their type alone (a plain ``str`` may be a hub id): a path,
#: paths, a list or tuple of names.
LocalSource = (
    os.PathLike[str]
    | Sequence[os.PathLike[str]]
    | list[str]
    | list[str | os.PathLike[str]]
    | tuple[str | os.PathLike[str], ...]
)

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_GLOB_CHARS = frozenset("*?[")


def parquet_files(folder: Path) -> list[Path]:
    """The ``*.parquet`` files under *folder* (recursive, hidden names skipped), sorted."""
    return sorted(
        p
        for p in folder.rglob("*.parquet")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def resolve_paths(source: Source) -> list[Path]:
    """The Parquet files of a local *source*, in order, each once.

    Raises:
        ConfigError: an empty list, a folder without ``.parquet`` files, a glob
            that matches no file, or a path that does not exist.
    """
    if isinstance(source, str | os.PathLike):
        items: list[str | os.PathLike[str]] = [source]
    else:
        items = list(source)
        if not items:
            msg = "source: an empty list of files"
            raise ConfigError(msg)
    out: list[Path] = []
    for item in items:
        path = Path(item)
        text = os.fspath(item)
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            found = parquet_files(path)
            if not found:
                msg = f"{path}: the folder holds no .parquet file"
                raise ConfigError(msg)
            out += found
        elif _GLOB_CHARS & set(text):
            pattern = Path(text)
            base = Path(pattern.anchor) if pattern.is_absolute() else Path()
            rel = str(pattern.relative_to(pattern.anchor)) if pattern.is_absolute() else text
            found = sorted(p for p in base.glob(rel) if p.is_file())
            if not found:
                msg = f"{text}: the pattern matches no file"
                raise ConfigError(msg)
            out += found
        else:
            msg = f"{text}: no such file or folder"
            raise ConfigError(msg)
    return list(dict.fromkeys(out))


def goes_to_hub(source: Source, hub: bool | None) -> bool:
    """Whether *source* is streamed from the hub: *hub* if given, else a str ``owner/name`` not on disk.

    >>> goes_to_hub("fastmachinelearning/collide-1m", None), goes_to_hub("data/*.parquet", None)
    (True, False)
    """
    if hub is not None:
        return hub
    if not isinstance(source, str) or _GLOB_CHARS & set(source):
        return False
    return not Path(source).exists() and bool(_REPO_ID.match(source))
