"""``l1scout validate``: the physics-validation page of the detector views of event files."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from l1scout.cli._common import handle_errors, stdout
from l1scout.detector.validation.report import render_report, run_validation

__all__ = ["validate"]


def _number(x: float) -> str:
    return f"{x:.4g}"


def validate(
    files: Annotated[
        list[Path],
        typer.Argument(help="Parquet files written by `l1scout generate` with detector views."),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for index.html, the PNG plots and numbers.json."),
    ],
) -> None:
    """Validate the detector views of event files: plots, a numbers table and checks on an HTML page."""
    with handle_errors():
        command = shlex.join(["l1scout", "validate", *(str(f) for f in files), "--out", str(out)])
        result = run_validation(files)
        page = render_report(result, out, command=command)
        stdout.print(
            f"validation page: [bold]{page}[/] ({result.n_events} events, views {', '.join(result.views)})",
            highlight=False,
        )
        if not result.checks:
            stdout.print("no checks: they compare L1T with FullReco and need both views")
            return
        table = Table(title="checks")
        table.add_column("check", style="bold")
        table.add_column("result")
        table.add_column("numbers")
        for check in result.checks:
            values = ", ".join(f"{k} = {_number(v)}" for k, v in check.values.items())
            table.add_row(check.name, "[green]pass[/]" if check.passed else "[red]FAIL[/]", values)
        stdout.print(table)
