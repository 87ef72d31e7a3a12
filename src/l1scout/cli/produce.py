"""``l1scout produce`` and ``l1scout check``: sharded, resumable production of a plan, and its verification."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from l1scout.cli._common import handle_errors, progress_bars, stdout
from l1scout.errors import ConfigError

if TYPE_CHECKING:
    from l1scout.production.driver import ProductionSummary

__all__ = ["check", "produce"]

_LABELS = {"verify": "checking existing shards", "shards": "shards", "events": "events"}


def _processes(
    plan: Path | None, process: list[str] | None, events: list[int] | None
) -> list[dict[str, Any]] | None:
    """The ``processes`` override from --process / --events (None: keep the plan file's)."""
    if not process and not events:
        return None
    names = list(process or [])
    if not names:
        if plan is None:
            msg = "--events needs --process (or a plan file naming the processes)"
            raise ConfigError(msg)
        from l1scout.production.plan import load_plan

        names = [r.name for r in load_plan(plan).processes]
    counts = list(events or [])
    if not counts:
        msg = "--process needs --events: one value for all processes, or one per --process"
        raise ConfigError(msg)
    if len(counts) == 1:
        counts *= len(names)
    if len(counts) != len(names):
        msg = f"--events: give one value, or one per process ({len(names)}), not {len(counts)}"
        raise ConfigError(msg)
    return [{"name": n, "events": e} for n, e in zip(names, counts, strict=True)]


def _summary_table(summary: ProductionSummary) -> Table:
    table = Table(title=f"production in {summary.out}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("shards planned", f"{summary.planned}"),
        ("shards made now", f"{summary.made}"),
        ("shards kept (verified)", f"{summary.kept - summary.adopted}"),
        ("shards adopted (complete, not yet recorded)", f"{summary.adopted}"),
        ("shards remade (broken or missing)", f"{summary.remade}"),
        ("temporary files removed", f"{summary.removed_temporary}"),
        ("shards failed", f"{len(summary.failures)}"),
        ("events made now", f"{summary.events_made:,}"),
        ("events in the folder", f"{summary.events:,}"),
        ("files in the folder", f"{summary.files}"),
        ("bytes in the folder", f"{summary.bytes:,} ({summary.bytes / 1e9:.3g} GB)"),
        ("wall time", f"{summary.wall_s:.1f} s"),
        ("events per second", f"{summary.events_per_s:.2f}"),
    ]
    for what, value in rows:
        table.add_row(what, value)
    return table


def produce(
    plan: Annotated[
        Path | None,
        typer.Argument(
            help="A plan file (TOML; see docs/production.md). Options below override its values."
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            help="Output folder: OUT/<process>/<process>-NEVENT<n>-RS<seed>.parquet and OUT/manifest.json."
        ),
    ] = Path("l1scout-production"),
    process: Annotated[
        list[str] | None,
        typer.Option(help="A catalog process; repeat for several (replaces the plan's list)."),
    ] = None,
    events: Annotated[
        list[int] | None,
        typer.Option(
            "--events", "-n", help="Events: one value for every process, or one per --process."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Plan seed, 1 ... 225; every shard's seed derives from it.")
    ] = None,
    shard_size: Annotated[
        int | None, typer.Option(help="Events per file (default 10000, as COLLIDE-2V).")
    ] = None,
    pileup: Annotated[
        float | None, typer.Option(help="Mean pileup (default: the card's, 200). 0 for none.")
    ] = None,
    pileup_definition: Annotated[
        str | None,
        typer.Option(
            help="What a pileup collision is: collide2v (SoftQCD:all, as COLLIDE-2V) or inelastic (CMS's definition). Default: the card's, collide2v."
        ),
    ] = None,
    view: Annotated[
        list[str] | None,
        typer.Option(
            help="A detector view (FullReco, L1T or a view-card file); repeat for several."
        ),
    ] = None,
    collection: Annotated[
        list[str] | None,
        typer.Option(
            help="Write only this collection (e.g. L1T_MuonTight, L1T_PUPPIMET, Event); repeat for several."
        ),
    ] = None,
    pool: Annotated[
        str | None,
        typer.Option(help="Pileup pool: 'shared' (one per plan) or 'per_shard' (one per file)."),
    ] = None,
    pool_size: Annotated[
        int | None, typer.Option(help="Minimum-bias collisions per pileup pool (default 30000).")
    ] = None,
    retries: Annotated[
        int | None, typer.Option(help="Extra attempts of a failing shard (default 2).")
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="Where shards run: local (default; one worker per core), address, slurm, htcondor, single."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes of the local engine (default: one per core)."),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(help="Scheduler address of the 'address' engine (tcp://host:8786)."),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option(help="Batch jobs to submit (slurm, htcondor).")
    ] = None,
) -> None:
    """Produce a dataset in shards on Dask: resumable (rerun to complete), every file reproducible bit for bit."""
    from l1scout.production.driver import produce as run_production
    from l1scout.production.plan import load_plan

    with handle_errors():
        engine_opts = {"kind": engine, "workers": workers, "address": address, "jobs": jobs}
        overrides: dict[str, Any] = {
            "seed": seed,
            "shard_size": shard_size,
            "pileup": pileup,
            "pileup_definition": pileup_definition,
            "pool": pool,
            "pool_size": pool_size,
            "views": view,
            "collections": collection,
            "retries": retries,
            "processes": _processes(plan, process, events),
            "engine": {k: v for k, v in engine_opts.items() if v is not None} or None,
        }
        production = load_plan(plan, overrides)
        with progress_bars() as update:

            def progress(stage: str, done: int, total: int) -> None:
                update(_LABELS.get(stage, stage), done, total)

            summary = run_production(production, out, progress=progress)
        stdout.print(_summary_table(summary))
        if summary.failures:
            # one line per shard, file names whole (see `check`)
            stdout.print(f"{len(summary.failures)} shards failed on every attempt:", markup=False)
            for failure in summary.failures:
                stdout.print(Text(f"  {failure.file}: {failure.error}"))
            stdout.print("rerun the same command to retry them; the other shards are kept")
            raise typer.Exit(code=1)


def check(
    directory: Annotated[Path, typer.Argument(help="A production folder (with manifest.json).")],
) -> None:
    """Verify a production folder against its manifest: checksums, schema, event counts, stray files.

    Prints one line per problem (its kind, the file's whole name, the detail).
    """
    from l1scout.production.check import check_dataset

    with handle_errors():
        with progress_bars() as update:
            report = check_dataset(directory, progress=lambda d, t: update("verifying", d, t))
        if report.ok:
            stdout.print(
                f"ok: {report.verified} shards, {report.events:,} events, "
                f"{report.bytes / 1e9:.3g} GB verified in {directory}",
                highlight=False,
            )
            return
        # one line per problem, never a table: a table cuts or folds long file names to
        # the console's width, and a log must name every bad file whole
        stdout.print(
            f"{len(report.problems)} problems in {directory}:", markup=False, highlight=False
        )
        width = max(len(p.kind) for p in report.problems)
        for problem in report.problems:
            stdout.print(Text(f"  {problem.kind:<{width}}  {problem.file}: {problem.detail}"))
        stdout.print(
            f"{report.verified} of {report.planned} planned shards verify; "
            "rerun `l1scout produce` with the same plan to repair what it can",
            highlight=False,
        )
        raise typer.Exit(code=1)
