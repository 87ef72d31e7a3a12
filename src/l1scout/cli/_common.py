"""Shared pieces of the command line: logging, errors, progress bars, options and tasks.

Every option that several commands take is defined once here, as a typer
``Annotated`` alias (:data:`ConfigArg`, :data:`OutDir`, :data:`DataDir`,
:data:`TrackingUri`, :data:`NoFirmware`), so its name and help read the same in
every ``--help``.

Errors print one message a line, never wrapped, whatever the terminal width:
l1scout's own through :func:`print_error` (:func:`handle_errors`), typer's and
click's usage errors through :class:`OneLineErrorsGroup`, the class of the
``l1scout`` command.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, cast

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
from rich.text import Text
from typer.core import TyperGroup

from l1scout.errors import L1ScoutError

__all__ = [
    "ConfigArg",
    "DataDir",
    "NoFirmware",
    "OneLineErrorsGroup",
    "OutDir",
    "RunOptions",
    "Task",
    "TrackingUri",
    "console",
    "handle_errors",
    "print_error",
    "print_stage_times",
    "progress_bars",
    "result_console",
    "setup_logging",
    "stdout",
    "warn",
]

#: stderr: progress, logs, errors. Soft wrap: a line of text (an error, a path) is never
#: broken by rich at the console width (80 columns without a terminal); tables still fit it.
console = Console(stderr=True, soft_wrap=True)
#: stdout: a command's results (tables, the files it wrote), with the same soft wrap.
stdout = Console(soft_wrap=True)
C = TypeVar("C")


def result_console() -> Console:
    """:data:`stdout`, or, for a file or a pipe (no terminal width to fit), a 160-column console."""
    return stdout if stdout.is_terminal else Console(width=160, soft_wrap=True)


def print_stage_times(out: Console, title: str, stage_seconds: dict[str, float]) -> None:
    """A table of a pipeline's stage wall times (s) and their total."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("stage")
    table.add_column("wall time (s)", justify="right")
    for name, seconds in stage_seconds.items():
        table.add_row(name, f"{seconds:.1f}")
    table.add_row("total", f"{sum(stage_seconds.values()):.1f}")
    out.print(table)


# ---------------------------------------------------------------------------
# the options shared by the commands that run a task (one definition each)

ConfigArg = Annotated[
    Path | None,
    typer.Argument(
        metavar="CONFIG",
        help="The task's configuration file (TOML), e.g. examples/anomaly/pipeline.toml "
        "(default: the task's embedded defaults, for the tasks that have them).",
        show_default=False,
    ),
]
"""The ``CONFIG`` argument: a task's TOML file (None: the task's defaults, if any)."""

OutDir = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Output folder: report, models, ONNX files, firmware "
        "(default: TASK-output; demo-output for `l1scout demo`).",
        show_default=False,
    ),
]
"""The ``--out`` option: where a task writes everything (None: ``<task>-output``)."""

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Folder where the event samples are found, or produced if missing (default: OUT/data).",
        show_default=False,
    ),
]
"""The ``--data`` option: the samples' folder (None: ``OUT/data``)."""

TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking URI, e.g. sqlite:///mlruns/mlflow.db or http://host:5000 "
        "(default: a task config's tracking.uri, else $MLFLOW_TRACKING_URI, else the local store ./mlruns).",
        show_default=False,
    ),
]
"""The ``--tracking-uri`` option (None: the config's, else the environment's, else ./mlruns)."""

NoFirmware = Annotated[
    bool,
    typer.Option(
        "--no-firmware", help="Skip the hls4ml firmware step, whatever the config file says."
    ),
]
"""The ``--no-firmware`` flag."""


@dataclass(frozen=True)
class RunOptions:
    """The shared options of a task run, as the command line gave them.

    Attributes:
        out: the output folder.
        data: the samples' folder (None: ``out/data``).
        tracking_uri: the MLflow tracking URI (None: the config's, else the default).
        firmware: False to skip the firmware step (None: as the config says).
    """

    out: Path
    data: Path | None = None
    tracking_uri: str | None = None
    firmware: bool | None = None


@dataclass(frozen=True)
class Task(Generic[C]):
    """One task of ``l1scout run TASK``: an entry of the registry in :mod:`l1scout.cli.run`.

    Attributes:
        name: what follows ``l1scout run``.
        help: one line for ``l1scout run --help``.
        load: reads the configuration file (None: the task's defaults; a task
            without defaults raises :class:`~l1scout.errors.ConfigError`).
        run: runs the configuration with the shared options, with progress
            bars, and prints the results.
    """

    name: str
    help: str
    load: Callable[[Path | None], C]
    run: Callable[[C, RunOptions], object]

    def __call__(self, config: Path | None, options: RunOptions) -> None:
        """Load *config* and run it."""
        self.run(self.load(config), options)


# ---------------------------------------------------------------------------
# logging, errors and progress


def setup_logging(verbose: bool) -> None:
    """Log to stderr; INFO by default, DEBUG with --verbose.

    On a terminal through rich; otherwise (a log file, a batch job) one plain
    ``LEVEL message`` line per record, never wrapped, so a path in a notice
    stays whole.
    """
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)-8s %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True
    )


def print_error(message: str) -> None:
    """Print *message* on stderr as ``error: ...``, one line per line of it, never wrapped.

    Rich wraps at 80 columns when stderr is not a terminal, even inside a path;
    :data:`console`'s soft wrap keeps each line whole (the terminal folds it if
    it must). The message is plain text: brackets in it are not rich markup.
    """
    for line in message.splitlines() or [""]:
        console.print(Text.assemble(("error:", "bold red"), " ", line))


def warn(message: str) -> None:
    """Print *message* on stderr as one ``warning: ...`` line, never wrapped."""
    console.print(Text.assemble(("warning:", "yellow"), " ", message))


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn l1scout's domain errors into a clear message and exit status 2."""
    try:
        yield
    except L1ScoutError as exc:
        print_error(str(exc))
        raise typer.Exit(code=2) from None


#: click's ``ClickException`` as typer raises it (typer 0.2x ships its own copy of click).
_CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class OneLineErrorsGroup(TyperGroup):
    """Typer's group with click's plain usage errors: the message on one line, never wrapped.

    Typer draws usage errors in a rich panel as wide as the terminal (80
    columns without one), which wraps a long path inside the message; click
    prints ``Error: <message>`` as it is. Help stays rich.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; in standalone mode, print a usage error plainly and exit."""
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except _CLICK_ERROR as exc:
            error = cast("Any", exc)
            # no arguments: typer's rich help is printed already and the message is empty
            if type(exc).__name__ != "NoArgsIsHelpError" or error.format_message():
                error.show()
            sys.exit(error.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A callback ``update(stage, done, total)`` drawing one bar per stage.

    The bars start at the first update: a command that fails before any
    progress prints its error alone, with no empty display before it.
    """
    tasks: dict[str, TaskID] = {}
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )

    def update(stage: str, done: int, total: int) -> None:
        bars.start()  # does nothing once started
        if stage not in tasks:
            label = {"pool": "minimum-bias pool", "events": "events"}.get(stage, stage)
            tasks[stage] = bars.add_task(label, total=total)
        bars.update(tasks[stage], completed=done)

    try:
        yield update
    finally:
        if bars.live.is_started:
            bars.stop()
