"""Files written whole or not at all, and their checksums.

Every file l1scout writes goes to a hidden temporary name beside its target,
``.<name>.tmp-<pid>``, is synced, and is renamed into place only when
complete; a killed run leaves at most such a temporary file, which a rerun of
a production removes (:func:`temporary_name` is the one rule for the name).

Example:
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.json"
    >>> atomic_write_bytes(target, b"{}") == target, target.read_bytes()
    (True, b'{}')
    >>> sha256_file(target)[:12]
    '44136fa355b3'
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "atomic_write_bytes", "sha256_file", "temporary_name"]


def temporary_name(path: Path) -> Path:
    """The temporary file a writer of *path* uses: ``.<name>.tmp-<pid>`` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _sync_folder(folder: Path) -> None:
    """Make a rename in *folder* durable, where the file system lets a folder be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write *path* through ``write(fh)`` on a temporary file, sync, rename, sync the folder.

    On any exception the temporary file is removed and *path* is left as it was.

    Returns:
        *path*.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with tmp.open("wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """:func:`atomic_write` of a bytes object."""

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    return atomic_write(path, write)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
