"""A production plan: processes, events, pileup, views, shard size and a plan seed, as data.

A plan is a TOML file (or the same values from the command line)::

    seed = 7                      # plan seed, 1 ... 225 (see l1scout.production.seeds)
    shard_size = 10000            # events per file (the last file of a process may hold fewer)
    pileup = 200.0                # mean pileup (left out: the front-end card's, 200)
    pileup_definition = "inelastic"  # what a pileup collision is (left out: the card's, "collide2v")
    pool = "shared"               # "shared": one pileup pool per plan; "per_shard": one per file
    pool_size = 30000             # minimum-bias collisions per pool
    views = ["FullReco", "L1T"]   # shipped views or view-card files (relative to the plan file)
    collections = ["Event", "L1T_MuonTight", "L1T_PUPPIMET"]   # left out: all
    retries = 2                   # extra attempts of a failing shard

    [[processes]]
    name = "minbias"
    events = 10_000_000

    [engine]                      # how to run; not part of the plan's identity
    kind = "local"                # local | address | slurm | htcondor | single
    workers = 8

:class:`ProductionPlan` validates every value (unknown keys are rejected, errors
name the field path). :meth:`ProductionPlan.shards` lists the files, named as
COLLIDE-2V names them, each with its seed from :mod:`l1scout.production.seeds`.
:meth:`ProductionPlan.identity` holds everything that determines the bytes of
the files, and :meth:`ProductionPlan.plan_hash` its hash; the engine and the
retries are not part of it.

Example:
    >>> plan = ProductionPlan(seed=1, shard_size=4, processes=[{"name": "minbias", "events": 10}])
    >>> [(s.index, s.events, s.seed) for s in plan.shards()]
    [(0, 4, 20001), (1, 4, 20002), (2, 2, 20003)]
    >>> plan.shards()[2].file
    'minbias/minbias-NEVENT2-RS20003.parquet'
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout._datafile import deep_update, read_toml, validate_data
from l1scout._version import __version__
from l1scout.detector.card import load_frontend_card
from l1scout.detector.view_card import VIEW_NAMES, load_view_card
from l1scout.generate.pileup import POOL_PROCESSES
from l1scout.generate.pythia import process_settings
from l1scout.generate.vertex import DEFAULT_PILEUP_DEFINITION, PileupDefinition
from l1scout.io.schema import Column
from l1scout.processes.catalog import load_catalog
from l1scout.production.job import (
    DATASET_VERSION,
    DEFAULT_POOL_SIZE,
    POOL_PROCESS,
    GenerationConfig,
    available_collections,
    card_hashes,
    check_collections,
    columns_of,
    output_path,
)
from l1scout.production.seeds import MAX_PLAN_SEED, SHARD_SLOTS, pool_seed, process_slot, shard_seed

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "EngineSpec",
    "ProcessRequest",
    "ProductionPlan",
    "ShardSpec",
    "load_plan",
    "plan_differences",
]

#: COLLIDE-2V's files hold 10,000 events.
DEFAULT_SHARD_SIZE = 10_000

PoolMode = Literal["shared", "per_shard"]
EngineKind = Literal["local", "address", "slurm", "htcondor", "single"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProcessRequest(_Model):
    """One process of a plan: its catalog name and how many events to make."""

    name: str = Field(min_length=1)
    events: int = Field(gt=0)

    @field_validator("name")
    @classmethod
    def _in_catalog(cls, value: str) -> str:
        process_slot(value)  # unknown names raise with the closest ones; checks the slot too
        return value


class EngineSpec(_Model):
    """Where the shards run (the ``[engine]`` table of a plan file).

    Attributes:
        kind: ``local`` (a Dask cluster on this machine), ``address`` (an
            existing Dask scheduler), ``slurm`` or ``htcondor`` (batch jobs
            through dask-jobqueue), or ``single`` (a plain loop in this
            process, for debugging).
        workers: worker processes of the local cluster (None: one per core).
        address: the scheduler address, e.g. ``tcp://10.0.0.1:8786`` (``address`` only).
        jobs: batch jobs to submit (``slurm``, ``htcondor``).
        cores: cores per batch job; each runs one single-threaded worker.
        memory: memory per batch job (e.g. ``"16GB"``).
        disk: scratch disk per batch job (``htcondor``).
        walltime: wall-time limit per job, ``HH:MM:SS`` (``slurm``).
        queue: the partition (``slurm``) or queue.
        account: the account to charge (``slurm``).
        job_extra_directives: extra ``#SBATCH`` options (``slurm``, e.g.
            ``"--constraint=avx2"``) or submit-file lines ``"Key = Value"``
            (``htcondor``, e.g. ``'+JobFlavour = "workday"'``).
        job_script_prologue: shell lines run before the worker starts (activate
            the environment, export ``L1SCOUT_CACHE_DIR``).
        python: the Python executable on the worker nodes (default: this one).
        local_directory: scratch directory of the workers on their node.
        log_directory: where the batch system writes the job logs.
        interface: the network interface the scheduler and workers listen on
            (e.g. ``ib0``; batch systems only).
    """

    kind: EngineKind = "local"
    workers: int | None = Field(default=None, ge=1, le=4096)
    address: str | None = Field(default=None, min_length=1)
    jobs: int = Field(default=1, ge=1, le=100_000)
    cores: int = Field(default=1, ge=1, le=1024)
    memory: str = Field(default="4GB", pattern=r"^\d+(\.\d+)?\s*[KMGTkmgt]i?[Bb]?$")
    disk: str = Field(default="10GB", pattern=r"^\d+(\.\d+)?\s*[KMGTkmgt]i?[Bb]?$")
    walltime: str | None = Field(default=None, pattern=r"^(\d+-)?\d{1,3}:\d{2}(:\d{2})?$")
    queue: str | None = None
    account: str | None = None
    job_extra_directives: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    python: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    interface: str | None = None

    @model_validator(mode="after")
    def _address_when_needed(self) -> EngineSpec:
        if self.kind == "address" and self.address is None:
            msg = "engine.address: the 'address' engine needs the scheduler's address (e.g. tcp://host:8786)"
            raise ValueError(msg)
        if self.kind != "address" and self.address is not None:
            msg = f"engine.address is for the 'address' engine only, not {self.kind!r}"
            raise ValueError(msg)
        if self.kind == "htcondor":
            for i, line in enumerate(self.job_extra_directives):
                if "=" not in line:
                    msg = f"engine.job_extra_directives[{i}]: HTCondor lines read 'Key = Value', got {line!r}"
                    raise ValueError(msg)
        return self


@dataclass(frozen=True)
class ShardSpec:
    """One file of a production.

    Attributes:
        process: the catalog process.
        index: the shard's index within its process (0-based).
        events: events in the file.
        seed: the file's seed (:func:`l1scout.production.seeds.shard_seed`).
        pool_seed: the seed of its pileup pool (None without pileup).
        file: its path relative to the output folder (``/`` separated).
    """

    process: str
    index: int
    events: int
    seed: int
    pool_seed: int | None
    file: str


class ProductionPlan(_Model):
    """A validated production plan (see the module docstring for the file format)."""

    seed: int = Field(ge=1, le=MAX_PLAN_SEED)
    shard_size: int = Field(default=DEFAULT_SHARD_SIZE, ge=1, le=10_000_000)
    pileup: float | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    pileup_definition: PileupDefinition | None = None
    pool: PoolMode = "shared"
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=10_000_000)
    views: tuple[str, ...] = VIEW_NAMES
    collections: tuple[str, ...] | None = None
    retries: int = Field(default=2, ge=0, le=100)
    processes: tuple[ProcessRequest, ...]
    engine: EngineSpec = Field(default_factory=EngineSpec)

    @field_validator("views")
    @classmethod
    def _views_load(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = [load_view_card(v).name for v in value]
        if len(set(names)) != len(names):
            msg = f"views must have distinct names, got {names}"
            raise ValueError(msg)
        return value

    @field_validator("processes")
    @classmethod
    def _distinct(cls, value: tuple[ProcessRequest, ...]) -> tuple[ProcessRequest, ...]:
        if not value:
            msg = "name at least one process (a [[processes]] table with name and events)"
            raise ValueError(msg)
        seen: set[str] = set()
        for i, req in enumerate(value):
            if req.name in seen:
                msg = f"process {req.name!r} is listed twice (processes[{i}]); give it once with the sum of the events"
                raise ValueError(msg)
            seen.add(req.name)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ProductionPlan:
        for i, req in enumerate(self.processes):
            n = -(-req.events // self.shard_size)
            if n > SHARD_SLOTS:
                msg = (
                    f"processes[{i}].events: {req.events:,} events of {req.name} make {n:,} "
                    f"shards of {self.shard_size:,}; the seed layout allows {SHARD_SLOTS:,} per "
                    "process and plan seed (raise shard_size, or split the sample over plan seeds)"
                )
                raise ValueError(msg)
        if self.collections is not None:
            if not self.collections:
                msg = "collections: name at least one collection, or leave it out for all"
                raise ValueError(msg)
            check_collections(self.collections, self.available_collections(), self.views)
        return self

    # -- derived values -------------------------------------------------------------------

    @cached_property
    def pileup_mean(self) -> float:
        """The mean pileup of the files: the plan's, or the front-end card's (200)."""
        return load_frontend_card().pileup.mean if self.pileup is None else self.pileup

    @cached_property
    def effective_pileup_definition(self) -> PileupDefinition:
        """What a pileup collision is in the files: the plan's definition, or the card's (``collide2v``)."""
        return self.pileup_definition or load_frontend_card().pileup.definition

    def available_collections(self) -> tuple[str, ...]:
        """The collections that files of this plan's views can hold, in file order."""
        return available_collections(self._probe())

    def columns(self) -> tuple[Column, ...]:
        """The columns of every file of the plan, in order."""
        card = load_frontend_card()
        views = tuple(load_view_card(v) for v in self.views)
        wanted = None if self.collections is None else tuple(sorted(set(self.collections)))
        return columns_of(card, views, wanted)

    def shards(self) -> tuple[ShardSpec, ...]:
        """Every file of the plan: process by process, in shard order."""
        return self._shards

    @cached_property
    def _shards(self) -> tuple[ShardSpec, ...]:
        # computed once: a production asks for them several times (~20 us a shard)
        return tuple(self._iter_shards())

    def _iter_shards(self) -> Iterator[ShardSpec]:
        with_pool = self.pileup_mean > 0
        shared = pool_seed(self.seed) if with_pool and self.pool == "shared" else None
        for req in self.processes:
            for index, start in enumerate(range(0, req.events, self.shard_size)):
                events = min(self.shard_size, req.events - start)
                seed = shard_seed(self.seed, req.name, index)
                own = pool_seed(self.seed, req.name, index) if with_pool else None
                path = output_path(Path(), req.name, events, seed)
                yield ShardSpec(
                    process=req.name,
                    index=index,
                    events=events,
                    seed=seed,
                    pool_seed=shared if self.pool == "shared" else own,
                    file=path.as_posix(),
                )

    @property
    def total_events(self) -> int:
        """Events over all processes."""
        return sum(req.events for req in self.processes)

    def generation_config(self, shard: ShardSpec) -> GenerationConfig:
        """The generation job of one shard."""
        return GenerationConfig(
            process=shard.process,
            events=shard.events,
            seed=shard.seed,
            pileup=self.pileup_mean,
            pileup_definition=self.effective_pileup_definition,
            pool_size=self.pool_size,
            pool_seed=shard.pool_seed,
            views=self.views,
            collections=self.collections,
        )

    def _probe(self) -> GenerationConfig:
        """A job with the plan's views and cards (for what depends on those alone)."""
        return GenerationConfig(process=POOL_PROCESS, events=1, seed=1, views=self.views)

    def identity(self) -> dict[str, Any]:
        """Everything that determines the bytes of the files (JSON-ready).

        The content of the cards (not their paths), the Pythia settings of every
        process and of the pool, the l1scout and dataset-format versions; not
        the engine nor the retries. The pileup definition is named only when it
        is not the default (``collide2v``), so that plans made before it
        existed keep their identity.
        """
        catalog = load_catalog()
        cards = card_hashes(self._probe())
        with_pool = self.pileup_mean > 0

        def settings_hash(name: str) -> str:
            lines = process_settings(catalog, catalog.get(name))
            return hashlib.sha256(json.dumps(list(lines)).encode()).hexdigest()

        identity: dict[str, Any] = {
            "l1scout_version": __version__,
            "dataset_version": DATASET_VERSION,
            "seed": self.seed,
            "shard_size": self.shard_size,
            "pileup": self.pileup_mean,
            "pool": self.pool if with_pool else None,
            "pool_size": self.pool_size if with_pool else None,
            "pool_settings_sha256": settings_hash(POOL_PROCESSES[self.effective_pileup_definition])
            if with_pool
            else None,
            "frontend_card_sha256": cards.pop("frontend"),
            "views": [{"name": name, "card_sha256": h} for name, h in cards.items()],
            "collections": None if self.collections is None else sorted(set(self.collections)),
            "processes": [
                {"name": r.name, "events": r.events, "settings_sha256": settings_hash(r.name)}
                for r in self.processes
            ],
        }
        if self.effective_pileup_definition != DEFAULT_PILEUP_DEFINITION:
            identity["pileup_definition"] = self.effective_pileup_definition
        return identity

    def plan_hash(self) -> str:
        """SHA-256 (hex) of :meth:`identity`."""
        return _hash(self.identity())


