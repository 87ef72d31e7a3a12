"""One generation job: a process (or an LHE file), a seed, pileup, one Parquet file.

:class:`GenerationConfig` is the closed, typed description of a job;
:func:`run_generation` makes the file
``<out>/<process>/<process>-NEVENT<n>-RS<seed>.parquet`` by streaming batches
of :data:`ROWS_PER_GROUP` events into a temporary file that is renamed when
complete (the writer gathers small batches into row groups of up to 1000
events, see :class:`~l1scout.io.parquet.AtomicParquetWriter`). The same configuration gives a byte-identical file.

**Pileup definition.** ``pileup_definition`` (else the card's
``pileup.definition``) says what a pileup collision is and picks the pool's
catalog process: ``collide2v`` (``SoftQCD:all``, the default) or ``inelastic``.
The file's metadata names it (``pileup_definition``) beside the pool's Pythia
settings (``settings``: ``pool.settings``) and the SHA-256 of the pool's content
(``pool_sha256``, :attr:`l1scout.generate.pileup.MinBiasPool.sha256`; absent
without pileup), so that files made from different pools differ in their
metadata too. Files of the default keep the
``settings_hash`` they had before the choice existed; the other definition
changes it (through the pool settings and a ``pileup_definition`` entry).

**Fast modes.** ``collections`` names the collections to write (for example
``("Event", "L1T_MuonTight", "L1T_PUPPIMET")`` for a trigger-rate study). A
view none of whose collections is asked for is not simulated, and jet
collections (detector and generator level) that are not asked for are not
clustered, and the family links and truth vertices are not made unless
``Gen_Part`` (or ``Gen_PartHS``) and ``Vertex`` are asked for. The written values are those of the
full file with the same seed: a shipped view draws from the random stream of
its place among the shipped views (``views=("L1T",)`` gives the L1T numbers of
a two-view file), and each jet collection b-tags from a stream of its own.

**Pre-cut collections** (:data:`l1scout.io.schema.PRECUT_COLLECTIONS`, such as
``L1T_PUPPIPart128``: the 128 highest-pT entries of ``L1T_PUPPIPart``) are
written only when ``collections`` names them; a file of all collections plus
the pre-cut ones asks for ``available_collections(config)``. So are the
**detector-element collections** (:data:`l1scout.io.schema.ELEMENT_COLLECTIONS`:
``<View>_Track``, ``<View>_Tower``, ``<View>_TowerContrib``, the inputs and
truth of a machine-learned particle flow); :func:`with_elements` adds them to a
job. So is ``Gen_PartHS`` (:data:`l1scout.io.schema.GEN_PART_HS_COLUMNS`), the
hard collision's entries of ``Gen_Part`` with their links pointed into it
(:func:`l1scout.generate.truth.hard_scatter_cut`): ``("Event", "Gen_PartHS")``
writes the record of the hard collision without the pileup particles. They
draw no random number: every other column keeps its values.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout._files import sha256_file
from l1scout._jagged import offsets_from_counts
from l1scout._timing import Timer, stage
from l1scout._version import __version__
from l1scout.detector.card import FrontendCard, TruthJetSpec, load_frontend_card
from l1scout.detector.particles import GenParticles
from l1scout.detector.view_card import VIEW_NAMES, ViewCard, load_view_card
from l1scout.errors import ConfigError
from l1scout.generate.event import assemble_columns
from l1scout.generate.pileup import (
    POOL_PROCESS,
    MinBiasPool,
    PileupDraw,
    draw_pileup,
    load_cached_pool,
    load_or_build_pool,
    pool_path,
    pool_settings,
)
from l1scout.generate.pythia import (
    MAX_SEED,
    PythiaSource,
    check_seed,
    derive_seed,
    lhe_settings,
    process_settings,
)
from l1scout.generate.truth import hard_scatter_cut
from l1scout.generate.vertex import DEFAULT_PILEUP_DEFINITION, PileupDefinition
from l1scout.io.parquet import AtomicParquetWriter
from l1scout.io.ragged import top_k
from l1scout.io.schema import (
    ELEMENT_COLLECTIONS,
    GEN_COLUMNS,
    GEN_PART_HS_COLUMNS,
    PRECUT_COLLECTIONS,
    Column,
    element_columns,
    gen_object_columns,
    precut_columns,
    view_columns,
)
from l1scout.processes.catalog import load_catalog
from l1scout.reco.view import simulate_view, truth_objects

__all__ = [
    "DATASET_VERSION",
    "POOL_PROCESS",
    "ROWS_PER_GROUP",
    "GenerationConfig",
    "GenerationResult",
    "available_collections",
    "cached_pool",
    "card_hashes",
    "check_collections",
    "collection_names",
    "collection_of",
    "columns_of",
    "output_path",
    "prepare_pool",
    "run_generation",
    "settings_hash",
    "with_elements",
]

_log = logging.getLogger(__name__)

#: Version of the l1scout file layout, written as ``dataset_version``.
DATASET_VERSION = "l1scout_gen_v1"
#: Events per generation batch (a full dual-view batch is also one row group).
ROWS_PER_GROUP = 50
#: Default pool size: COLLIDE-2V used 30,000 minimum-bias events per job.
DEFAULT_POOL_SIZE = 30_000
#: The optional hard-collision cut of ``Gen_Part``.
_HARD_SCATTER = "Gen_PartHS"


class GenerationConfig(BaseModel):
    """Everything that determines a generated file.

    Attributes:
        process: a catalog name; with ``lhe``, the name the output is filed under.
        events: number of events (with ``lhe``: at most this many).
        seed: random seed, 1 ... 900,000,000.
        pileup: mean number of pileup collisions (None: the card's, 200).
        pool_size: minimum-bias collisions in the pileup pool.
        pool_seed: seed of the pool (None: derived from ``seed``).
        lhe: a Les Houches Event file to shower instead of a catalog process.
        tune: a tune of the catalog (None: its default, CP5).
        card: a front-end card file (None: the shipped Phase-2 card).
        pileup_definition: what a pileup collision is, ``collide2v``
            (``SoftQCD:all``, elastic included) or ``inelastic`` (CMS's
            definition); None: the card's (``collide2v``). Picks the pool's
            catalog process (:data:`l1scout.generate.pileup.POOL_PROCESSES`).
        catalog: a catalog file (None: the shipped one).
        views: the detector views to simulate: shipped names (``FullReco``,
            ``L1T``) or view-card files; empty for generator level only.
        collections: the collections to write (``<View>_<Collection>`` such as
            ``L1T_MuonTight``, or ``Event``, ``Gen_Part``, ``Gen_JetAK4``, ...;
            see :func:`available_collections`); None for all. Kept sorted and
            without repeats.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    process: str = Field(min_length=1)
    events: int = Field(gt=0, le=10_000_000)
    seed: int = Field(ge=1, le=MAX_SEED)
    pileup: float | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=10_000_000)
    pool_seed: int | None = Field(default=None, ge=1, le=MAX_SEED)
    lhe: Path | None = None
    tune: str | None = None
    card: Path | None = None
    pileup_definition: PileupDefinition | None = None
    catalog: Path | None = None
    views: tuple[str, ...] = VIEW_NAMES
    collections: tuple[str, ...] | None = None

    @field_validator("collections")
    @classmethod
    def _canonical_collections(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            msg = "collections must name at least one collection (or be left out for all)"
            raise ValueError(msg)
        return tuple(sorted(set(value)))

    @field_validator("process")
    @classmethod
    def _name_is_path_safe(cls, value: str) -> str:
        if "/" in value or value.startswith(".") or not value.strip():
            msg = "process must be a plain name (no '/', not starting with '.')"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _known_process(self) -> GenerationConfig:
        if self.lhe is None:
            load_catalog(self.catalog).get(self.process)  # raises UnknownProcessError
        elif not Path(self.lhe).is_file():
            msg = f"lhe: {str(self.lhe)!r} does not exist or is not a file"
            raise ValueError(msg)
        return self


@dataclass(frozen=True)
class GenerationResult:
    """What a job wrote (``pool_sha256``: the content hash of its pileup pool, None without one)."""

    path: Path
    events: int
    cross_section_pb: float
    cross_section_error_pb: float
    settings_hash: str
    pool_path: Path | None
    pool_built: bool
    pool_sha256: str | None = None


def output_path(out: Path, process: str, events: int, seed: int) -> Path:
    """COLLIDE's naming: ``<out>/<process>/<process>-NEVENT<n>-RS<seed>.parquet``."""
    return Path(out) / process / f"{process}-NEVENT{events}-RS{seed}.parquet"


def collection_of(column: str) -> str:
    """The collection a column belongs to: its name without the last ``_<Field>``.

    >>> collection_of("L1T_JetPuppiAK4_PT"), collection_of("Event_Number")
    ('L1T_JetPuppiAK4', 'Event')
    """
    return column.rsplit("_", 1)[0]


@dataclass(frozen=True)
class _Plan:
    settings: tuple[str, ...]
    pool_settings: tuple[str, ...]
    pool_seed: int
    pileup: float
    pileup_definition: PileupDefinition
    card: FrontendCard
    # the view cards with the jet collections to cluster; None: the view is not simulated
    views: tuple[ViewCard | None, ...]
    truth_jets: tuple[TruthJetSpec, ...]
    truth_objects: bool
    columns: tuple[Column, ...]
    record: dict[str, object]
    settings_hash: str
    family: bool  # Gen_Part's family links are written (in Gen_Part or Gen_PartHS)
    vertices: bool  # the Vertex columns are written


def collection_names(columns: Iterable[Column]) -> tuple[str, ...]:
    """The collections of *columns*, in column order, each once.

    >>> collection_names(GEN_COLUMNS[:1])
    ('Gen_Part',)
    """
    return tuple(dict.fromkeys(collection_of(c.name) for c in columns))


def check_collections(
    requested: Sequence[str], available: Sequence[str], views: Sequence[str]
) -> None:
    """Refuse a requested collection that the *views* do not write.

    Raises:
        ConfigError: naming ``collections[<i>]``, the closest available names
            and every available one.
    """
    known = set(available)
    for i, name in enumerate(requested):
        if name not in known:
            close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            msg = (
                f"collections[{i}]: unknown collection {name!r}{hint} (views "
                f"{', '.join(views) or 'none'} have: {', '.join(available)})"
            )
            raise ConfigError(msg)


def _standalone(view: ViewCard) -> str | None:
    """The view's standalone Level-1 muon collection, if its card has a muon system."""
    return None if view.muon_system is None else view.muon_system.collection


def _fast_mode(
    card: FrontendCard, views: tuple[ViewCard, ...], wanted: set[str] | None
) -> tuple[tuple[ViewCard | None, ...], tuple[TruthJetSpec, ...], bool]:
    """The views to simulate (jets trimmed), the truth jets to cluster, whether truth objects are needed."""
    if wanted is None:
        return views, tuple(card.truth_jets), True
    kept: list[ViewCard | None] = []
    for view in views:
        own = (
            view_columns(view.name, [], _standalone(view))
            + precut_columns(view.name)
            + element_columns(view.name)
        )
        names = {collection_of(c.name) for c in own}
        jets = [j for j in view.jets if f"{view.name}_{j.name}" in wanted]
        if not jets and not names & wanted:
            kept.append(None)
        else:
            # not validated again: a card with no jet collection is fine for simulate_view
            kept.append(view.model_copy(update={"jets": jets}))
    truth = tuple(j for j in card.truth_jets if j.name in wanted)
    return tuple(kept), truth, bool(truth) or "Gen_MissingET" in wanted


def _plan(config: GenerationConfig) -> _Plan:
    catalog = load_catalog(config.catalog)
    card = load_frontend_card(config.card)
    if config.lhe is not None:
        settings = lhe_settings(catalog, config.lhe, config.tune)
        source: dict[str, object] = {"lhe_sha256": sha256_file(config.lhe)}
    else:
        settings = process_settings(catalog, catalog.get(config.process), config.tune)
        source = {}
    definition = config.pileup_definition or card.pileup.definition
    pool = pool_settings(definition, catalog, config.tune)
    views = tuple(load_view_card(v) for v in config.views)
    names = [v.name for v in views]
    if len(set(names)) != len(names):
        msg = f"views must have distinct names, got {names}"
        raise ConfigError(msg)
    if config.collections is not None:
        check_collections(config.collections, _available(card, views), names)
    wanted = None if config.collections is None else set(config.collections)
    simulated, truth_jets, need_truth = _fast_mode(card, views, wanted)
    pileup = card.pileup.mean if config.pileup is None else config.pileup
    pool_seed = config.pool_seed or derive_seed(config.seed, 0x504F4F4C)
    record: dict[str, object] = {
        "dataset_version": DATASET_VERSION,
        "process": config.process,
        "seed": config.seed,
        "pythia_settings": [s for s in settings if not s.startswith("Beams:LHEF")],
        **source,
        "pileup_mean": pileup,
        # the definition is left out of the card's dump and named below only when it is
        # not the default: files of the default keep the settings_hash they had before
        "pileup_card": card.pileup.model_dump(exclude={"definition"}),
        "pool": {"settings": list(pool), "seed": pool_seed, "size": config.pool_size}
        if pileup > 0
        else None,
        "rows_per_group": ROWS_PER_GROUP,
        "views": [v.model_dump(mode="json") for v in views],
        "truth_jets": [j.model_dump() for j in card.truth_jets],
    }
    if config.collections is not None:  # absent otherwise: full files keep their hash
        record["collections"] = list(config.collections)
    if definition != DEFAULT_PILEUP_DEFINITION:
        record["pileup_definition"] = definition
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    return _Plan(
        settings,
        pool,
        pool_seed,
        pileup,
        definition,
        card,
        simulated,
        truth_jets,
        need_truth,
        columns_of(card, views, config.collections),
        record,
        digest,
        family=wanted is None or bool({"Gen_Part", _HARD_SCATTER} & wanted),
        vertices=wanted is None or "Vertex" in wanted,
    )


def columns_of(
    card: FrontendCard,
    views: tuple[ViewCard, ...],
    collections: tuple[str, ...] | None = None,
) -> tuple[Column, ...]:
    """The file's columns: truth, then (with views) generator objects and each view's.

    Args:
        card: the front-end card (its truth jets).
        views: the view cards, in file order.
        collections: keep only the columns of these collections (None: all
            but the element and pre-cut ones, ``Gen_PartHS`` included, which are
            written only when named here).
    """
    cols = GEN_COLUMNS if collections is None else GEN_COLUMNS + GEN_PART_HS_COLUMNS
    if views:
        cols += gen_object_columns([j.name for j in card.truth_jets])
        for view in views:
            cols += view_columns(view.name, [j.name for j in view.jets], _standalone(view))
            if collections is not None:  # element and pre-cut collections: only when asked for
                cols += element_columns(view.name) + precut_columns(view.name)
    if collections is not None:
        wanted = set(collections)
        cols = tuple(c for c in cols if collection_of(c.name) in wanted)
    return cols


def available_collections(config: GenerationConfig) -> tuple[str, ...]:
    """The collections a file of *config*'s views can hold: the default ones in file order, then ``Gen_PartHS``, the element ones and the pre-cut ones.

    >>> cfg = GenerationConfig(process="minbias", events=1, seed=1, views=("L1T",))
    >>> names = available_collections(cfg)
    >>> names[:3], "L1T_MuonTight" in names, "FullReco_MET" in names
    (('Gen_Part', 'Vertex', 'Event'), True, False)
    """
    card = load_frontend_card(config.card)
    views = tuple(load_view_card(v) for v in config.views)
    return _available(card, views)


def _available(card: FrontendCard, views: tuple[ViewCard, ...]) -> tuple[str, ...]:
    full = (*collection_names(columns_of(card, views)), _HARD_SCATTER)
    elements = collection_names(c for v in views for c in element_columns(v.name))
    return full + elements + collection_names(c for v in views for c in precut_columns(v.name))


def _add_hard_scatter(cols: dict[str, Any], columns: Sequence[Column]) -> None:
    """Add ``Gen_PartHS`` when *columns* hold it: the hard collision's ``Gen_Part`` entries.

    Made from the ``Gen_Part`` columns of the batch (their family links
    included: the plan makes them when ``Gen_PartHS`` is asked for), whether
    or not ``Gen_Part`` itself is written.
    """
    if not any(collection_of(c.name) == _HARD_SCATTER for c in columns):
        return
    offsets = np.asarray(cols["Gen_Part_IsPU"][0], dtype=np.int64)
    first = int(offsets[0])
    links = ("M1", "M2", "D1", "D2")
    flat = {
        c.field: np.asarray(cols[f"Gen_Part_{c.field}"][1])[first : offsets[-1]]
        for c in columns
        if collection_of(c.name) == _HARD_SCATTER and c.field != "Index"
    }
    cut, take, index, relinked = hard_scatter_cut(
        offsets - first, flat["IsPU"], [flat[f] for f in links]
    )
    values: dict[str, Any] = {f: v[take] for f, v in flat.items()}
    values.update(zip(links, relinked, strict=True), Index=index.astype(np.int32))
    for c in columns:
        if collection_of(c.name) == _HARD_SCATTER:
            cols[c.name] = (cut, values[c.field])


def with_elements(config: GenerationConfig) -> GenerationConfig:
    """*config* with every view's detector-element collections added to what it writes.

    A job that writes all collections (``collections`` None) keeps them all and
    gains the element ones.

    >>> cfg = with_elements(GenerationConfig(process="minbias", events=1, seed=1, views=("L1T",)))
    >>> [c for c in cfg.collections if c.startswith("L1T_T")]
    ['L1T_Tower', 'L1T_TowerContrib', 'L1T_Track']

    Raises:
        ConfigError: the job simulates no detector view.
    """
    if not config.views:
        msg = "the detector elements need a detector view (the job is generator level only)"
        raise ConfigError(msg)
    card = load_frontend_card(config.card)
    views = tuple(load_view_card(v) for v in config.views)
    base = config.collections or collection_names(columns_of(card, views))
    elements = collection_names(c for v in views for c in element_columns(v.name))
    return config.model_copy(update={"collections": tuple(sorted({*base, *elements}))})


def settings_hash(config: GenerationConfig) -> str:
    """The ``settings_hash`` that a file of *config* carries in its metadata (SHA-256, hex)."""
    return _plan(config).settings_hash


def card_hashes(config: GenerationConfig) -> dict[str, str]:
    """SHA-256 of the content of the front-end card and of each view card of *config*.

    Keys are ``frontend`` and the view names; the hash is over the validated
    card (its JSON dump), so formatting and comments do not count.
    """

    def digest(model: BaseModel) -> str:
        return hashlib.sha256(model.model_dump_json().encode()).hexdigest()

    frontend = load_frontend_card(config.card)
    # a card of the default pileup definition hashes as before the field existed
    exclude = (
        {"pileup": {"definition"}}
        if frontend.pileup.definition == DEFAULT_PILEUP_DEFINITION
        else None
    )
    out = {
        "frontend": hashlib.sha256(frontend.model_dump_json(exclude=exclude).encode()).hexdigest()
    }
    for view in config.views:
        card = load_view_card(view)
        out[card.name] = digest(card)
    return out


def prepare_pool(
    config: GenerationConfig,
    *,
    workers: int = 1,
    pool_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[MinBiasPool | None, Path | None, bool]:
    """Load (or build and cache) the pileup pool that :func:`run_generation` of *config* uses.

    Arguments as in :func:`run_generation`.

    Returns:
        The pool, its file and whether it was built now; ``(None, None, False)``
        without pileup.
    """
    return _load_pool(config, _plan(config), workers, pool_dir, progress)


def cached_pool(
    config: GenerationConfig, pool_dir: Path | None = None
) -> tuple[Path, MinBiasPool] | None:
    """The pileup pool of *config* as the cache holds it now, verified, and its file.

    Args:
        config: the job.
        pool_dir: the pool cache (None: :func:`l1scout.generate.pileup.cache_dir`).

    Returns:
        None without pileup, or when the cache does not hold the pool.

    Raises:
        DataFormatError: the cached file fails verification (it is rebuilt when next used).
    """
    plan = _plan(config)
    if plan.pileup <= 0:
        return None
    key = (plan.pool_settings, plan.pool_seed, config.pool_size)
    pool = load_cached_pool(*key, pool_dir)
    return None if pool is None else (pool_path(*key, pool_dir), pool)


def _load_pool(
    config: GenerationConfig,
    plan: _Plan,
    workers: int,
    pool_dir: Path | None,
    progress: Callable[[str, int, int], None] | None,
) -> tuple[MinBiasPool | None, Path | None, bool]:
    if plan.pileup <= 0:
        return None, None, False
    done = [0]

    def pool_progress(n: int) -> None:
        done[0] += n
        if progress:
            progress("pool", done[0], config.pool_size)

    return load_or_build_pool(
        plan.pool_settings,
        plan.pool_seed,
        config.pool_size,
        workers=workers,
        directory=pool_dir,
        progress=pool_progress,
    )


def _simulate(
    cols: dict[str, Any],
    plan: _Plan,
    seed: int,
    first: int,
    timer: Timer | None,
    draw: PileupDraw,
) -> None:
    gen = GenParticles.from_columns(cols)
    pv_z = draw.hard_z  # the hard-scatter vertex (Vertex_Index 0)
    n_vertices = (1 + draw.n_pu).astype(np.int64)
    if plan.truth_objects:
        with stage(timer, "truth jets and MET"):
            cols.update(truth_objects(gen, list(plan.truth_jets)))
    shared: dict[str, Any] = {}
    written = set(collection_names(plan.columns))
    for k, view in enumerate(plan.views):
        if view is None:  # fast mode: nothing of this view is written
            continue
        # a shipped view draws from the stream of its place among the shipped views, so
        # that a file of fewer views (views=("L1T",)) has the numbers of the full file
        stream = VIEW_NAMES.index(view.name) if view.name in VIEW_NAMES else k
        rng = np.random.default_rng([seed, 0x56494557, stream, first])
        elements = [e for e in ELEMENT_COLLECTIONS if f"{view.name}_{e}" in written]
        cols.update(simulate_view(gen, view, pv_z, n_vertices, rng, timer, shared, elements))
    _add_precut(cols, plan.columns)


def _add_precut(cols: dict[str, Any], columns: Sequence[Column]) -> None:
    """Add the pre-cut collections among *columns*: the k highest-pT entries of their full one.

    The cut ranks the ``PT`` values as written (float16), stably, as a reader
    cutting the full collection does (:func:`l1scout.io.ragged.top_k`); the
    full collection is sorted by pT already, so it keeps each event's first k.
    """
    for coll in collection_names(columns):
        view, _, name = coll.rpartition("_")
        if not view or name not in PRECUT_COLLECTIONS:
            continue
        full, k = PRECUT_COLLECTIONS[name]
        offsets, pt = cols[f"{view}_{full}_PT"]
        offsets = np.asarray(offsets, dtype=np.int64)
        first = int(offsets[0])
        stored = np.asarray(pt)[first : offsets[-1]].astype(np.float16)
        idx, mask = top_k(offsets - first, stored, k)
        take = idx[mask] + first
        cut = offsets_from_counts(mask.sum(axis=1))
        for c in columns:
            if collection_of(c.name) == coll:
                values = np.asarray(cols[f"{view}_{full}_{c.field}"][1])
                cols[c.name] = (cut, values[take])


def run_generation(
    config: GenerationConfig,
    out: Path,
    *,
    overwrite: bool = False,
    workers: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
    timer: Timer | None = None,
    pool_dir: Path | None = None,
) -> GenerationResult:
    """Generate the events of *config* and write them under *out*.

    Args:
        config: the job.
        out: the output directory (the process folder is made inside it).
        overwrite: replace an existing file of the same name.
        workers: processes used to build a missing pileup pool.
        progress: called as ``progress(stage, done, total)`` with stage
            ``"pool"`` or ``"events"``.
        timer: wall time per stage (s) is added here when given.
        pool_dir: where the pileup pool is looked up and saved (None: the
            cache, :func:`l1scout.generate.pileup.cache_dir`).

    Returns:
        The written file and its numbers. Nothing is left behind on failure.
    """
    check_seed(config.seed)
    plan = _plan(config)
    path = output_path(out, config.process, config.events, config.seed)
    if path.exists() and not overwrite:
        msg = f"output file {path} exists already (pass --overwrite to replace it)"
        raise ConfigError(msg)

    pool, pool_path, built = _load_pool(config, plan, workers, pool_dir, progress)
    source = PythiaSource(plan.settings, config.seed, label=config.process)
    metadata = {
        "source_root": "",
        "dataset_version": DATASET_VERSION,
        "l1scout_version": __version__,
        "process": config.process,
        "seed": str(config.seed),
        "pileup_mean": repr(float(plan.pileup)),
        "pileup_definition": plan.pileup_definition,
        "settings_hash": plan.settings_hash,
        "settings": json.dumps(plan.record, sort_keys=True),
    }
    if pool is not None:  # the pool's content: a file of another pool has other metadata
        metadata["pool_sha256"] = pool.sha256
    n_done = 0
    columns = plan.columns
    with AtomicParquetWriter(path, columns, metadata, overwrite=overwrite) as writer:
        while n_done < config.events and not source.exhausted:
            n = min(ROWS_PER_GROUP, config.events - n_done)
            with stage(timer, "generation"):
                raw = source.generate(n)
            if raw.n_events == 0:
                break
            numbers = list(range(n_done, n_done + raw.n_events))
            with stage(timer, "pileup overlay"):
                charge = source.charge_of(raw.pid)
                draw = draw_pileup(pool, plan.card.pileup, plan.pileup, config.seed, numbers)
                cols: dict[str, Any] = dict(
                    assemble_columns(
                        raw,
                        charge,
                        draw,
                        plan.card.pileup,
                        numbers,
                        family=plan.family,
                        vertices=plan.vertices,
                    )
                )
            _add_hard_scatter(cols, columns)
            if plan.views and (plan.truth_objects or any(v is not None for v in plan.views)):
                _simulate(cols, plan, config.seed, n_done, timer, draw)
            with stage(timer, "writing"):
                writer.write(cols)
            n_done += raw.n_events
            if progress:
                progress("events", n_done, config.events)
        if n_done == 0:
            msg = f"{config.process}: no event was generated (empty LHE file?)"
            raise ConfigError(msg)
        sigma, sigma_err = source.cross_section_pb()
        final_path = output_path(out, config.process, n_done, config.seed)
        if n_done != config.events:
            _log.warning(
                "%s: the LHE file held %d events, not %d", config.process, n_done, config.events
            )
            if final_path.exists() and not overwrite:
                msg = f"output file {final_path} exists already (pass --overwrite to replace it)"
                raise ConfigError(msg)
        written = writer.finish(
            {
                "nEvents": str(n_done),
                "event_count": str(n_done),
                "cross_section_pb": repr(sigma),
                "cross_section_error_pb": repr(sigma_err),
            },
            path=final_path,
        )
    return GenerationResult(
        written,
        n_done,
        sigma,
        sigma_err,
        plan.settings_hash,
        pool_path,
        built,
        pool.sha256 if pool is not None else None,
    )
