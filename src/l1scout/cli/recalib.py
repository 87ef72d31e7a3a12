"""``l1scout recalib``: the L1 re-calibration study of seed 003 from a study file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from l1scout.cli._common import handle_errors, progress_bars

__all__ = ["recalib"]


def recalib(
    config: Annotated[
        Path,
        typer.Argument(help="A study file (TOML), e.g. examples/recalib/default.toml."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Folder for the report, the ONNX models and the firmware."
        ),
    ] = Path("recalib-output"),
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Folder where the event samples are made or found (default: OUT/data)."
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            help="MLflow tracking URI (default: the study's, $MLFLOW_TRACKING_URI, or ./mlruns).",
        ),
    ] = None,
    no_firmware: Annotated[
        bool, typer.Option("--no-firmware", help="Skip the hls4ml emulation of the small network.")
    ] = False,
) -> None:
    """Re-calibrate L1 muons and jets toward offline: networks vs Nystrom kernel ridge regression."""
    with handle_errors():
        from l1scout.tasks.recalib.config import load_config
        from l1scout.tasks.recalib.report import ops_rich, rmse_rich
        from l1scout.tasks.recalib.study import run_study

        study = load_config(config)
        with progress_bars() as update:
            result = run_study(
                study,
                out,
                update,
                data_dir=data,
                tracking_uri=tracking_uri,
                firmware=False if no_firmware else None,
            )
        console = Console()
        if not console.is_terminal:  # a file or a pipe: no terminal width to fit
            console = Console(width=160)
        for table in result.tables.values():
            console.print(rmse_rich(table))
        console.print(ops_rich(result.ops_rows()))
        for line in result.summary():
            console.print(line, highlight=False)
        console.print(f"report: [bold]{result.report}[/]", highlight=False)