def _hash(identity: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _named(value: object) -> TypeGuard[Mapping[str, Any]]:
    """Whether *value* is an entry with a name (a process, a view)."""
    return isinstance(value, Mapping) and isinstance(value.get("name"), str)


def _render(value: object) -> str:
    """A value of an identity, whole, on one line: JSON, or ``"name" (key=value, ...)`` for a named entry.

    >>> _render({"name": "ttbar", "events": 1000}), _render([1, "a"])
    ('"ttbar" (events=1000)', '[1, "a"]')
    """
    if _named(value):
        rest = ", ".join(f"{k}={_render(v)}" for k, v in sorted(value.items()) if k != "name")
        return f"{json.dumps(value['name'])} ({rest})" if rest else json.dumps(value["name"])
    return json.dumps(value, sort_keys=True)


def _key(value: object) -> str:
    """What identifies an entry of a list: its name if it has one, else its value."""
    return json.dumps(value["name"]) if _named(value) else _render(value)


def _diff(path: str, old: object, new: object, lines: list[str]) -> None:
    """Append one line per leaf that differs between *old* and *new*, both under *path*."""
    if old == new:
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                lines.append(f"{sub}: removed in this plan: {_render(old[key])}")
            elif key not in old:
                lines.append(f"{sub}: added in this plan: {_render(new[key])}")
            else:
                _diff(sub, old[key], new[key], lines)
    elif isinstance(old, list) and isinstance(new, list):
        _diff_lists(path, old, new, lines)
    else:
        lines.append(f"{path}: {_render(old)} in the manifest, {_render(new)} in this plan")


def _diff_lists(path: str, old: list[Any], new: list[Any], lines: list[str]) -> None:
    """:func:`_diff` of two lists: entries matched by name (or value), then compared field by field."""
    keys_old, keys_new = [_key(v) for v in old], [_key(v) for v in new]

    def entry(j: int) -> str:  # the path of new[j]: its index, and its name if it has one
        return f"{path}[{j}]({new[j]['name']})" if _named(new[j]) else f"{path}[{j}]"

    if sorted(keys_old) == sorted(keys_new) and keys_old != keys_new:  # reordered
        lines.append(
            f"{path}: in the order [{', '.join(keys_old)}] in the manifest, "
            f"[{', '.join(keys_new)}] in this plan"
        )
        where: dict[str, list[int]] = {}
        for i, key in enumerate(keys_old):
            where.setdefault(key, []).append(i)
        for j, key in enumerate(keys_new):
            _diff(entry(j), old[where[key].pop(0)], new[j], lines)
        return
    matcher = difflib.SequenceMatcher(a=keys_old, b=keys_new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        pairs = i2 - i1 == j2 - j1 and not any(_named(v) for v in old[i1:i2])
        if tag == "equal" or (tag == "replace" and pairs):
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                _diff(entry(j), old[i], new[j], lines)
            continue
        lines += [f"{path}[{i}]: removed in this plan: {_render(old[i])}" for i in range(i1, i2)]
        lines += [f"{path}[{j}]: added in this plan: {_render(new[j])}" for j in range(j1, j2)]


def plan_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The differences between two plan identities, one line per differing value, never shortened.

    A field is followed down to the value that differs: ``path: <recorded> in
    the manifest, <current> in this plan``. Entries of a list are matched by
    name (processes, views) or by value, so an entry that only one plan has
    reads ``path[i]: added in this plan: ...`` or ``removed in this plan: ...``.

    >>> plan_differences({"seed": 1, "pool": "shared"}, {"seed": 2, "pool": "shared"})
    ['seed: 1 in the manifest, 2 in this plan']
    >>> old = {"processes": [{"name": "qcd", "events": 5}]}
    >>> new = {"processes": [{"name": "qcd", "events": 6}, {"name": "ttbar", "events": 9}]}
    >>> for line in plan_differences(old, new):
    ...     print(line)
    processes[0](qcd).events: 5 in the manifest, 6 in this plan
    processes[1]: added in this plan: "ttbar" (events=9)
    """
    lines: list[str] = []
    _diff("", dict(recorded), dict(current), lines)
    return lines


def load_plan(
    path: Path | str | None = None, overrides: Mapping[str, Any] | None = None
) -> ProductionPlan:
    """Read a plan file and/or command-line values into a :class:`ProductionPlan`.

    Args:
        path: a TOML plan file (None: the plan is made of *overrides* alone).
            View-card paths in it are taken relative to the file.
        overrides: values that replace the file's (None values are ignored;
            ``engine`` is merged key by key).

    Raises:
        ConfigError: unreadable file, invalid TOML, or a bad value; the message
            names the file (or ``options``) and the path of each bad field.
    """
    data: dict[str, Any] = {}
    source = "options"
    if path is not None:
        path = Path(path)
        source = str(path)
        data = read_toml(path, "plan file")
        views = data.get("views")
        if isinstance(views, list):
            data["views"] = [
                str((path.parent / v).resolve())
                if isinstance(v, str) and Path(v).suffix and not Path(v).is_absolute()
                else v
                for v in views
            ]
        if any(v is not None for v in (overrides or {}).values()):
            source = f"{path} with the command-line options"
    return validate_data(deep_update(data, overrides or {}), ProductionPlan, source)
