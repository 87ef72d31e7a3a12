from __future__ import annotations

import json
import tomllib
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from l1scout.detector.card import CARD_DIR, load_frontend_card
from l1scout.detector.view_card import load_view_card
from l1scout.errors import ConfigError
from l1scout.io.schema import GEN_COLUMNS
from l1scout.production.job import (
    DATASET_VERSION,
    GenerationConfig,
    _plan,
    available_collections,
    card_hashes,
    collection_of,
    columns_of,
    output_path,
    run_generation,
    settings_hash,
)

TTBAR = "tt0123j_5f_ckm_LO_MLM_leptonic"
SMALL = {"events": 12, "pileup": 15.0, "pool_size": 150}

# Gen-level columns of docs/physics/data-format.md with their dtypes
# (None: the reference names the field but not its dtype).
COLLIDE_GEN = {
    "Gen_Part": {
        "PID": "int32",
        "Status": "int8",
        "PT": "halffloat",
        "Eta": "halffloat",
        "Phi": "halffloat",
        "Mass": "float",
        "M1": "int32",
        "M2": "int32",
        "D1": "int32",
        "D2": "int32",
        "IsPU": "int8",
    },
    "Vertex": dict.fromkeys(["Index", "X", "Y", "Z", "T", "NDF", "SumPT2"]),
    "Event": dict.fromkeys(
        [
            "Number",
            "ProcessID",
            "Weight",
            "CrossSection",
            "CrossSectionError",
            "Scale",
            "AlphaQCD",
            "AlphaQED",
            "ID1",
            "ID2",
            "X1",
            "X2",
            "PDF1",
            "PDF2",
            "ScalePDF",
        ]
    ),
}


_PART = {
    "fUniqueID": "uint32",
    "PID": "int32",
    "Charge": "int8",
    **dict.fromkeys(["PT", "Eta", "Phi", "E"], "halffloat"),
    "Mass": "float",
    **dict.fromkeys(["D0", "DZ", "ErrorD0", "ErrorDZ"], "float"),
    "IsPU": "int8",
    "IsRecoPU": "int32",
    "PuppiW": "halffloat",
}
_LEP = {
    "Charge": "int8",
    **dict.fromkeys(["D0", "DZ", "ErrorD0", "ErrorDZ"], "float"),
    **dict.fromkeys(["PT", "Eta", "Phi"], "halffloat"),
}
_ISO = dict.fromkeys(["IsolationVar", "IsolationVarRhoCorr"], "float")
_JET = {
    **dict.fromkeys(["PT", "Eta", "Phi"], "halffloat"),
    "Mass": "float",
    "Charge": "int8",
    "Flavor": "uint32",
    "BTag": "int8",
    "BTagPhys": "int8",
    "NCharged": "int32",
    "NNeutrals": "int32",
    "Constituents": "list<element: uint32>",
    "ConstituentsIdx": "list<element: int16>",
}
_MET = dict.fromkeys(["MET", "Eta", "Phi"], "halffloat")
# Detector-view columns of the final COLLIDE schema (docs/physics/data-format.md).
COLLIDE_VIEW = {
    "PFPart": _PART,
    "PUPPIPart": _PART,
    "Electron": {**_LEP, "EhadOverEem": "float", **_ISO},
    "MuonTight": {**_LEP, **_ISO},
    "PhotonTight": {
        **dict.fromkeys(["PT", "Eta", "Phi"], "halffloat"),
        "EhadOverEem": "float",
        **_ISO,
    },
    "JetAK4": _JET,
    "JetAK8": _JET,
    "JetPuppiAK4": _JET,
    "JetPuppiAK8": _JET,
    "MET": _MET,
    "PUPPIMET": _MET,
    "Rho": {"Rho": "float"},
    "ScalarHT": {"HT": "float"},
}
COLLIDE_GEN_OBJECTS = {
    "Gen_JetAK4": {**dict.fromkeys(["PT", "Eta", "Phi"], "halffloat"), "Mass": "float"},
    "Gen_JetAK8": {**dict.fromkeys(["PT", "Eta", "Phi"], "halffloat"), "Mass": "float"},
    "Gen_MissingET": dict.fromkeys(["MET", "Eta", "Phi"]),
}


@pytest.fixture(scope="module")
def ttbar_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    return run_generation(GenerationConfig(process=TTBAR, seed=21, **SMALL), out).path


