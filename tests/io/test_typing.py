"""The types of ``open_dataset``: a local source gives a Dataset, a hub source a HubDataset.

``typing.assert_type`` and annotations do nothing at run time, and the project's
mypy run covers ``src/l1scout`` only, so the typed helpers below are checked
twice: at run time (``isinstance``) and by mypy, which
:func:`test_mypy_accepts_the_overloads` runs on this very file. The
``# type: ignore[assignment]`` lines are the negative checks: mypy (strict, so
unused ignores are errors) fails if one of them is not needed any more.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import assert_type

import pytest

from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.hub import HubDataset

ROOT = Path(__file__).resolve().parents[2]


def _local_sources(path: Path) -> list[Dataset]:
    """Every spelling of a local source that its type alone makes local: typed Dataset."""
    by_path: Dataset = open_dataset(path)
    by_list: Dataset = open_dataset([path])
    by_names: Dataset = open_dataset([str(path)])
    by_tuple: Dataset = open_dataset((str(path), path))
    by_str: Dataset = open_dataset(str(path), hub=False)
    selected = assert_type(open_dataset(path, columns=["Event_Number"], chunk_size=5), Dataset)
    return [by_path, by_list, by_names, by_tuple, by_str, selected]


def _hub_source(root: Path) -> HubDataset:
    hub: HubDataset = open_dataset(root, hub=True, columns=["Event_Number"])
    return hub


def _plain_str(source: str) -> Dataset | HubDataset:
    """A plain str may be a path or a hub id (``owner/name``): only run time tells them apart."""
    return assert_type(open_dataset(source), Dataset | HubDataset)


def _not_typed_as_dataset(source: str, root: Path, flag: bool) -> None:
    """The negative checks (never called): mypy must refuse each of these assignments."""
    plain: Dataset = open_dataset(source)  # type: ignore[assignment]
    hub: Dataset = open_dataset(root, hub=True)  # type: ignore[assignment]
    unknown: Dataset = open_dataset(root, hub=flag)  # type: ignore[assignment]
    local: HubDataset = open_dataset(root)  # type: ignore[assignment]
    del plain, hub, unknown, local


def test_local_sources_are_datasets(reader_l1scout_file: Path) -> None:
    for ds in _local_sources(reader_l1scout_file):
        assert isinstance(ds, Dataset)
        assert ds.n_events == 20
    assert isinstance(_plain_str(str(reader_l1scout_file)), Dataset)


@pytest.mark.slow
def test_a_hub_source_is_a_hub_dataset(tmp_path: Path, reader_collide2v_file: Path) -> None:
    (tmp_path / "ttbar").mkdir()
    shutil.copy(reader_collide2v_file, tmp_path / "ttbar" / reader_collide2v_file.name)
    hub = _hub_source(tmp_path)
    assert isinstance(hub, HubDataset)
    assert hub.processes == ("ttbar",)


@pytest.mark.slow
def test_mypy_accepts_the_overloads(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    # the project's config (strict); other modules are followed silently (their errors are theirs)
    env = {**os.environ, "MYPYPATH": str(ROOT / "src")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(Path(__file__).resolve()),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
