from __future__ import annotations

import re
from pathlib import Path

import pytest

from l1scout.detector.card import CARD_DIR
from l1scout.errors import ConfigError
from l1scout.production.plan import ProductionPlan, load_plan, plan_differences

TTBAR = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"  # catalog position 16: slot 17
EXAMPLES = Path(__file__).parents[2] / "examples" / "plans"


def _plan_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path


BASE = f"""
seed = 3
shard_size = 100
[[processes]]
name = "{TTBAR}"
events = 250
"""


def test_shards_are_named_sized_and_seeded_as_designed() -> None:
    plan = ProductionPlan(
        seed=2,
        processes=[{"name": TTBAR, "events": 25_000}, {"name": "minbias", "events": 10_000}],
    )
    shards = plan.shards()
    assert [(s.process, s.index, s.events) for s in shards] == [
        (TTBAR, 0, 10_000),
        (TTBAR, 1, 10_000),
        (TTBAR, 2, 5_000),
        ("minbias", 0, 10_000),
    ]
    # 1 + (((2 - 1) * 2 + 0) * 100 + 17) * 20000 + index, by hand
    assert [s.seed for s in shards[:3]] == [4_340_001, 4_340_002, 4_340_003]
    assert shards[3].seed == 1 + (2 * 100 + 1) * 20_000
    assert shards[2].file == f"{TTBAR}/{TTBAR}-NEVENT5000-RS4340003.parquet"
    # the shared pool: kind 1, slot 0, index 0 of plan seed 2
    assert {s.pool_seed for s in shards} == {1 + (1 * 2 + 1) * 100 * 20_000}
    assert plan.total_events == 35_000
    assert plan.pileup_mean == 200.0  # the front-end card's


def test_pool_seeds_per_shard_and_without_pileup() -> None:
    per = ProductionPlan(
        seed=2, shard_size=10, pool="per_shard", processes=[{"name": TTBAR, "events": 20}]
    )
    assert [s.pool_seed for s in per.shards()] == [6_340_001, 6_340_002]
    none = ProductionPlan(
        seed=2, shard_size=10, pileup=0, processes=[{"name": TTBAR, "events": 20}]
    )
    assert [s.pool_seed for s in none.shards()] == [None, None]