def test_file_name_and_metadata(ttbar_file: Path) -> None:
    assert ttbar_file == output_path(ttbar_file.parents[1], TTBAR, 12, 21)
    assert ttbar_file.name == f"{TTBAR}-NEVENT12-RS21.parquet"
    meta = {k.decode(): v.decode() for k, v in pq.read_metadata(ttbar_file).metadata.items()}
    assert meta["nEvents"] == meta["event_count"] == "12"
    assert meta["dataset_version"] == DATASET_VERSION
    assert meta["process"] == TTBAR
    assert meta["seed"] == "21"
    assert float(meta["pileup_mean"]) == 15.0
    assert meta["pileup_definition"] == "collide2v"
    assert "SoftQCD:all = on" in json.loads(meta["settings"])["pool"]["settings"]
    assert len(meta["settings_hash"]) == 64
    assert float(meta["cross_section_pb"]) > 1.0
    assert float(meta["cross_section_error_pb"]) > 0.0
    assert "l1scout_version" in meta
    assert json.loads(meta["settings"])["pool"]["size"] == 150
    assert pq.ParquetFile(ttbar_file).metadata.row_group(0).column(0).compression == "ZSTD"


def test_schema_matches_collide_column_by_column(ttbar_file: Path) -> None:
    schema = pq.read_schema(ttbar_file)
    expected = {**COLLIDE_GEN, **COLLIDE_GEN_OBJECTS}
    for view in ("FullReco", "L1T"):
        expected |= {f"{view}_{coll}": fields for coll, fields in COLLIDE_VIEW.items()}
    for collection, fields in expected.items():
        for field, dtype in fields.items():
            name = f"{collection}_{field}"
            assert name in schema.names, name
            typ = schema.field(name).type
            assert pa.types.is_list(typ), name
            if dtype is not None:
                # nothing is nullable in our files; COLLIDE's published types say nothing of it
                assert str(typ.value_type).replace(" not null", "") == dtype, (name, typ)
    # every written column is declared, extensions included, in order
    views = tuple(load_view_card(v) for v in ("FullReco", "L1T"))
    declared = columns_of(load_frontend_card(), views)
    assert schema.names == [c.name for c in declared]
    extensions = {c.name for c in declared if not c.collide}
    collide = {f"{c}_{f}" for c, fs in expected.items() for f in fs}
    assert set(schema.names) == collide | extensions


def test_truth_only_file_has_generator_columns(tmp_path: Path) -> None:
    config = GenerationConfig(process=TTBAR, seed=5, events=2, pileup=0.0, views=())
    path = run_generation(config, tmp_path).path
    assert pq.read_schema(path).names == [c.name for c in GEN_COLUMNS]


def test_event_content(ttbar_file: Path) -> None:
    a = ak.from_parquet(ttbar_file)
    assert len(a) == 12
    assert ak.all(ak.num(a.Event_Number) == 1)
    assert ak.flatten(a.Event_Number).tolist() == list(range(12))
    assert set(ak.flatten(a.Event_ProcessID).tolist()) <= {601, 602}
    pt = ak.values_astype(a.Gen_Part_PT, np.float32)
    assert ak.all(pt[:, :-1] >= pt[:, 1:])  # sorted by PT
    # IsPU by construction: hard particles at vertex 0, pileup ones at 1..N
    ispu, vidx = a.Gen_Part_IsPU, a.Gen_Part_VertexIndex
    assert ak.all((ispu == 1) == (vidx > 0))
    assert ak.all(ak.max(vidx, axis=1) == ak.flatten(a.Event_NumPU))
    assert ak.all(ak.num(a.Vertex_Index) == ak.flatten(a.Event_NumPU) + 1)
    # pileup particles are final state without family links
    pu = ispu == 1
    assert ak.all(a.Gen_Part_Status[pu] == 1)
    assert ak.all(a.Gen_Part_M1[pu] == -1)
    # hard truth: tops in the hard process, W leptons, links inside the event
    hard_pid = np.abs(ak.to_numpy(ak.flatten(a.Gen_Part_PID[~pu])))
    assert (hard_pid == 6).sum() >= 2 * 12
    n = ak.num(a.Gen_Part_PID)
    for col in ("M1", "M2", "D1", "D2"):
        links = a[f"Gen_Part_{col}"]
        assert ak.all((links >= -1) & (links < n))
    # a top's daughters include a W or a top (its copy), and they point back to it;
    # after the pT sort D1 and D2 name the first and last daughter, not a range
    for event in a:
        pid = event.Gen_Part_PID.to_numpy()
        m1, m2 = event.Gen_Part_M1.to_numpy(), event.Gen_Part_M2.to_numpy()
        for t in np.flatnonzero(np.abs(pid) == 6):
            kids = np.flatnonzero((m1 == t) | (m2 == t))
            if len(kids):
                assert {int(event.Gen_Part_D1[t]), int(event.Gen_Part_D2[t])} <= set(kids.tolist())
                assert set(pid[kids].tolist()) & {24, -24, 6, -6}
    # vertices sorted by SumPT2, truth positions follow the vertex table
    s2 = a.Vertex_SumPT2
    assert ak.all(s2[:, :-1] >= s2[:, 1:])
    v0 = ak.argmin(np.abs(a.Vertex_Index), axis=1, keepdims=True)
    hard_z = ak.flatten(a.Vertex_Z[v0])
    prompt_hard = (~pu) & (a.Gen_Part_Status == 1)
    # the median: decays of K0S, Lambda, ... happen up to metres away
    zpart = [np.median(np.asarray(z.to_list())) for z in a.Gen_Part_Z[prompt_hard]]
    assert np.allclose(zpart, ak.to_numpy(hard_z), atol=0.01)


