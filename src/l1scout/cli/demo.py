"""``l1scout demo``: the main job on embedded defaults (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path

from l1scout.cli._common import OutDir, RunOptions, TrackingUri, console, handle_errors
from l1scout.cli.anomaly import load_anomaly, run_anomaly

__all__ = ["demo"]


def demo(out: OutDir = None, tracking_uri: TrackingUri = None) -> None:
    """The anomaly-trigger pipeline on embedded defaults: zero bias and signals at pileup 200 (L1T), models with a beta scan, efficiencies at trigger rates, MLflow registry, ONNX and hls4ml firmware."""
    with handle_errors():
        config = load_anomaly(None)
        folder = out if out is not None else Path("demo-output")
        console.print(
            f"l1scout demo: the anomaly-trigger pipeline {config.name!r} "
            f"({config.data.zero_bias.events} zero-bias events, {len(config.data.signals)} signals, "
            f"pileup {config.data.pileup:g}) into {folder}",
            highlight=False,
        )
        run_anomaly(config, RunOptions(out=folder, tracking_uri=tracking_uri))
        console.print("runs: l1scout mlflow-ui   (then open the printed address)")
