"""The anomaly task of ``l1scout run``: its config loader and its run function (also ``l1scout demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from l1scout.cli._common import RunOptions, console, print_stage_times, progress_bars

if TYPE_CHECKING:
    from l1scout.tasks.anomaly.pipeline import PipelineResult
    from l1scout.tasks.anomaly.pipeline_config import PipelineConfig

__all__ = ["load_anomaly", "print_result", "run_anomaly"]


def load_anomaly(path: Path | None) -> PipelineConfig:
    """The pipeline TOML file at *path*, or the embedded demo defaults when None."""
    from l1scout.tasks.anomaly.pipeline_config import demo_config, load_pipeline_config

    return demo_config() if path is None else load_pipeline_config(path)


def print_result(result: PipelineResult) -> None:
    """Print the stage wall times, the deployment checks and the report path."""
    print_stage_times(console, "pipeline stages", dict(result.stage_seconds))
    for dep in result.deployed:
        for key, value in dep.metrics().items():
            console.print(f"  {dep.name} {key}: {value:.6g}", highlight=False)
        if dep.registered:
            console.print(f"  {dep.name} registered as {dep.registered}", highlight=False)
    console.print(f"best model: [bold]{result.best}[/]", highlight=False)
    console.print(f"report: [bold]{result.report}[/]", highlight=False)


def run_anomaly(config: PipelineConfig, options: RunOptions) -> PipelineResult:
    """Run the anomaly pipeline with progress bars and print its result."""
    from l1scout.tasks.anomaly.pipeline import run_pipeline

    if options.tracking_uri is not None:
        tracking = config.tracking.model_copy(update={"uri": options.tracking_uri})
        config = config.model_copy(update={"tracking": tracking})
    if options.firmware is not None:
        deploy = config.deploy.model_copy(update={"firmware": options.firmware})
        config = config.model_copy(update={"deploy": deploy})
    with progress_bars() as update:
        result = run_pipeline(config, options.out, data_dir=options.data, progress=update)
    print_result(result)
    return result