def test_same_seed_gives_identical_bytes_and_other_seed_differs(
    tmp_path: Path, ttbar_file: Path
) -> None:
    again = run_generation(GenerationConfig(process=TTBAR, seed=21, **SMALL), tmp_path / "a").path
    assert again.read_bytes() == ttbar_file.read_bytes()
    other = run_generation(GenerationConfig(process=TTBAR, seed=22, **SMALL), tmp_path / "b").path
    a, b = ak.from_parquet(ttbar_file), ak.from_parquet(other)
    assert not ak.array_equal(a.Gen_Part_PT, b.Gen_Part_PT)


def test_no_pileup(tmp_path: Path) -> None:
    path = run_generation(
        GenerationConfig(process=TTBAR, events=3, seed=2, pileup=0), tmp_path
    ).path
    a = ak.from_parquet(path)
    assert ak.all(a.Gen_Part_IsPU == 0)
    assert ak.all(ak.num(a.Vertex_Index) == 1)
    assert ak.all(a.Event_NumPU == 0)
    # both W decay to leptons: charged leptons or taus in the hard truth of every event
    lep = np.isin(np.abs(ak.to_numpy(ak.flatten(a.Gen_Part_PID))), [11, 13, 15])
    assert lep.sum() >= 6


def test_lhe_input_is_showered(tmp_path: Path, lhe_file: Path) -> None:
    cfg = GenerationConfig(process="zmumu_lhe", lhe=lhe_file, events=10, seed=3, pileup=0)
    result = run_generation(cfg, tmp_path)
    assert result.events == 5  # the file holds 5 events
    assert result.path.name == "zmumu_lhe-NEVENT5-RS3.parquet"
    a = ak.from_parquet(result.path)
    for ev in range(5):
        pid = a.Gen_Part_PID[ev].to_numpy()
        status = a.Gen_Part_Status[ev].to_numpy()
        assert 23 in pid[status != 1]
        assert {13, -13} <= set(pid[status == 1].tolist())
    assert not list(tmp_path.rglob(".*tmp*"))


def test_existing_file_is_kept(tmp_path: Path, ttbar_file: Path) -> None:
    cfg = GenerationConfig(process=TTBAR, seed=21, **SMALL)
    with pytest.raises(ConfigError, match="exists already"):
        run_generation(cfg, ttbar_file.parents[1])


