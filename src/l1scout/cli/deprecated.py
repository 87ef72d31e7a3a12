"""The commands ``l1scout run`` replaces, kept for one release: ``pipeline anomaly`` and ``recalib``.

Each prints one deprecation line on stderr, then does what ``l1scout run``
does with the same values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from l1scout.cli._common import ConfigArg, DataDir, NoFirmware, OutDir, TrackingUri, warn
from l1scout.cli.run import run_task

__all__ = ["pipeline_anomaly", "pipeline_app", "recalib"]

pipeline_app = typer.Typer(
    help="Deprecated: use `l1scout run TASK`.", no_args_is_help=True, hidden=True
)


def _deprecated(old: str, new: str) -> None:
    warn(f"`l1scout {old}` is deprecated; use `l1scout {new}`")


@pipeline_app.command("anomaly")
def pipeline_anomaly(
    config: ConfigArg = None,
    out: OutDir = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="The former name of `l1scout run`'s --data."),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Deprecated: use `l1scout run anomaly`."""
    _deprecated("pipeline anomaly", "run anomaly")
    run_task("anomaly", config, out, data_dir, tracking_uri)


def recalib(
    config: ConfigArg = None,
    out: OutDir = None,
    data: DataDir = None,
    tracking_uri: TrackingUri = None,
    no_firmware: NoFirmware = False,
) -> None:
    """Deprecated: use `l1scout run recalib`."""
    _deprecated("recalib", "run recalib")
    run_task("recalib", config, out, data, tracking_uri, no_firmware)
