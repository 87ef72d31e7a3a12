"""The compress task of ``l1scout run``: learned compression of scouting events (its config loader and its run function)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from l1scout.cli._common import RunOptions, print_stage_times, progress_bars, result_console

if TYPE_CHECKING:
    from l1scout.tasks.compress.config import CompressConfig
    from l1scout.tasks.compress.results import CompressResult

__all__ = ["load_compress", "print_compress_result", "run_compress_cli"]


def load_compress(path: Path | None) -> CompressConfig:
    """The task file at *path*, or the embedded demo defaults when None."""
    from l1scout.tasks.compress.config import demo_config, load_compress_config

    return demo_config() if path is None else load_compress_config(path)


def _num(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else "n/a"


def print_compress_result(result: CompressResult) -> None:
    """Print the stage wall times, every codec's bytes and main measures, the goal, the best per budget and the report path."""
    from rich.table import Table

    from l1scout.tasks.compress.report import MAIN_MEASURES

    console = result_console()
    print_stage_times(console, "compress pipeline stages", dict(result.stage_seconds))
    downstream = sorted(
        {k for p in result.points for k in p.aggregate() if k.startswith("downstream/")}
    )
    keys = [*MAIN_MEASURES, *downstream]
    table = Table(title="codecs on the test events (bytes from the files written)")
    for col in ("codec", "bytes/event", *keys):
        table.add_column(
            col.removeprefix("downstream/"), justify="left" if col == "codec" else "right"
        )
    for p in result.points:
        agg = p.aggregate()
        table.add_row(
            p.label, _num(p.bytes_per_event), *(_num(agg.get(k, float("nan"))) for k in keys)
        )
    console.print(table)
    console.print(f"goal: {result.goal.text()}", highlight=False)
    for key in ("resolution/ht", "resolution/met", *downstream[:2]):
        rows = result.best.get(key, [])
        text = ", ".join(f"<= {b:g}: {p.label if p else '-'}" for b, p in rows)
        console.print(f"best per budget, {key}: {text}", highlight=False)
    learned = {x.learned for x in result.losses}
    if learned:
        console.print(
            f"learned settings beaten by quantization on some measure: {', '.join(sorted(learned))}",
            highlight=False,
        )
    for d in result.deploy:
        console.print(f"deploy: {d}", highlight=False)
    console.print(f"report: [bold]{result.report}[/]", highlight=False)


def run_compress_cli(config: CompressConfig, options: RunOptions) -> CompressResult:
    """Run the compression task with progress bars and print its results."""
    from l1scout.tasks.compress.pipeline import run_compress

    with progress_bars() as update:
        result = run_compress(
            config,
            options.out,
            options.data,
            tracking_uri=options.tracking_uri,
            progress=update,
        )
    print_compress_result(result)
    return result
