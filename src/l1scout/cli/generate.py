"""``l1scout generate``: one file of events for a catalog process or an LHE file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from l1scout._datafile import format_validation_error
from l1scout.cli._common import console, handle_errors, progress_bars
from l1scout.errors import ConfigError, ProductionError
from l1scout.processes.catalog import load_catalog
from l1scout.production.driver import disk_full_error, prepare_output_folder
from l1scout.production.job import (
    DEFAULT_POOL_SIZE,
    GenerationConfig,
    GenerationResult,
    output_path,
    run_generation,
    with_elements,
)
from l1scout.production.shard import is_disk_full

__all__ = ["generate", "make_config"]


def make_config(**fields: object) -> GenerationConfig:
    """Validate command-line values into a :class:`GenerationConfig` (errors name the option)."""
    if fields.get("lhe") is None and isinstance(fields.get("process"), str):
        catalog = fields.get("catalog")
        load_catalog(catalog if isinstance(catalog, str | Path) else None).get(
            str(fields["process"])
        )
    try:
        return GenerationConfig(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        lines = format_validation_error(exc, "option").splitlines()
        raise ConfigError("\n".join(_as_option(line) for line in lines)) from None


def _as_option(line: str) -> str:
    """``option: pool_size: msg`` as ``--pool-size: msg`` (the value's own underscores kept)."""
    field, sep, rest = line.removeprefix("option: ").partition(": ")
    return f"--{field.replace('_', '-')}{sep}{rest}"


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder of *folder*'s path that does not exist yet (None: it exists)."""
    missing = None
    for here in (folder, *folder.parents):
        if here.exists():
            break
        missing = here
    return missing


def _remove_empty(folder: Path, up_to: Path) -> None:
    """Remove *folder* and its parents up to *up_to*, each only while it is empty."""
    for here in (folder, *folder.parents):
        try:
            here.rmdir()
        except OSError:
            return
        if here == up_to:
            return


def report(result: GenerationResult) -> None:
    """Print where a file went and what it holds."""
    console.print(
        f"wrote [bold]{result.events}[/] events to [bold]{result.path}[/] "
        f"({result.path.stat().st_size / 1e6:.1f} MB); cross section "
        f"{result.cross_section_pb:.4g} +- {result.cross_section_error_pb:.2g} pb",
        highlight=False,
    )


def generate(
    process: Annotated[
        str,
        typer.Argument(
            help="Catalog process name (see `l1scout processes`), or the name to file an LHE sample under."
        ),
    ],
    events: Annotated[int, typer.Option("--events", "-n", help="Number of events.", min=1)] = 100,
    pileup: Annotated[
        float | None,
        typer.Option(
            help="Mean number of pileup collisions per event, 0 ... 1000 (default: the card's, 200). 0 for none.",
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(help="Random seed, 1 ... 900000000. Same inputs give a byte-identical file."),
    ] = 1,
    out: Annotated[
        Path,
        typer.Option(
            help="Output directory; the file goes to OUT/PROCESS/PROCESS-NEVENT<n>-RS<seed>.parquet."
        ),
    ] = Path("l1scout-data"),
    lhe: Annotated[
        Path | None,
        typer.Option(
            help="Shower the events of this Les Houches file instead of a catalog process."
        ),
    ] = None,
    pool_size: Annotated[
        int,
        typer.Option(
            help="Minimum-bias collisions in the pileup pool (built once per seed, cached).", min=1
        ),
    ] = DEFAULT_POOL_SIZE,
    pool_seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the pileup pool (default: derived from --seed); share one pool across files."
        ),
    ] = None,
    card: Annotated[
        Path | None, typer.Option(help="Front-end detector card (TOML) with the pileup section.")
    ] = None,
    pileup_definition: Annotated[
        str | None,
        typer.Option(
            help="What a pileup collision is: collide2v (Pythia SoftQCD:all, elastic included, "
            "as COLLIDE-2V) or inelastic (inelastic collisions only, CMS's definition). "
            "Default: the card's, collide2v.",
        ),
    ] = None,
    tune: Annotated[
        str | None, typer.Option(help="Pythia tune from the catalog (default CP5).")
    ] = None,
    view: Annotated[
        list[str] | None,
        typer.Option(
            help="A detector view to simulate: FullReco, L1T or a view-card TOML file; repeat for several (default: FullReco and L1T)."
        ),
    ] = None,
    truth_only: Annotated[
        bool, typer.Option(help="Write the generator level only (no detector views).")
    ] = False,
    elements: Annotated[
        bool,
        typer.Option(
            help="Also write each view's Track, Tower and TowerContrib collections with their "
            "truth (inputs and targets of machine-learned particle flow; off: files unchanged)."
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(help="Processes used to build a missing pileup pool.", min=1)
    ] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
) -> None:
    """Generate events with Pythia 8 at 14 TeV, overlay pileup, simulate the detector views, write COLLIDE Parquet."""
    with handle_errors():
        config = make_config(
            process=process,
            events=events,
            pileup=pileup,
            seed=seed,
            lhe=lhe,
            pool_size=pool_size,
            pool_seed=pool_seed,
            card=card,
            pileup_definition=pileup_definition,
            tune=tune,
            views=() if truth_only else (tuple(view) if view else None),
        )
        if elements:
            config = with_elements(config)
        path = output_path(out, config.process, config.events, config.seed)
        made = _first_missing(path.parent)
        prepare_output_folder(path.parent)  # before the pileup pool (minutes)
        try:
            with progress_bars() as update:
                result = run_generation(
                    config, out, overwrite=overwrite, workers=workers, progress=update
                )
        except OSError as exc:
            file = path.relative_to(out).as_posix()
            if is_disk_full(exc):
                raise disk_full_error(out, exc, file=file) from None
            msg = f"{file} under {out} was not made ({type(exc).__name__}: {exc}); no partial file is left"
            raise ProductionError(msg) from None
        finally:  # a refused card or LHE file leaves no empty folder behind
            if made is not None and not path.exists():
                _remove_empty(path.parent, made)
        report(result)
