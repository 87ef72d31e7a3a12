"""The ``l1scout`` command: subcommands composed from their modules."""

from __future__ import annotations

from typing import Annotated

import typer

from l1scout._version import __version__
from l1scout.cli._common import OneLineErrorsGroup, setup_logging
from l1scout.cli.demo import demo
from l1scout.cli.deprecated import pipeline_app, recalib
from l1scout.cli.generate import generate
from l1scout.cli.inspect import inspect
from l1scout.cli.mlflow_ui import mlflow_ui
from l1scout.cli.processes import processes
from l1scout.cli.produce import check, produce
from l1scout.cli.run import run, run_help
from l1scout.cli.validate import validate

__all__ = ["app"]

app = typer.Typer(
    name="l1scout",
    help="Machine learning for the CMS Level-1 trigger and Phase-2 L1 scouting: "
    "generate dual-view Phase-2 data at scale, read it (ours or COLLIDE's), train, evaluate at trigger rates, track and deploy to firmware.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=OneLineErrorsGroup,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"l1scout {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    del version  # handled eagerly by its callback
    setup_logging(verbose)


app.command(help=generate.__doc__)(generate)
app.command(help=processes.__doc__)(processes)
app.command(help=inspect.__doc__)(inspect)
app.command(help=demo.__doc__)(demo)
app.command(help=validate.__doc__)(validate)
app.command(help=produce.__doc__)(produce)
app.command(help=check.__doc__)(check)
app.command(help=run_help())(run)
app.command(help=recalib.__doc__, hidden=True)(recalib)  # deprecated: `l1scout run recalib`
app.add_typer(pipeline_app, name="pipeline")  # deprecated: `l1scout run anomaly`
app.command(name="mlflow-ui", help=mlflow_ui.__doc__)(mlflow_ui)
