"""``l1scout processes``: the process catalog as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from l1scout.cli._common import handle_errors
from l1scout.processes.catalog import load_catalog

__all__ = ["processes"]


def processes(
    group: Annotated[str | None, typer.Option(help="Show only this group (e.g. top, BSM).")] = None,
    settings: Annotated[
        bool, typer.Option("--settings", help="Also show each process's Pythia settings.")
    ] = False,
    catalog: Annotated[
        Path | None, typer.Option(help="A catalog file other than the shipped one.")
    ] = None,
) -> None:
    """List the processes: COLLIDE-2V names and new-physics signals, with their groups."""
    with handle_errors():
        cat = load_catalog(catalog)
        table = Table(
            title=f"l1scout process catalog ({len(cat)} processes, tune {cat.default_tune})"
        )
        table.add_column("name", style="bold", no_wrap=True)
        table.add_column("group")
        table.add_column("COLLIDE", justify="center")
        table.add_column("M events", justify="right")
        table.add_column("description")
        if settings:
            table.add_column("Pythia settings")
            table.add_column("differs from COLLIDE in")
        for spec in cat:
            if group and spec.group.lower() != group.lower():
                continue
            row = [
                spec.name,
                spec.group,
                "yes" if spec.in_collide else "",
                f"{spec.collide_million_events:g}" if spec.collide_million_events else "",
                spec.description,
            ]
            if settings:
                row += ["\n".join(spec.settings), spec.differences]
            table.add_row(*row)
        Console(width=max(Console().width, 160)).print(table)
