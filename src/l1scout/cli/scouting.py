"""The scouting task of ``l1scout run``: the 40 MHz L1 scouting stream (its config loader and its run function)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from l1scout.cli._common import RunOptions, print_stage_times, progress_bars, result_console

if TYPE_CHECKING:
    from l1scout.tasks.scouting.config import ScoutingConfig
    from l1scout.tasks.scouting.pipeline_results import ScoutingResult

__all__ = ["load_scouting", "print_scouting_result", "run_scouting_cli"]


def load_scouting(path: Path | None) -> ScoutingConfig:
    """The task file at *path*, or the embedded demo defaults when None."""
    from l1scout.tasks.scouting.config import demo_config, load_scouting_config

    return demo_config() if path is None else load_scouting_config(path)


def _raw_text(rate_khz: float | None) -> str:
    return "n/a" if rate_khz is None else f"{rate_khz:.3g}"


def print_scouting_result(result: ScoutingResult) -> None:
    """Print the stage wall times, the stream, the menu's rates and efficiencies, the models and the report path."""
    from rich.table import Table

    from l1scout.tasks.scouting.report import rate_text

    console = result_console()
    print_stage_times(console, "scouting pipeline stages", dict(result.stage_seconds))
    s, menu = result.stream, result.menu
    console.print(
        f"stream: {s.n_orbits} orbits in {len(s.files)} files, {s.mb_per_orbit:.3f} MB per orbit "
        f"({s.words_per_orbit:,.0f} words); zero bias {s.distinct_zero_bias:,} distinct events, "
        f"reuse {s.zero_bias_reuse:.2f}; skipped BXs {menu.skipped_bx}, bad files "
        f"{len(menu.bad_files)}; menu {result.orbits_per_second:.3g} orbits/s",
        highlight=False,
    )
    zb, raw, pure = menu.zero_bias_rates(), menu.raw_rates(), menu.pure_rates()
    effs = menu.efficiencies()
    table = Table(title=f"menu rates, kHz ({100 * menu.cl:.0f} % intervals)")
    for col in ("selection", "zero bias", "pure", "raw", *menu.signals):
        table.add_column(col, justify="left" if col == "selection" else "right")
    for n in menu.selections:
        eff = [
            f"{100 * effs[n, sig].value:.0f}% ({effs[n, sig].passed}/{effs[n, sig].total})"
            for sig in menu.signals
        ]
        table.add_row(n, rate_text(zb[n]), rate_text(pure[n]), _raw_text(raw[n]), *eff)
    console.print(table)
    m = result.models
    if m is not None:
        for c in (m.anomaly, m.ditau):
            status = "ok" if c.ok else "FAILED"
            console.print(
                f"model {c.kind}: ONNX vs torch {c.max_diff:.3g} (<= {c.tolerance:.0e}: {status}), "
                f"registered as {c.registered or '-'}",
                highlight=False,
            )
        console.print(f"working points: {m.working_points}", highlight=False)
    console.print(f"report: [bold]{result.report}[/]", highlight=False)


def run_scouting_cli(config: ScoutingConfig, options: RunOptions) -> ScoutingResult:
    """Run the scouting task with progress bars and print its results."""
    from l1scout.tasks.scouting.pipeline import run_scouting

    with progress_bars() as update:
        result = run_scouting(
            config,
            options.out,
            options.data,
            tracking_uri=options.tracking_uri,
            progress=update,
        )
    print_scouting_result(result)
    return result
