"""The taus task of ``l1scout run``: the soft-tau study (its config loader and its run function)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from l1scout.cli._common import RunOptions, print_stage_times, progress_bars, result_console

if TYPE_CHECKING:
    from l1scout.tasks.taus.config import TauConfig
    from l1scout.tasks.taus.pipeline import TauPipelineResult

__all__ = ["load_taus", "print_taus_result", "run_taus_cli"]


def load_taus(path: Path | None) -> TauConfig:
    """The study file at *path*, or the embedded demo defaults when None."""
    from l1scout.tasks.taus.config import demo_config, load_tau_config

    return demo_config() if path is None else load_tau_config(path)


def print_taus_result(result: TauPipelineResult) -> None:
    """Print the stage wall times, the comparison table, the checks and the report path."""
    from rich.table import Table

    console = result_console()
    print_stage_times(console, "soft-tau pipeline stages", dict(result.stage_seconds))
    rows = result.evaluation.table()
    rate = next(iter(result.evaluation.ditau.values()), None)
    target = f" at {rate.search.target_rate_khz:g} kHz" if rate is not None else ""
    table = Table(title=f"di-tau working points{target} (test split)")
    for key in rows[0] if rows else ():
        table.add_column(key, justify="left" if key in ("method", "note") else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    if result.evaluation.verdict is not None:
        console.print(result.evaluation.verdict.text, highlight=False)
    for check in result.onnx.values():
        status = "ok" if check.ok else "FAILED"
        registered = f", registered as {check.registered}" if check.registered else ""
        console.print(
            f"ONNX {check.model}: max |torch - ONNX| {check.max_abs_diff:.3g} on "
            f"{check.candidates} test candidates (<= {check.tolerance:.3g}: {status}){registered}",
            highlight=False,
        )
    fw = result.firmware
    if fw is not None:
        exact = "bit-exact" if fw.bit_exact and fw.hls4ml_agrees else "NOT bit-exact"
        console.print(
            f"firmware {fw.path}: emulation {exact} on {fw.candidates} test candidates "
            f"({fw.hls4ml_checked} through hls4ml's C++)",
            highlight=False,
        )
    console.print(f"report: [bold]{result.report}[/]", highlight=False)


def run_taus_cli(config: TauConfig, options: RunOptions) -> TauPipelineResult:
    """Run the soft-tau study with progress bars and print its results."""
    from l1scout.tasks.taus.pipeline import run_taus

    with progress_bars() as update:
        result = run_taus(
            config,
            options.out,
            options.data,
            tracking_uri=options.tracking_uri,
            firmware=options.firmware is not False,
            progress=update,
        )
    print_taus_result(result)
    return result