def test_a_killed_run_leaves_nothing(tmp_path: Path) -> None:
    class Killed(Exception):
        pass

    def die(stage: str, done: int, total: int) -> None:
        if stage == "events" and done > 0:
            raise Killed

    cfg = GenerationConfig(process=TTBAR, seed=5, events=60, pileup=0)
    with pytest.raises(Killed):
        run_generation(cfg, tmp_path, progress=die)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot create the output directory"):
        run_generation(GenerationConfig(process=TTBAR, seed=5, events=1, pileup=0), blocker)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"seed": 0}, "seed"),
        ({"seed": 900_000_001}, "seed"),
        ({"events": 0}, "events"),
        ({"pileup": -1.0}, "pileup"),
        ({"pool_size": 0}, "pool_size"),
        ({"process": "../x"}, "plain name"),
        ({"lhe": Path("/nonexistent.lhe")}, "does not exist"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_config_errors_name_the_field(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"process": TTBAR, "events": 1, "seed": 1}
    with pytest.raises(ValueError, match=message):
        GenerationConfig(**(base | fields))  # type: ignore[arg-type]


def test_unknown_process() -> None:
    with pytest.raises(ValueError, match="did you mean"):
        GenerationConfig(process="tt0123j_5f_ckm_LO_MLM_leptonik", events=1, seed=1)


# -- fast modes: only some collections -------------------------------------------------------


def test_fast_mode_writes_only_the_collections_with_the_full_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from l1scout.reco import view as reco_view

    clustered: list[float] = []
    real_cluster = reco_view.cluster_jets

    def counting(*args: object, **kwargs: object) -> object:
        clustered.append(args[5].radius)  # type: ignore[attr-defined]
        return real_cluster(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reco_view, "cluster_jets", counting)
    base: dict[str, object] = {"process": TTBAR, "events": 4, "seed": 31, "pileup": 0.0}
    full_timer: dict[str, float] = {}
    full = run_generation(GenerationConfig(**base), tmp_path / "full", timer=full_timer)  # type: ignore[arg-type]
    # one batch: 4 jet collections in each of 2 views, and 2 generator-jet collections
    assert len(clustered) == 10
    clustered.clear()
    wanted = ("L1T_PUPPIMET", "Event", "L1T_MuonTight", "L1T_JetAK4", "Gen_JetAK4")
    fast_timer: dict[str, float] = {}
    fast = run_generation(
        GenerationConfig(**base, collections=wanted),  # type: ignore[arg-type]
        tmp_path / "fast",
        timer=fast_timer,
    )
    assert clustered == [0.4, 0.4]  # Gen_JetAK4 and L1T_JetAK4 only
    assert not [k for k in fast_timer if k.startswith("FullReco")]  # the view is not simulated
    a, b = pq.read_table(full.path), pq.read_table(fast.path)
    assert b.column_names == [n for n in a.column_names if collection_of(n) in wanted]
    assert {collection_of(n) for n in b.column_names} == set(wanted)
    for name in b.column_names:  # the same numbers as the full file
        assert b.column(name).equals(a.column(name)), name
    meta_full = json.loads(pq.read_metadata(full.path).metadata[b"settings"])
    meta_fast = json.loads(pq.read_metadata(fast.path).metadata[b"settings"])
    assert "collections" not in meta_full  # full files keep the hash they always had
    assert meta_fast["collections"] == sorted(wanted)
    assert fast.settings_hash != full.settings_hash
    assert fast.settings_hash == settings_hash(GenerationConfig(**base, collections=wanted))  # type: ignore[arg-type]


def test_collections_are_validated(tmp_path: Path) -> None:
    cfg = GenerationConfig(
        process=TTBAR, events=1, seed=1, collections=("L1T_MET", "Event", "L1T_MET")
    )
    assert cfg.collections == ("Event", "L1T_MET")
    with pytest.raises(ValueError, match="at least one collection"):
        GenerationConfig(process=TTBAR, events=1, seed=1, collections=())
    bad = GenerationConfig(process=TTBAR, events=1, seed=1, pileup=0, collections=("L1T_MuonTigh",))
    with pytest.raises(
        ConfigError, match="unknown collection 'L1T_MuonTigh'; did you mean 'L1T_MuonTight'"
    ):
        run_generation(bad, tmp_path)
    other_view = GenerationConfig(
        process=TTBAR, events=1, seed=1, pileup=0, views=("L1T",), collections=("FullReco_MET",)
    )
    with pytest.raises(ConfigError, match="unknown collection 'FullReco_MET'"):
        run_generation(other_view, tmp_path)
    assert list(tmp_path.iterdir()) == []
    names = available_collections(GenerationConfig(process=TTBAR, events=1, seed=1, views=()))
    assert names == ("Gen_Part", "Vertex", "Event", "Gen_PartHS")


def test_zero_bias_trigger_collections_equal_those_of_the_full_file(tmp_path: Path) -> None:
    plan = Path(__file__).parents[2] / "examples/plans/zerobias_l1t.toml"
    trigger = tuple(tomllib.loads(plan.read_text())["collections"])
    base: dict[str, object] = {
        "process": "minbias",
        "events": 60,  # two batches
        "seed": 17,
        "pileup": 40.0,
        "pool_size": 150,
    }
    full = run_generation(GenerationConfig(**base), tmp_path / "full")  # type: ignore[arg-type]
    fast = run_generation(
        GenerationConfig(**base, views=("L1T",), collections=trigger),  # type: ignore[arg-type]
        tmp_path / "fast",
    )
    a, b = pq.read_table(full.path), pq.read_table(fast.path)
    assert {collection_of(n) for n in b.column_names} == set(trigger)
    for name in b.column_names:
        assert b.column(name).equals(a.column(name)), name
    assert pc.sum(pc.list_value_length(a.column("L1T_JetPuppiAK4_PT"))).as_py() > 0


# ------------------------------------------------------------ the pileup definition


def test_pileup_definition_sets_the_pool_and_keeps_the_default_hash(tmp_path: Path) -> None:
    base = {"process": TTBAR, "events": 5, "seed": 3}
    default = GenerationConfig(**base)  # type: ignore[arg-type]
    record = _plan(default).record
    # the default's record is the one of files made before the choice existed
    assert "pileup_definition" not in record
    assert "definition" not in record["pileup_card"]  # type: ignore[operator]
    text = (CARD_DIR / "frontend.toml").read_text()
    old_card = tmp_path / "old.toml"
    old_card.write_text(text.replace('definition = "collide2v"\n', ""))
    as_before = GenerationConfig(**base, card=old_card)  # type: ignore[arg-type]
    assert settings_hash(as_before) == settings_hash(default)
    assert card_hashes(as_before)["frontend"] == card_hashes(default)["frontend"]
    # inelastic, by option or by card: the same files, another pool, another hash
    by_option = GenerationConfig(**base, pileup_definition="inelastic")  # type: ignore[arg-type]
    inelastic_card = tmp_path / "inelastic.toml"
    inelastic_card.write_text(text.replace('definition = "collide2v"', 'definition = "inelastic"'))
    by_card = GenerationConfig(**base, card=inelastic_card)  # type: ignore[arg-type]
    assert settings_hash(by_option) == settings_hash(by_card) != settings_hash(default)
    assert card_hashes(by_card)["frontend"] != card_hashes(default)["frontend"]
    inel = _plan(by_option)
    assert inel.pileup_definition == "inelastic"
    assert inel.record["pileup_definition"] == "inelastic"
    pool = inel.record["pool"]
    assert isinstance(pool, dict)
    assert [x for x in pool["settings"] if x.startswith("SoftQCD")] == [
        "SoftQCD:nonDiffractive = on",
        "SoftQCD:singleDiffractive = on",
        "SoftQCD:doubleDiffractive = on",
        "SoftQCD:centralDiffractive = on",
    ]
    # the option overrides the card
    back = GenerationConfig(**base, card=inelastic_card, pileup_definition="collide2v")  # type: ignore[arg-type]
    assert settings_hash(back) == settings_hash(default)
    with pytest.raises(ValueError, match="pileup_definition"):
        GenerationConfig(**base, pileup_definition="elastic")  # type: ignore[arg-type]


@pytest.mark.slow  # Pythia's MPI set-up of the inelastic pool: about 20 s, once per session
def test_an_inelastic_file_says_so(tmp_path: Path, lhe_file: Path) -> None:
    from typer.testing import CliRunner

    from l1scout.cli.app import app
    from l1scout.io.inspect import inspect_file

    cfg = GenerationConfig(
        process="zmumu_lhe",
        lhe=lhe_file,
        events=3,
        seed=3,
        pileup=4.0,
        pool_size=40,
        views=(),
        pileup_definition="inelastic",
    )
    path = run_generation(cfg, tmp_path).path
    meta = {k.decode(): v.decode() for k, v in pq.read_metadata(path).metadata.items()}
    assert meta["pileup_definition"] == "inelastic"
    assert json.loads(meta["settings"])["pileup_definition"] == "inelastic"
    summary = inspect_file(path)
    assert (summary.pileup.definition, summary.pileup.source) == ("inelastic", "metadata")
    assert "SoftQCD:centralDiffractive = on" in summary.pileup.pool_softqcd
    # no pileup collision of the inelastic pool is a lone pair of protons (elastic)
    a = ak.from_parquet(path)
    pu = np.asarray(ak.flatten(a.Gen_Part_IsPU)) == 1
    assert pu.sum() > 3 * 4 * 2
    result = CliRunner().invoke(app, ["inspect", "--no-columns", str(path)])
    assert result.exit_code == 0, result.output
    assert "definition inelastic (inelastic collisions only, CMS's definition)" in " ".join(
        result.output.split()
    )