def test_generation_config_of_a_shard() -> None:
    plan = ProductionPlan(
        seed=2,
        shard_size=10,
        pileup=15,
        pool_size=120,
        views=("L1T",),
        collections=("L1T_PUPPIMET", "Event"),
        processes=[{"name": TTBAR, "events": 15}],
    )
    shard = plan.shards()[1]
    cfg = plan.generation_config(shard)
    assert (cfg.process, cfg.events, cfg.seed, cfg.pool_seed) == (
        TTBAR,
        5,
        shard.seed,
        shard.pool_seed,
    )
    assert (cfg.pileup, cfg.pool_size, cfg.views) == (15.0, 120, ("L1T",))
    assert cfg.collections == ("Event", "L1T_PUPPIMET")
    names = [c.name for c in plan.columns()]
    assert names[0] == "Event_Number"
    assert names[-1] == "L1T_PUPPIMET_Phi"
    assert {n.rsplit("_", 1)[0] for n in names} == {"Event", "L1T_PUPPIMET"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed = 0", r"plan\.toml: seed: Input should be greater than or equal to 1"),
        ("seed = 226", r"seed: Input should be less than or equal to 225"),
        ("sede = 3", r"sede: Extra inputs are not permitted"),
        ("shard_size = 0", r"shard_size: Input should be greater than or equal to 1"),
        ('pool = "both"', r"pool: Input should be 'shared' or 'per_shard'"),
        ("pileup = -1.0", r"pileup: Input should be greater than or equal to 0"),
        ("retries = -1", r"retries: Input should be greater than or equal to 0"),
        ('views = ["L2T"]', r"views: view 'L2T': not a shipped view"),
        ('views = ["L1T", "L1T"]', r"views: views must have distinct names"),
        ("collections = []", r"collections: name at least one collection"),
        (
            'collections = ["Event", "L1T_MuonTigh"]',
            r"collections\[1\]: unknown collection 'L1T_MuonTigh'; did you mean 'L1T_MuonTight'",
        ),
        (
            'views = ["L1T"]\ncollections = ["FullReco_MET"]',
            r"collections\[0\]: unknown collection 'FullReco_MET'.*views L1T have",
        ),
        (
            '[[processes]]\nname = "minbiass"\nevents = 5',
            r"processes\[1\]\.name: unknown process 'minbiass'; did you mean 'minbias'",
        ),
        (
            '[[processes]]\nname = "minbias"\nevents = 0',
            r"processes\[1\]\.events: Input should be greater than 0",
        ),
        (f'[[processes]]\nname = "{TTBAR}"\nevents = 5', r"listed twice \(processes\[1\]\)"),
        (
            '[[processes]]\nname = "minbias"\nevents = 2_000_001',
            r"processes\[1\]\.events: 2,000,001 events of minbias make 20,001 shards of 100",
        ),
        ('[engine]\nkind = "kubernetes"', r"engine\.kind: Input should be 'local', 'address'"),
        ('[engine]\nkind = "address"', r"engine\.address: the 'address' engine needs"),
        ('[engine]\naddress = "tcp://x:1"', r"engine\.address is for the 'address' engine only"),
        ('[engine]\nmemory = "lots"', r"engine\.memory: String should match pattern"),
        ('[engine]\nwalltime = "2 days"', r"engine\.walltime: String should match pattern"),
        (
            '[engine]\nkind = "htcondor"\njob_extra_directives = ["no equals sign"]',
            r"engine\.job_extra_directives\[0\]: HTCondor lines read 'Key = Value'",
        ),
    ],
)
def test_bad_values_are_named_by_field_path(tmp_path: Path, text: str, message: str) -> None:
    # BASE with the case's lines: top-level keys replace BASE's, tables go last
    if text.startswith("["):
        body = f"{BASE}\n{text}\n"
    else:
        key = text.split(" =", 1)[0]
        kept = [line for line in BASE.splitlines() if not line.startswith(f"{key} =")]
        body = f"{text}\n" + "\n".join(kept) + "\n"
    with pytest.raises(ConfigError, match=message):
        load_plan(_plan_file(tmp_path, body))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed = 3\n", r"processes: Field required"),
        ("seed = 3\nprocesses = []\n", r"processes: name at least one process"),
        ("seed = \n", r"not a valid TOML file"),
        ('processes = [{name = "minbias", events = 1}]\n', r"seed: Field required"),
    ],
)
def test_incomplete_or_broken_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_plan(_plan_file(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the plan file"):
        load_plan(tmp_path / "nope.toml")


def test_options_override_the_file(tmp_path: Path) -> None:
    path = _plan_file(
        tmp_path, BASE + '\n[engine]\nkind = "slurm"\njobs = 4\ncores = 8\nqueue = "short"\n'
    )
    plan = load_plan(
        path,
        {
            "seed": 5,
            "pileup": None,  # None: keep the file's (here: unset)
            "processes": [{"name": "minbias", "events": 7}],
            "engine": {"kind": "local", "workers": 3},
        },
    )
    assert plan.seed == 5
    assert plan.shard_size == 100
    assert [(r.name, r.events) for r in plan.processes] == [("minbias", 7)]
    assert (plan.engine.kind, plan.engine.workers, plan.engine.jobs, plan.engine.cores) == (
        "local",
        3,
        4,
        8,
    )
    with pytest.raises(ConfigError, match=r"with the command-line options: shard_size"):
        load_plan(path, {"shard_size": -1})
    with pytest.raises(ConfigError, match=r"^options: seed: Field required"):
        load_plan(None, {"processes": [{"name": "minbias", "events": 7}]})


def _my_view(folder: Path, change: tuple[str, str] | None = None) -> Path:
    text = (CARD_DIR / "L1T.toml").read_text().replace('name = "L1T"', 'name = "MyView"', 1)
    if change:
        assert change[0] in text
        text = text.replace(*change, 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "my_view.toml"
    path.write_text(text)
    return path


def test_view_card_paths_are_relative_to_the_plan(tmp_path: Path) -> None:
    _my_view(tmp_path / "cards")
    path = _plan_file(
        tmp_path, BASE.replace("seed = 3", 'seed = 3\nviews = ["cards/my_view.toml", "L1T"]')
    )
    plan = load_plan(path)
    assert plan.views == (str((tmp_path / "cards" / "my_view.toml").resolve()), "L1T")
    names = [c.name for c in plan.columns()]
    assert "MyView_PUPPIMET_MET" in names
    assert "L1T_PUPPIMET_MET" in names


def _plan(**fields: object) -> ProductionPlan:
    base: dict[str, object] = {
        "seed": 3,
        "shard_size": 10,
        "views": ("L1T",),
        "processes": [{"name": TTBAR, "events": 30}],
    }
    return ProductionPlan.model_validate(base | fields)


def test_plan_hash_covers_what_makes_the_bytes(tmp_path: Path) -> None:
    ref = _plan()
    same = [
        _plan(retries=7),
        _plan(engine={"kind": "single"}),
        _plan(pileup=200.0),  # the card's mean, made explicit
        _plan(pileup_definition="collide2v"),  # the card's definition, made explicit
    ]
    for plan in same:
        assert plan.plan_hash() == ref.plan_hash()
    different = {
        "seed": _plan(seed=4),
        "shard_size": _plan(shard_size=11),
        "pileup": _plan(pileup=100.0),
        "pool": _plan(pool="per_shard"),
        "pool_size": _plan(pool_size=100),
        "views": _plan(views=("L1T", "FullReco")),
        "collections": _plan(collections=["Event"]),
        "processes": _plan(processes=[{"name": TTBAR, "events": 31}]),
    }
    for field, plan in different.items():
        assert plan.plan_hash() != ref.plan_hash(), field
        # each line names the value that differs, under its top-level field
        lines = plan_differences(ref.identity(), plan.identity())
        assert {re.split(r"[:.\[]", d)[0] for d in lines} == {field}, lines
    # collections are a set
    a = _plan(collections=["Event", "L1T_MET"]).plan_hash()
    assert a == _plan(collections=["L1T_MET", "Event", "L1T_MET"]).plan_hash()
    # without pileup the pool does not matter
    assert _plan(pileup=0, pool="per_shard").plan_hash() == _plan(pileup=0).plan_hash()
    # a view card's content counts, not its path
    one = _my_view(tmp_path / "a")
    two = _my_view(tmp_path / "b")
    changed = _my_view(tmp_path / "c", ("max_candidates = 1000", "max_candidates = 999"))
    assert _plan(views=(str(one),)).plan_hash() == _plan(views=(str(two),)).plan_hash()
    lines = plan_differences(
        _plan(views=(str(one),)).identity(), _plan(views=(str(changed),)).identity()
    )
    assert len(lines) == 1
    assert lines[0].startswith("views[0](MyView).card_sha256: ")


def test_plan_differences_text() -> None:
    a = _plan().identity()
    b = _plan(seed=9, shard_size=12).identity()
    assert plan_differences(a, b) == [
        "seed: 3 in the manifest, 9 in this plan",
        "shard_size: 10 in the manifest, 12 in this plan",
    ]
    assert plan_differences(a, a) == []


def test_example_plans_are_valid() -> None:
    zero = load_plan(EXAMPLES / "zerobias_l1t.toml")
    assert zero.views == ("L1T",)
    assert zero.total_events == 10_000_000
    assert len(zero.shards()) == 1_000
    assert zero.collections is not None
    assert "L1T_PUPPIMET" in zero.collections
    assert not any(re.match("FullReco|Gen_Part", c.name) for c in zero.columns())
    collide = load_plan(EXAMPLES / "collide_like.toml")
    shards = collide.shards()
    assert 740e6 < collide.total_events < 760e6  # COLLIDE-2V: about 750 million events
    assert len(shards) == 74_800
    assert collide.engine.kind == "slurm"
    seeds = [s.seed for s in shards] + [s.pool_seed for s in shards]
    assert len(set(seeds)) == len(seeds)


def test_pileup_definition_reaches_the_shards_and_the_identity() -> None:
    ref = _plan()
    inelastic = _plan(pileup_definition="inelastic")
    assert ref.effective_pileup_definition == "collide2v"
    assert "pileup_definition" not in ref.identity()  # plans made before keep their hash
    shard = inelastic.shards()[0]
    assert inelastic.generation_config(shard).pileup_definition == "inelastic"
    assert ref.generation_config(ref.shards()[0]).pileup_definition == "collide2v"
    # the pool's Pythia settings and the named definition both change
    fields = [d.split(":")[0] for d in plan_differences(ref.identity(), inelastic.identity())]
    assert fields == ["pileup_definition", "pool_settings_sha256"]
    # without pileup there is no pool, but the definition is still named
    none = _plan(pileup=0, pileup_definition="inelastic").identity()
    assert none["pool_settings_sha256"] is None
    with pytest.raises(
        ConfigError, match=r"pileup_definition: Input should be 'collide2v' or 'inelastic'"
    ):
        load_plan(
            None,
            {"seed": 1, "pileup_definition": "all", "processes": [{"name": TTBAR, "events": 1}]},
        )
