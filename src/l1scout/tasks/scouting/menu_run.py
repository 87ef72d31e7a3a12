"""A menu over orbit files, in one process or on the production package's Dask engines.

:func:`run_menu` runs one task per orbit file (:func:`run_menu_file`): it
opens the file (:func:`l1scout.tasks.scouting.orbit_file.open_orbit_file`),
reads its truth sidecar ``<stem>.truth.parquet`` when there is one, loads the
menu's models once per process, and runs every orbit through
:func:`~l1scout.tasks.scouting.menu.run_menu_on_orbit`. A file that cannot be
read (missing, truncated, a bad index or trailer, a stream the menu needs is
absent) is reported in :attr:`MenuResult.bad_files` with the reason and
contributes nothing else; the other files run. The per-file results are merged
in file order with :meth:`MenuResult.combine`, which is exact (counts add,
tables concatenate in file order, distinct events merge as a sorted set), so a
run on the Dask engines (``local`` cluster, scheduler ``address``, ``slurm``,
``htcondor``; :func:`l1scout.production.engines.dask_map`) gives the result of
one process, field for field (timings aside).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from l1scout.errors import DataFormatError
from l1scout.production.engines import dask_map
from l1scout.production.plan import EngineSpec
from l1scout.tasks.scouting.menu import Menu, MenuModels, load_menu_models, run_menu_on_orbit
from l1scout.tasks.scouting.orbit_file import open_orbit_file
from l1scout.tasks.scouting.orbits import read_truth, truth_path
from l1scout.tasks.scouting.results import MenuResult, OrbitOutcome

__all__ = ["run_menu", "run_menu_file"]

_log = logging.getLogger(__name__)


def _truth_columns(path: Path) -> dict[str, np.ndarray] | None:
    """The truth sidecar of orbit file *path* as numpy columns, or None without one."""
    if not truth_path(path).is_file():
        return None
    table = read_truth(path)
    return {
        "orbit": table["orbit"].to_numpy().astype(np.int64),
        "bx": table["bx"].to_numpy().astype(np.int64),
        "sample": np.asarray(table["sample"].to_pylist(), dtype=object),
        "event": table["event"].to_numpy().astype(np.int64),
        "injected": table["injected"].to_numpy().astype(np.bool_),
    }


def _file_outcomes(path: Path, menu: Menu, models: MenuModels) -> list[OrbitOutcome]:
    """Every orbit of the file through the menu; any unreadable part raises."""
    truth = _truth_columns(path)
    with open_orbit_file(path) as orbit_file:
        missing = [s for s in menu.streams if s not in orbit_file.streams]
        if missing:
            msg = f"{path}: no {missing[0]!r} stream (it has {', '.join(orbit_file.streams)}); the menu reads it"
            raise DataFormatError(msg)
        return [
            run_menu_on_orbit(menu, models, buffers, truth, orbit=number)
            for number, buffers in orbit_file.iter_orbits(streams=menu.streams)
        ]


def run_menu_file(
    path: Path | str,
    menu: Menu,
    *,
    tracking_uri: str | None = None,
    models: Mapping[str, str] | None = None,
    zero_bias: str = "minbias",
) -> MenuResult:
    """The menu on one orbit file; a file that cannot be read gives a result naming it in ``bad_files``.

    The models are loaded first (once per process); a model that cannot be
    loaded raises, as it would fail every file.

    Args:
        path: the ``.l1sorb`` file.
        menu: the menu.
        tracking_uri: the MLflow store of ``models:/`` sources.
        models: selection name -> a model source replacing the menu's.
        zero_bias: the zero-bias sample's name in the truth.
    """
    p = Path(path)
    config = menu.model_dump(mode="json")
    loaded = load_menu_models(menu, tracking_uri=tracking_uri, overrides=models)
    try:
        outcomes = _file_outcomes(p, menu, loaded)
    except (DataFormatError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _log.warning("%s: skipped (%s)", p, reason)
        return MenuResult.from_outcomes(
            menu.names, [], zero_bias=zero_bias, bad_files=[(str(p), reason)], menu=config
        )
    return MenuResult.from_outcomes(
        menu.names, outcomes, zero_bias=zero_bias, files=[str(p)], menu=config
    )


def run_menu(
    files: Sequence[Path | str],
    menu: Menu,
    *,
    engine: EngineSpec | None = None,
    models: Mapping[str, str] | None = None,
    tracking_uri: str | None = None,
    zero_bias: str = "minbias",
    workers: int | None = None,
) -> MenuResult:
    """The menu over orbit files (module docstring), merged in file order.

    Args:
        files: the ``.l1sorb`` files, in order.
        menu: the menu (:func:`~l1scout.tasks.scouting.menu.load_menu`).
        engine: where the files run: None or ``kind = "single"``: this process;
            otherwise one Dask task per file on that engine.
        models: selection name -> a model source (``models:/...`` or an ONNX
            path) replacing the menu's.
        tracking_uri: the MLflow store of ``models:/`` sources.
        zero_bias: the zero-bias sample's name in the truth sidecars.
        workers: worker processes of a ``local`` engine.

    Raises:
        DataFormatError: no file given.
        ProductionError: the Dask scheduler cannot be reached.
    """
    paths = [str(Path(f)) for f in files]
    if not paths:
        msg = "run_menu: expected at least one orbit file, got none"
        raise DataFormatError(msg)
    task = functools.partial(
        run_menu_file, menu=menu, tracking_uri=tracking_uri, models=dict(models or {}) or None,
        zero_bias=zero_bias,
    )  # fmt: skip
    if engine is None or engine.kind == "single":
        parts = [task(p) for p in paths]
    else:
        parts = dask_map(engine, task, paths, workers=workers)
    result = MenuResult.combine(parts)
    _log.info(
        "menu %s: %d orbits of %d files (%d bad), %d BXs evaluated",
        menu.name, result.n_orbits, len(result.files), len(result.bad_files), result.n_bx,
    )  # fmt: skip
    return result
