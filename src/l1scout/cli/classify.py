"""The classify task of ``l1scout run``: event classification, FullReco vs L1T (its config loader and its run function)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from l1scout.cli._common import RunOptions, print_stage_times, progress_bars, result_console

if TYPE_CHECKING:
    from l1scout.tasks.classify.config import ClassifyConfig
    from l1scout.tasks.classify.pipeline import ClassifyResult

__all__ = ["load_classify", "print_classify_result", "run_classify_cli"]


def load_classify(path: Path | None) -> ClassifyConfig:
    """The task file at *path*, or the embedded demo defaults when None."""
    from l1scout.tasks.classify.config import demo_config, load_classify_config

    return demo_config() if path is None else load_classify_config(path)


def _f(x: float) -> str:
    return f"{x:.4f}" if math.isfinite(x) else "-"


def print_classify_result(result: ClassifyResult) -> None:
    """Print the stage wall times, the mean AUC per model and view, the ONNX checks and the report."""
    console = result_console()
    print_stage_times(console, "classification stages", dict(result.stage_seconds))
    events = ", ".join(f"{k} {v}" for k, v in result.events.items())
    console.print(f"events: {events}; {len(result.classes)} classes", highlight=False)
    views = result.views
    console.print("mean one-vs-rest ROC AUC: " + " | ".join(views), highlight=False)
    for kind, row in result.mean_auc_table().items():
        console.print(f"  {kind}: " + " | ".join(_f(row[v]) for v in views), highlight=False)
    for m in result.models:
        if m.onnx is not None:
            status = "ok" if m.onnx.ok else "FAILED"
            registered = f", registered as {m.onnx.registered}" if m.onnx.registered else ""
            console.print(
                f"ONNX {m.onnx.path}: max relative |torch - ONNX| {m.onnx.max_rel_diff:.3g} "
                f"(<= {m.onnx.tolerance:.0e}) on {m.onnx.events} test events: {status}{registered}",
                highlight=False,
            )
    console.print(f"report: [bold]{result.report}[/]", highlight=False)


def run_classify_cli(config: ClassifyConfig, options: RunOptions) -> ClassifyResult:
    """Run the classification task with progress bars and print its results."""
    from l1scout.tasks.classify.pipeline import run_classify

    with progress_bars() as update:
        result = run_classify(
            config,
            options.out,
            options.data,
            tracking_uri=options.tracking_uri,
            progress=update,
        )
    print_classify_result(result)
    return result
