"""The recalib task of ``l1scout run``: the L1 re-calibration study (docs/physics/l1-algorithms.md) from a study file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from l1scout.cli._common import RunOptions, progress_bars, stdout
from l1scout.errors import ConfigError

if TYPE_CHECKING:
    from l1scout.tasks.recalib.config import RecalibConfig
    from l1scout.tasks.recalib.results import StudyResult

__all__ = ["load_recalib", "run_recalib"]


def load_recalib(path: Path | None) -> RecalibConfig:
    """The study file at *path* (the task has no embedded defaults)."""
    from l1scout.tasks.recalib.config import load_config

    if path is None:
        msg = "recalib needs a study file (TOML), e.g. examples/recalib/tiny.toml"
        raise ConfigError(msg)
    return load_config(path)


def run_recalib(study: RecalibConfig, options: RunOptions) -> StudyResult:
    """Run the study with progress bars; print its RMSE and operations tables and its summary."""
    from l1scout.tasks.recalib.report import ops_rich, rmse_rich
    from l1scout.tasks.recalib.study import run_study

    with progress_bars() as update:
        result = run_study(
            study,
            options.out,
            update,
            data_dir=options.data,
            tracking_uri=options.tracking_uri,
            firmware=options.firmware,
        )
    console = stdout
    if not console.is_terminal:  # a file or a pipe: no terminal width to fit
        console = Console(width=160, soft_wrap=True)
    for table in result.tables.values():
        console.print(rmse_rich(table))
    console.print(ops_rich(result.ops_rows()))
    for line in result.summary():
        console.print(line, highlight=False)
    console.print(f"report: [bold]{result.report}[/]", highlight=False)
    return result
