"""The mlpf task of ``l1scout run``: machine-learned particle flow (its config loader and its run function)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from l1scout.cli._common import RunOptions, print_stage_times, progress_bars, result_console

if TYPE_CHECKING:
    from l1scout.tasks.mlpf.config import MLPFConfig
    from l1scout.tasks.mlpf.pipeline import MLPFPipelineResult

__all__ = ["load_mlpf", "print_mlpf_result", "run_mlpf_cli"]


def load_mlpf(path: Path | None) -> MLPFConfig:
    """The task file at *path*, or the embedded demo defaults when None."""
    from l1scout.tasks.mlpf.config import demo_config, load_mlpf_config

    return demo_config() if path is None else load_mlpf_config(path)


def print_mlpf_result(result: MLPFPipelineResult) -> None:
    """Print the stage wall times, the training, the ONNX check and the report path."""
    console = result_console()
    print_stage_times(console, "MLPF pipeline stages", dict(result.stage_seconds))
    tr = result.training
    events = ", ".join(f"{k} {v}" for k, v in result.events.items())
    best = tr.history[tr.best_epoch] if tr.history else {}
    console.print(
        f"events: {events}; training: {len(tr.history)} epochs, best {tr.best_epoch} "
        f"(validation loss {best.get('val_loss', float('nan')):.4g}), {tr.seconds:.0f} s; "
        f"model {result.model_file}",
        highlight=False,
    )
    check = result.onnx
    if check is not None:
        status = "ok" if check.ok else "FAILED"
        registered = f", registered as {check.registered}" if check.registered else ""
        console.print(
            f"ONNX {check.path}: regression max relative |torch - ONNX| {check.regression:.3g} "
            f"(<= {check.tolerance:.0e}), same argmax: {check.same_argmax}, on {check.events} "
            f"test events: {status}{registered}",
            highlight=False,
        )
    if result.triton is not None:
        console.print(f"Triton model repository: {result.triton.parent.parent}", highlight=False)
    study = result.transfer
    if study is not None:
        sizes = sorted({r.size for r in study.runs})
        seeds = sorted({r.seed for r in study.runs})
        console.print(
            f"transfer to {study.view}: fine-tuned and from scratch on {sizes} training events, "
            f"seeds {seeds}; table and plot in the report",
            highlight=False,
        )
    console.print(f"report: [bold]{result.report}[/]", highlight=False)


def run_mlpf_cli(config: MLPFConfig, options: RunOptions) -> MLPFPipelineResult:
    """Run the MLPF task with progress bars and print its results."""
    from l1scout.tasks.mlpf.pipeline import run_mlpf

    with progress_bars() as update:
        result = run_mlpf(
            config,
            options.out,
            options.data,
            tracking_uri=options.tracking_uri,
            progress=update,
        )
    print_mlpf_result(result)
    return result
