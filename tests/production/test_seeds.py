from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.generate.pythia import MAX_SEED
from l1scout.processes.catalog import DEFAULT_CATALOG, load_catalog
from l1scout.production.plan import ProductionPlan
from l1scout.production.seeds import (
    KIND_EVENTS,
    KIND_POOL,
    MAX_PLAN_SEED,
    PROCESS_SLOTS,
    SHARD_SLOTS,
    SHARED_SLOT,
    SeedCoordinates,
    layout_seed,
    pool_seed,
    process_slot,
    seed_coordinates,
    shard_seed,
)

# The catalog as it was when the seed layout was fixed. A process's slot is its
# position, so inserting or reordering processes would change the seeds (and the
# files) of every production made before: append new processes at the end only.
CATALOG_ORDER = (
    "minbias",
    "QCD_HT50toInf",
    "QCD_HT50tobb",
    "DYJetsToLL_13TeV-madgraphMLM-pythia8",
    "ZJetsTovv_13TeV-madgraphMLM-pythia8",
    "ZJetsToQQ_13TeV-madgraphMLM-pythia8",
    "ZJetsTobb_13TeV-madgraphMLM-pythia8",
    "ZJetsTocc_13TeV-madgraphMLM-pythia8",
    "WJetsToLNu_13TeV-madgraphMLM-pythia8",
    "WJetsToQQ_13TeV-madgraphMLM-pythia8",
    "gamma",
    "gamma_V",
    "tri_gamma",
    "upsilon_to_leptons",
    "tt0123j_5f_ckm_LO_MLM_leptonic",
    "tt0123j_5f_ckm_LO_MLM_hadronic",
    "tt0123j_5f_ckm_LO_MLM_semiLeptonic",
    "ttW_incl",
    "ttZ_incl",
    "tttt_incl",
    "WW_leptonic",
    "WW_hadronic",
    "WW_semileptonic",
    "WZ_leptonic",
    "WZ_hadronic",
    "WZ_semileptonic",
    "ZZ_leptonic",
    "ZZ_hadronic",
    "ZZ_semileptonic",
    "VVV_incl",
    "ttH_incl",
    "VH_incl",
    "ggHbb",
    "ggHcc",
    "ggHgammagamma",
    "ggHgluglu",
    "ggHtautau",
    "ggHWW",
    "ggHZZ",
    "VBFHbb",
    "VBFHcc",
    "VBFHgammagamma",
    "VBFHgluglu",
    "VBFHtautau",
    "VBFHWW",
    "VBFHZZ",
    "HH_4b",
    "HH_bbtautau",
    "HH_bbWW",
    "HH_bbZZ",
    "HH_bbgammagamma",
    "ADC2021_A50_4l",
    "ADC2021_LQ80_btau",
    "ADC2021_h0_60_tautau",
    "ADC2021_hplus60_taunu",
    "light_scalar_tautau_m20",
    "light_scalar_tautau_m40",
    "light_scalar_tautau_m60",
    "Zprime_qq",
    "Zprime_tautau",
    "H_aa_4b",
    "H_aa_4tau",
    "H_aa_2b2tau",
    "H_aa_4gamma",
    "DarkShower_prompt",
    "DarkShower_semivisible",
    "HNL_longlived",
    "dark_photon_dilepton",
    "minbias_inelastic",
    "ZTauTau",
    "WTo3Pi",
)


def test_catalog_order_is_frozen() -> None:
    names = load_catalog().names()
    assert names[: len(CATALOG_ORDER)] == list(CATALOG_ORDER), (
        "the catalog order changed: append new processes at the end (seeds depend on positions)"
    )
    assert len(names) < PROCESS_SLOTS


def test_process_slot_is_one_plus_catalog_position() -> None:
    for position, name in enumerate(CATALOG_ORDER):
        assert process_slot(name) == position + 1
    with pytest.raises(ConfigError, match="did you mean 'minbias'"):
        process_slot("minbiass")


def test_layout_by_hand() -> None:
    # 1 + (((p - 1) * 2 + kind) * 100 + slot) * 20000 + index, computed by hand
    assert layout_seed(1, KIND_EVENTS, 0, 0) == 1
    assert layout_seed(1, KIND_EVENTS, 1, 0) == 20_001
    assert layout_seed(1, KIND_EVENTS, 1, 19_999) == 40_000
    assert layout_seed(1, KIND_POOL, SHARED_SLOT, 0) == 2_000_001
    assert layout_seed(2, KIND_EVENTS, 0, 0) == 4_000_001
    assert layout_seed(3, KIND_POOL, 17, 5) == 1 + ((2 * 2 + 1) * 100 + 17) * 20_000 + 5
    assert layout_seed(MAX_PLAN_SEED, KIND_POOL, PROCESS_SLOTS - 1, SHARD_SLOTS - 1) == MAX_SEED
    assert MAX_PLAN_SEED == 225
    assert shard_seed(4, "tt0123j_5f_ckm_LO_MLM_semiLeptonic", 9) == layout_seed(4, 0, 17, 9)
    assert pool_seed(4) == layout_seed(4, 1, 0, 0)
    assert pool_seed(4, "minbias", 2) == layout_seed(4, 1, 1, 2)


