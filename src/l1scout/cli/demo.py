"""``l1scout demo``: the main job on embedded defaults (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from l1scout.cli._common import console, handle_errors
from l1scout.cli.pipeline import TrackingUri, run_anomaly

__all__ = ["demo"]


def demo(
    out: Annotated[Path, typer.Option(help="Where the demo writes everything.")] = Path(
        "demo-output"
    ),
    tracking_uri: TrackingUri = None,
) -> None:
    """The anomaly-trigger pipeline on embedded defaults: zero bias and signals at pileup 200 (L1T), models with a beta scan, efficiencies at trigger rates, MLflow registry, ONNX and hls4ml firmware."""
    with handle_errors():
        from l1scout.tasks.anomaly.pipeline_config import demo_config

        config = demo_config()
        console.print(
            f"l1scout demo: the anomaly-trigger pipeline {config.name!r} "
            f"({config.data.zero_bias.events} zero-bias events, {len(config.data.signals)} signals, "
            f"pileup {config.data.pileup:g}) into {out}",
            highlight=False,
        )
        run_anomaly(config, out, None, tracking_uri)
        console.print("runs: l1scout mlflow-ui   (then open the printed address)")
