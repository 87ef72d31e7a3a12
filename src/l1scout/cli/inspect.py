"""``l1scout inspect``: schema kind, event count, collections, metadata and key numbers of a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from l1scout.cli._common import handle_errors, stdout
from l1scout.io.aliases import column_view
from l1scout.io.footer import PileupProvenance
from l1scout.io.inspect import inspect_file

__all__ = ["inspect"]

_MEANING = {
    "collide2v": "Pythia SoftQCD:all, elastic included, as COLLIDE-2V",
    "inelastic": "inelastic collisions only, CMS's definition",
}
_HOW = {
    "metadata": "",
    "pool settings": "; from the recorded pool settings (file made before pileup_definition)",
    "COLLIDE": "; COLLIDE-2V's published pool",
}


def _pileup_line(p: PileupProvenance) -> str:
    """One line on what the file's pileup collisions are."""
    mean = f"mean {p.mean:g}" if p.mean is not None else "mean not recorded"
    if p.definition == "none":
        return f"pileup: none ({mean})"
    meaning = _MEANING.get(p.definition, "not recognised")
    pool = f"; pool: {', '.join(p.pool_softqcd)}" if p.pool_softqcd else ""
    return f"pileup: {mean}, definition [bold]{p.definition}[/] ({meaning}{_HOW.get(p.source, '')}){pool}"


def inspect(
    file: Annotated[
        Path, typer.Argument(help="A Parquet event file (l1scout, COLLIDE-2V or COLLIDE-1m).")
    ],
    columns: Annotated[
        bool, typer.Option("--columns/--no-columns", help="List every column with its type.")
    ] = True,
) -> None:
    """Summarise an event file (l1scout or COLLIDE): schema, process, collections per view, metadata, columns."""
    with handle_errors():
        summary = inspect_file(file)
        stdout.print(
            f"[bold]{summary.path}[/]: {summary.n_events} events, "
            f"{summary.size_bytes / 1e6:.2f} MB, {summary.n_row_groups} row groups",
            highlight=False,
        )
        stdout.print(
            f"schema: [bold]{summary.schema}[/]; process: [bold]{summary.process}[/]; "
            f"views: {', '.join(summary.views) or 'none (generator level only)'}",
            highlight=False,
        )
        stdout.print(_pileup_line(summary.pileup), highlight=False)
        for note in summary.notes:
            stdout.print(f"note: {note}", highlight=False)
        if summary.multiplicities:
            colls = Table(title="collections (canonical names)")
            colls.add_column("view", style="bold")
            colls.add_column("collection")
            colls.add_column("mean per event", justify="right")
            for name, mean in summary.multiplicities.items():
                view = column_view(f"{name}_X") or "-"
                short = name.removeprefix(f"{view}_") if view != "-" else name
                colls.add_row(view, short, f"{mean:.4g}")
            stdout.print(colls)
        meta = Table(title="metadata")
        meta.add_column("key", style="bold")
        meta.add_column("value")
        for key, value in summary.metadata.items():
            shown = value[:200] + " ..." if key == "settings" and len(value) > 200 else value
            meta.add_row(key, shown)
        stdout.print(meta)
        if summary.numbers:
            nums = Table(title="summary")
            nums.add_column("quantity", style="bold")
            nums.add_column("value", justify="right")
            for key, val in summary.numbers.items():
                nums.add_row(key, f"{val:.4g}")
            stdout.print(nums)
        if columns:
            cols = Table(title=f"{len(summary.columns)} columns")
            cols.add_column("column", style="bold")
            cols.add_column("type")
            for name, typ in summary.columns:
                cols.add_row(name, typ)
            stdout.print(cols)
