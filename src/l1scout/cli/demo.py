"""``l1scout demo``: the main job on embedded defaults (what ``make demo`` runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from l1scout.cli._common import console, handle_errors, progress_bars
from l1scout.cli.generate import make_config, report
from l1scout.io.inspect import inspect_file

__all__ = ["DEMO_EVENTS", "DEMO_PROCESS", "demo"]

DEMO_PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
DEMO_EVENTS = 300
DEMO_POOL = 5000


def demo(
    out: Annotated[Path, typer.Option(help="Where the demo sample goes.")] = Path("demo-output"),
    events: Annotated[int, typer.Option(help="Number of ttbar events.", min=1)] = DEMO_EVENTS,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
) -> None:
    """Generate a small semi-leptonic ttbar sample at pileup 200 in both views and validate it."""
    with handle_errors():
        config = make_config(
            process=DEMO_PROCESS, events=events, seed=seed, pileup=200.0, pool_size=DEMO_POOL
        )
        console.print(
            f"l1scout demo: {events} {DEMO_PROCESS} events at pileup 200 (pool of {DEMO_POOL} minimum-bias events)"
        )
        from l1scout.generate.job import run_generation

        with progress_bars() as update:
            result = run_generation(
                config, out, overwrite=True, workers=os.cpu_count() or 1, progress=update
            )
        report(result)
        summary = inspect_file(result.path)
        for key, val in summary.numbers.items():
            console.print(f"  {key}: {val:.4g}", highlight=False)
        console.print(
            f"  {len(summary.columns)} columns: truth (Gen_*, Vertex_*, Event_*) and the views FullReco_* and L1T_*"
        )
        from l1scout.detector.validation import write_report

        page = write_report([result.path], out / "validation", command="l1scout demo")
        console.print(f"physics validation: [bold]{page}[/]", highlight=False)
        console.print(f"next: l1scout inspect {result.path}")
