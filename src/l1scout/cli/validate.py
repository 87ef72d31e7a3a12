"""``l1scout validate``: the physics-validation page of the detector views of event files."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from l1scout.cli._common import handle_errors, stdout
from l1scout.detector.validation.comparison import comparison_rows
from l1scout.detector.validation.report import render_report, run_validation
from l1scout.detector.validation.results import PileupComparison
from l1scout.io.paths import resolve_paths

__all__ = ["validate"]


def _number(x: float) -> str:
    return f"{x:.4g}"


def _files(paths: list[Path]) -> list[Path]:
    """*paths* with each folder replaced by its ``*.parquet`` files (recursive, sorted)."""
    return [file for path in paths for file in (resolve_paths(path) if path.is_dir() else [path])]


def _print_comparison(comparison: PileupComparison) -> None:
    first, second = comparison.sides
    table = Table(title="pileup definitions side by side")
    table.add_column("view", style="bold")
    table.add_column("quantity")
    table.add_column(first.label, justify="right")
    table.add_column(second.label, justify="right")
    table.add_column("ratio", justify="right")
    for view, label, unit, a, b, r in comparison_rows(comparison):
        name = f"{label} [{unit}]" if unit else label
        table.add_row(view, name, _number(a), _number(b), _number(r))
    stdout.print(table)


def validate(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Parquet files written by `l1scout generate` with detector views, or folders "
            "of them (searched recursively)."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for index.html, the PNG plots and numbers.json."),
    ],
    compare: Annotated[
        list[Path] | None,
        typer.Option(
            help="Files (or folders) of the other pileup definition (e.g. made with "
            "--pileup-definition inelastic), measured the same way and shown side by side; "
            "repeat for several."
        ),
    ] = None,
) -> None:
    """Validate the detector views of event files: plots, a numbers table and checks on an HTML page."""
    with handle_errors():
        words = ["l1scout", "validate", *(str(f) for f in files), "--out", str(out)]
        for other in compare or []:
            words += ["--compare", str(other)]
        command = shlex.join(words)
        result = run_validation(_files(files), compare=_files(compare) if compare else None)
        page = render_report(result, out, command=command)
        stdout.print(
            f"validation page: [bold]{page}[/] ({result.n_events} events, views {', '.join(result.views)})",
            highlight=False,
        )
        if result.comparison is not None:
            _print_comparison(result.comparison)
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