@pytest.mark.parametrize(
    ("coords", "message"),
    [
        ((0, 0, 1, 0), r"plan seed must be an integer in \[1, 225\]"),
        ((226, 0, 1, 0), "plan seed"),
        ((1, 2, 1, 0), r"seed kind must be an integer in \[0, 1\]"),
        ((1, -1, 1, 0), "seed kind"),
        ((1, 0, 100, 0), r"process slot must be an integer in \[0, 99\]"),
        ((1, 0, -1, 0), "process slot"),
        ((1, 0, 1, 20_000), r"shard index must be an integer in \[0, 19999\]"),
        ((1, 0, 1, -1), "shard index"),
        ((True, 0, 1, 0), "plan seed"),
    ],
)
def test_bounds_are_checked(coords: tuple[int, int, int, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        layout_seed(*coords)


def test_inverse_round_trip() -> None:
    rng = np.random.default_rng(3)
    corners = list(
        itertools.product((1, 2, MAX_PLAN_SEED), (0, 1), (0, 1, 99), (0, 1, SHARD_SLOTS - 1))
    )
    randoms = zip(
        rng.integers(1, MAX_PLAN_SEED + 1, 2000).tolist(),
        rng.integers(0, 2, 2000).tolist(),
        rng.integers(0, PROCESS_SLOTS, 2000).tolist(),
        rng.integers(0, SHARD_SLOTS, 2000).tolist(),
        strict=True,
    )
    for coords in [*corners, *randoms]:
        seed = layout_seed(*coords)
        assert 1 <= seed <= MAX_SEED
        assert seed_coordinates(seed) == SeedCoordinates(*coords)
    assert seed_coordinates(1) == SeedCoordinates(1, 0, 0, 0)
    assert seed_coordinates(MAX_SEED) == SeedCoordinates(225, 1, 99, 19_999)
    with pytest.raises(ConfigError):
        seed_coordinates(0)
    with pytest.raises(ConfigError):
        seed_coordinates(MAX_SEED + 1)


def test_layout_is_a_bijection_on_a_slice() -> None:
    # every seed of plan seeds 1-2 appears exactly once (both kinds, all slots, a
    # stride of shard indices), and consecutive seeds map to consecutive coordinates
    seeds = [
        layout_seed(p, k, s, i)
        for p in (1, 2)
        for k in (0, 1)
        for s in range(PROCESS_SLOTS)
        for i in range(0, SHARD_SLOTS, 997)
    ]
    assert len(set(seeds)) == len(seeds)
    block = [seed_coordinates(s) for s in range(4_000_000 - 2, 4_000_000 + 3)]
    assert [(c.plan_seed, c.kind, c.slot, c.index) for c in block] == [
        (1, 1, 99, 19_997),
        (1, 1, 99, 19_998),
        (1, 1, 99, 19_999),
        (2, 0, 0, 0),
        (2, 0, 0, 1),
    ]


def _collide_scale_plan(seed: int) -> ProductionPlan:
    # 83,000 shards over every catalog process: COLLIDE-2V's file count
    names = load_catalog().names()
    per = 83_000 // len(names)
    processes = [{"name": n, "events": per * 10_000} for n in names]
    processes[0]["events"] += (83_000 - per * len(names)) * 10_000
    return ProductionPlan(seed=seed, processes=processes, pool="per_shard")


def test_every_seed_of_a_collide_scale_plan_is_unique() -> None:
    plan = _collide_scale_plan(1)
    shards = plan.shards()
    assert len(shards) == 83_000
    events = [s.seed for s in shards]
    pools = [s.pool_seed for s in shards]
    every = events + pools + [pool_seed(1)]
    assert len(set(every)) == len(every)
    assert all(isinstance(s, int) and 1 <= s <= MAX_SEED for s in every)
    # the file names carry the seed, so they are unique too
    assert len({s.file for s in shards}) == len(shards)
    # each seed decodes to its own shard
    for shard in shards[::97]:
        c = seed_coordinates(shard.seed)
        assert (c.plan_seed, c.kind, c.slot, c.index) == (
            1,
            KIND_EVENTS,
            process_slot(shard.process),
            shard.index,
        )


def test_plans_never_share_a_seed() -> None:
    small = {"processes": [{"name": "minbias", "events": 3 * 10_000}], "pool": "per_shard"}
    by_plan = {
        s: {x for sh in ProductionPlan(seed=s, **small).shards() for x in (sh.seed, sh.pool_seed)}
        | {pool_seed(s)}
        for s in (1, 2, 100, 225)
    }
    for a, b in itertools.combinations(by_plan, 2):
        assert not by_plan[a] & by_plan[b], (a, b)
    # and each plan seed owns its block of 4,000,000 seeds
    for s, seeds in by_plan.items():
        assert all((s - 1) * 4_000_000 < x <= s * 4_000_000 for x in seeds)


def test_a_catalog_beyond_the_slots_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_CATALOG.read_text()
    block = re.search(r"\[\[process\]\]\nname = \"minbias\".*?\n\n", text, re.S)
    assert block is not None
    extra = "".join(
        block.group(0).replace('name = "minbias"', f'name = "extra{i}"') for i in range(40)
    )
    path = tmp_path / "catalog.toml"
    path.write_text(text.rstrip() + "\n\n" + extra)
    catalog = load_catalog(path)
    assert len(catalog) == len(CATALOG_ORDER) + 40
    last_ok = catalog.names()[PROCESS_SLOTS - 2]
    assert process_slot(last_ok, path) == PROCESS_SLOTS - 1
    with pytest.raises(ConfigError, match="slots for the first 99 processes"):
        process_slot(catalog.names()[PROCESS_SLOTS - 1], path)
