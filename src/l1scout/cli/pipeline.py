"""``l1scout pipeline ...``: whole studies from data to firmware, one subcommand per task."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l1scout.cli._common import console, handle_errors, progress_bars

if TYPE_CHECKING:
    from l1scout.tasks.anomaly.pipeline import PipelineResult
    from l1scout.tasks.anomaly.pipeline_config import PipelineConfig

__all__ = ["TrackingUri", "pipeline_app", "print_result", "run_anomaly"]

TrackingUri = Annotated[
    str | None,
    typer.Option(help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else ./mlruns)."),
]
"""The ``--tracking-uri`` option of the commands that run the anomaly pipeline."""

pipeline_app = typer.Typer(
    help="Whole studies, from data to firmware: data (produced if missing), training with a "
    "scan, rate-based evaluation, MLflow registry, ONNX and hls4ml firmware.",
    no_args_is_help=True,
)


def print_result(result: PipelineResult) -> None:
    """Print the stage wall times, the deployment checks and the report path."""
    from rich.table import Table

    table = Table(title="pipeline stages")
    table.add_column("stage")
    table.add_column("wall time (s)", justify="right")
    for name, seconds in result.stage_seconds.items():
        table.add_row(name, f"{seconds:.1f}")
    table.add_row("total", f"{sum(result.stage_seconds.values()):.1f}")
    console.print(table)
    for dep in result.deployed:
        for key, value in dep.metrics().items():
            console.print(f"  {dep.name} {key}: {value:.6g}", highlight=False)
        if dep.registered:
            console.print(f"  {dep.name} registered as {dep.registered}", highlight=False)
    console.print(f"best model: [bold]{result.best}[/]", highlight=False)
    console.print(f"report: [bold]{result.report}[/]", highlight=False)


def run_anomaly(
    config: PipelineConfig, out: Path, data_dir: Path | None, tracking_uri: str | None
) -> PipelineResult:
    """Run the anomaly pipeline with progress bars (shared by ``pipeline anomaly`` and ``demo``)."""
    from l1scout.tasks.anomaly.pipeline import run_pipeline

    if tracking_uri is not None:
        tracking = config.tracking.model_copy(update={"uri": tracking_uri})
        config = config.model_copy(update={"tracking": tracking})
    with progress_bars() as update:
        result = run_pipeline(config, out, data_dir=data_dir, progress=update)
    print_result(result)
    return result


@pipeline_app.command("anomaly")
def anomaly(
    config: Annotated[
        Path | None,
        typer.Argument(help="Pipeline TOML file (default: the embedded demo defaults)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("anomaly-output"),
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where the samples are, or are produced if missing (default OUT/data)."),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Anomaly-detection trigger: data -> training (scan) -> evaluation at trigger rates -> registry -> ONNX and firmware."""
    with handle_errors():
        from l1scout.tasks.anomaly.pipeline_config import demo_config, load_pipeline_config

        cfg = demo_config() if config is None else load_pipeline_config(config)
        run_anomaly(cfg, out, data_dir, tracking_uri)
