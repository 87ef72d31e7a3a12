"""Shared pieces of the command line: logging, error reporting, progress bars."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from l1scout.errors import L1ScoutError

__all__ = ["console", "handle_errors", "progress_bars", "setup_logging"]

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., object])


def setup_logging(verbose: bool) -> None:
    """Log to stderr through rich; INFO by default, DEBUG with --verbose."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn l1scout's domain errors into a clear message and exit status 2."""
    try:
        yield
    except L1ScoutError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A callback ``update(stage, done, total)`` drawing one bar per stage."""
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bars:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = {"pool": "minimum-bias pool", "events": "events"}.get(stage, stage)
                tasks[stage] = bars.add_task(label, total=total)
            bars.update(tasks[stage], completed=done)

        yield update
