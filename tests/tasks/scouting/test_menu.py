"""The menu file and the result accounting: config errors, rates on distinct events, overlaps, merge."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.rates import clopper_pearson
from l1scout.tasks.scouting.menu import (
    AnomalySelection,
    DiTauSelection,
    W3PiSelection,
    load_menu,
    menu_from_dict,
)
from l1scout.tasks.scouting.results import EventFlags, MenuResult, OrbitOutcome
from l1scout.tasks.scouting.words import FILLED_BX, ORBIT_BX, ORBIT_RATE_KHZ

DEFAULT_MENU = Path(__file__).parents[3] / "src/l1scout/tasks/scouting/default_menu.toml"


# ---------------------------------------------------------------- the menu file


def test_default_menu_loads() -> None:
    menu = load_menu(DEFAULT_MENU)
    assert menu.names == ("w3pi", "single_muon", "ht", "ditau", "anomaly")
    w3pi = menu.selection[0]
    assert isinstance(w3pi, W3PiSelection)
    assert w3pi.cuts.pt_min == (7.0, 12.0, 15.0)
    assert w3pi.cuts.mass_max == 100.0
    assert menu.selection[3].source == "models:/l1scout-scouting-ditau@demo"
    assert menu.streams == ("puppi", "muon", "egamma", "jet", "sums")


def test_relative_model_paths_follow_the_menu_file(tmp_path: Path) -> None:
    folder = tmp_path / "menus"
    folder.mkdir()
    (folder / "m.toml").write_text(
        '[[selection]]\nname = "axo"\nkind = "anomaly"\nonnx = "models/axo.onnx"\n'
        'scaler = "/abs/scaler.json"\nthreshold = 3.5\n'
        '[[selection]]\nname = "tau"\nkind = "ditau"\nonnx = "tau.onnx"\n'
    )
    menu = load_menu(folder / "m.toml")
    axo, tau = menu.selection
    assert isinstance(axo, AnomalySelection)
    assert isinstance(tau, DiTauSelection)
    assert axo.onnx == str((folder / "models/axo.onnx").resolve())
    assert axo.scaler == "/abs/scaler.json"
    assert tau.source == str((folder / "tau.onnx").resolve())
    assert tau.params.charge_threshold == -math.inf
    assert tau.params.dvz_cut == math.inf


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "x", "kind": "w4pi"}, r"selection\[1\]: Input tag 'w4pi'"),
        (
            {"name": "x", "kind": "anomaly", "onnx": "a.onnx"},
            r"selection\[1\]\.threshold: Field required",
        ),
        (
            {"name": "x", "kind": "anomaly", "threshold": 1.0},
            r"selection\[1\]: model: give exactly one",
        ),
        (
            {"name": "x", "kind": "ditau", "model": "a.onnx"},
            r"selection\[1\]\.model: .*expected a registry URI models:/<name>@<alias>",
        ),
        (
            {"name": "x", "kind": "ditau", "model": "models:/a@b", "onnx": "a.onnx"},
            "give exactly one",
        ),
        (
            {"name": "x", "kind": "w3pi", "pt_min": [15, 12, 7]},
            r"selection\[1\]: pt_min: expected increasing",
        ),
        ({"name": "x", "kind": "w3pi", "mass_min": 100.0}, "mass_max: expected above mass_min"),
        (
            {"name": "x", "kind": "ht", "ht_min": "400"},
            r"selection\[1\]\.ht_min: expected a number",
        ),
        ({"name": "x", "kind": "ht", "threshold": 400}, r"selection\[1\]\.threshold: Extra inputs"),
        ({"name": "two words", "kind": "ht"}, r"selection\[1\]\.name: String should match"),
        ({"name": "mu", "kind": "ht"}, "expected distinct selection names, repeated: mu"),
        ({"name": "x", "kind": "single_muon", "quality_min": 16}, r"selection\[1\]\.quality_min"),
    ],
)
def test_menu_errors_name_the_field(table: dict, message: str) -> None:
    data = {"selection": [{"name": "mu", "kind": "single_muon"}, table]}
    with pytest.raises(ConfigError, match=message):
        menu_from_dict(data, where="m.toml")


def test_menu_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the menu"):
        load_menu(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[selection]\n")
    with pytest.raises(ConfigError, match="not a valid TOML"):
        load_menu(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text('name = "x"\n')
    with pytest.raises(ConfigError, match=r"empty.toml: selection: Field required"):
        load_menu(empty)


# ---------------------------------------------------------------- accounting

NAMES = ("a", "b", "c")
ZB, SIG, TAU = "minbias", "WTo3Pi", "tau"


def _outcome(orbit: int, rows: list[tuple[str, int, bool, str]]) -> OrbitOutcome:
    """One orbit: per BX (sample, event, injected, the selections passing)."""
    n = len(rows)
    bx = np.arange(n, dtype=np.int16)
    passed = {k: np.array([k in r[3] for r in rows]) for k in NAMES}
    tables = {
        k: {"orbit": np.full(int(p.sum()), orbit, np.int64), "bx": bx[p], "x": bx[p] * 1.5}
        for k, p in passed.items()
    }
    return OrbitOutcome(
        orbit=orbit,
        bx=bx,
        passed=passed,
        tables=tables,
        sample=np.array([r[0] for r in rows]),
        event=np.array([r[1] for r in rows], dtype=np.int64),
        injected=np.array([r[2] for r in rows]),
        problems={"bad_flag": orbit},
        seconds={"a": 0.5},
    )


ORBIT_1 = _outcome(
    1,
    [
        (ZB, 10, False, "ab"),
        (ZB, 10, False, "ab"),  # the same zero-bias event again: counts once
        (ZB, 11, False, "a"),
        (ZB, 12, False, ""),
        (SIG, 0, True, "a"),
        ("", -1, False, "c"),  # an empty BX: raw rate only
    ],
)
ORBIT_2 = _outcome(
    2,
    [(ZB, 11, False, "a"), (ZB, 13, False, "b"), (SIG, 1, True, ""), (TAU, 0, True, "b")],
)


def test_rates_on_distinct_zero_bias_events() -> None:
    r = MenuResult.from_outcomes(NAMES, [ORBIT_1, ORBIT_2], zero_bias=ZB)
    assert (r.n_orbits, r.n_bx, r.n_zero_bias) == (2, 10, 4)
    assert r.skipped_bx == 2 * ORBIT_BX - 10
    crossing = FILLED_BX * ORBIT_RATE_KHZ
    zb = r.zero_bias_rates()
    assert {k: (v.n_pass, v.n_total) for k, v in zb.items()} == {
        "a": (2, 4),
        "b": (2, 4),
        "c": (0, 4),
    }
    assert zb["a"].rate_khz == pytest.approx(0.5 * crossing)
    low, high = clopper_pearson(2, 4)
    assert (zb["a"].low_khz, zb["a"].high_khz) == pytest.approx((low * crossing, high * crossing))
    raw = r.raw_rates()
    assert raw == pytest.approx(
        {k: n / 10 * ORBIT_BX * ORBIT_RATE_KHZ for k, n in {"a": 5, "b": 4, "c": 1}.items()}
    )
    ov = r.overlaps()
    assert list(ov) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert [ov[k].n_pass for k in ov] == [1, 0, 0]
    pure = r.pure_rates()
    assert {k: v.n_pass for k, v in pure.items()} == {"a": 1, "b": 1, "c": 0}
    eff = r.efficiencies()
    assert r.signals == (SIG, TAU)
    got = {k: (e.passed, e.total) for k, e in eff.items()}
    assert got == {
        ("a", SIG): (1, 2), ("b", SIG): (0, 2), ("c", SIG): (0, 2),
        ("a", TAU): (0, 1), ("b", TAU): (1, 1), ("c", TAU): (0, 1),
    }  # fmt: skip
    assert r.problems == {"bad_flag": 3}
    assert r.seconds == {"a": 1.0}


def test_selected_bxs_and_tables() -> None:
    r = MenuResult.from_outcomes(NAMES, [ORBIT_1, ORBIT_2], zero_bias=ZB)
    s = r.selected
    assert list(zip(s["orbit"].tolist(), s["bx"].tolist(), strict=True)) == [
        (1, 0), (1, 1), (1, 2), (1, 4), (1, 5), (2, 0), (2, 1), (2, 3),
    ]  # fmt: skip
    assert s["a"].tolist() == [True, True, True, True, False, True, False, False]
    assert s["sample"].tolist()[3:5] == [SIG, ""]
    assert r.tables["b"]["bx"].tolist() == [0, 1, 1, 3]
    assert r.tables["b"]["orbit"].tolist() == [1, 1, 2, 2]


def test_combine_is_exact_and_order_free_for_events() -> None:
    whole = MenuResult.from_outcomes(NAMES, [ORBIT_1, ORBIT_2], zero_bias=ZB, files=["f1", "f2"])
    parts = [
        MenuResult.from_outcomes(NAMES, [ORBIT_1], zero_bias=ZB, files=["f1"]),
        MenuResult.from_outcomes(NAMES, [ORBIT_2], zero_bias=ZB, files=["f2"]),
    ]
    merged = MenuResult.combine(parts)
    assert merged.equal(whole)
    assert merged.seconds == whole.seconds
    backwards = MenuResult.combine(parts[::-1])
    assert backwards.events.equal(whole.events)
    assert not backwards.equal(whole)  # the tables follow the file order
    bad = MenuResult.from_outcomes(NAMES, [], zero_bias=ZB, bad_files=[("f3", "truncated")])
    with_bad = MenuResult.combine([*parts, bad])
    assert with_bad.bad_files == (("f3", "truncated"),)
    assert with_bad.zero_bias_rates()["a"] == whole.zero_bias_rates()["a"]
    with pytest.raises(DataFormatError, match="expected results of"):
        MenuResult.combine([parts[0], MenuResult.from_outcomes(("a",), [], zero_bias=ZB)])


def test_event_flags_merge() -> None:
    a = EventFlags(
        np.array(["z", "a"]), np.array([1, 2]), np.array([False, True]), np.array([1, 0], np.uint64)
    )
    b = EventFlags(np.array(["z"]), np.array([1]), np.array([False]), np.array([4], np.uint64))
    m = EventFlags.merged([a, b])
    assert m.sample.tolist() == ["a", "z"]
    assert m.bits.tolist() == [0, 5]
    assert m.injected.tolist() == [True, False]
    assert EventFlags.merged([]).equal(EventFlags.empty())


def test_no_zero_bias_gives_no_rate() -> None:
    r = MenuResult.from_outcomes(NAMES, [_outcome(1, [(SIG, 0, True, "a")])], zero_bias=ZB)
    assert r.zero_bias_rates() == dict.fromkeys(NAMES)
    assert r.summary()["selections"]["a"]["zero_bias_rate"] is None
    empty = MenuResult.from_outcomes(NAMES, [], zero_bias=ZB)
    assert empty.raw_rates() == dict.fromkeys(NAMES)


def test_write_and_summary(tmp_path: Path) -> None:
    r = MenuResult.from_outcomes(NAMES, [ORBIT_1, ORBIT_2], zero_bias=ZB, menu={"name": "m"})
    folder = r.write(tmp_path / "out")
    summary = json.loads((folder / "menu.json").read_text())
    assert summary["selections"]["a"]["zero_bias_rate"]["n_pass"] == 2
    assert summary["selections"]["b"]["efficiency"][TAU]["value"] == 1.0
    first = summary["overlaps"][0]  # a and b share one of the 4 distinct zero-bias events
    assert (first["a"], first["b"], first["rate"]["n_pass"], first["rate"]["n_total"]) == (
        "a",
        "b",
        1,
        4,
    )
    assert summary["menu"] == {"name": "m"}
    assert summary["seconds_per_orbit"] == {"a": 0.5}
    selected = pq.read_table(folder / "selected.parquet")
    assert selected.num_rows == 8
    assert selected.column_names[:5] == [
        "orbit",
        "bx",
        "sample",
        "event",
        "injected",
    ]
    events = pq.read_table(folder / "events.parquet").to_pydict()
    assert len(events["event"]) == 7  # 4 zero bias, 2 + 1 signal events
    assert pq.read_table(folder / "table_b.parquet").column("x").to_pylist() == [0.0, 1.5, 1.5, 4.5]
