"""The reference menu: the shipped file, decisions on hand-made events, calibration, saving, file errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.anomaly.menu import (
    DEFAULT_MENU,
    Menu,
    Seed,
    calibrate_menu,
    load_menu,
    menu_decisions,
    menu_rates,
    save_menu,
    seed_decisions,
    seed_quantity,
)
from l1scout.tasks.rates import CROSSING_RATE_KHZ, threshold_for_rate

# object index of the first e/gamma, muon, jet in the 19 trigger-input objects
EG, MU, JET = 1, 5, 9


def _put(
    x: np.ndarray, event: int, obj: int, pt: float, eta: float = 0.0, phi: float = 0.0
) -> None:
    x[event, 3 * obj : 3 * obj + 3] = (pt, eta, phi)


def _hand_events() -> tuple[np.ndarray, dict[str, list[int]]]:
    """Events with hand-computed seed decisions for the shipped (uncalibrated) menu."""
    x = np.zeros((12, 57), dtype=np.float32)
    _put(x, 0, MU, 25.0, 0.5)  # SingleMu (22)
    _put(x, 1, MU, 25.0, 2.6)  # outside |eta| < 2.4: nothing
    _put(x, 2, MU, 16.0, 0.1)  # DoubleMu: leading 16 > 15, second 8 > 7
    _put(x, 2, MU + 1, 8.0, -0.3)
    _put(x, 3, MU, 14.0)  # leading 14 < 15: no DoubleMu
    _put(x, 3, MU + 1, 8.0)
    _put(x, 4, EG + 1, 40.0, 1.0)  # SingleEG (36), in the second slot
    _put(x, 5, JET, 240.0, 3.0)  # SingleJet (230, any eta); HT ignores |eta| > 2.4
    _put(x, 6, JET, 200.0, 0.0)  # HT = 200 + 150 + 120 = 470 > 450
    _put(x, 6, JET + 1, 150.0, 1.0)
    _put(x, 6, JET + 2, 120.0, -1.0)
    _put(x, 7, JET, 200.0)  # HT = 200 + 150 + 90 = 440: the 25 GeV jet is below 30
    _put(x, 7, JET + 1, 150.0)
    _put(x, 7, JET + 2, 90.0)
    _put(x, 7, JET + 3, 25.0)
    x[8, 0] = 210.0  # MET (200)
    x[9, 0] = 200.0  # exactly at threshold: not above
    # 10: empty
    _put(x, 11, MU, 30.0, 0.0)  # two seeds at once: SingleMu and DoubleMu
    _put(x, 11, MU + 1, 10.0, 0.0)
    fired = {
        "SingleMu": [0, 11],
        "DoubleMu": [2, 11],
        "SingleEG": [4],
        "SingleJet": [5],
        "HT": [6],
        "MET": [8],
    }
    return x, fired


def test_shipped_menu_loads() -> None:
    menu = load_menu()
    assert menu == load_menu(DEFAULT_MENU)
    assert [s.name for s in menu.seeds] == [
        "SingleMu",
        "DoubleMu",
        "SingleEG",
        "SingleJet",
        "HT",
        "MET",
    ]
    assert menu.calibrated_on_events is None
    assert {s.object for s in menu.seeds} == {"muon", "egamma", "jet", "ht", "met"}
    assert menu.seed("SingleMu").threshold_gev == 22.0
    assert all(s.source for s in menu.seeds)
    with pytest.raises(ConfigError, match="no seed"):
        menu.seed("Tau")


def test_decisions_on_hand_made_events() -> None:
    x, fired = _hand_events()
    menu = load_menu()
    per_seed = seed_decisions(menu, x)
    assert list(per_seed) == list(fired)
    for name, events in fired.items():
        assert np.flatnonzero(per_seed[name]).tolist() == events, name
    expected_any = sorted({e for events in fired.values() for e in events})
    assert np.flatnonzero(menu_decisions(menu, x)).tolist() == expected_any


def test_seed_quantities_by_hand() -> None:
    x, _ = _hand_events()
    menu = load_menu()
    ht = seed_quantity(menu.seed("HT"), x)
    assert ht[6] == 470.0
    assert ht[7] == 440.0
    assert ht[5] == 0.0
    assert seed_quantity(menu.seed("DoubleMu"), x)[[2, 3, 11]].tolist() == [8.0, 0.0, 10.0]
    assert seed_quantity(menu.seed("SingleEG"), x)[4] == 40.0
    assert seed_quantity(menu.seed("MET"), x)[8] == 210.0
    # the second-highest object after the eta cut, not the second slot
    y = np.zeros((1, 57))
    _put(y, 0, JET, 300.0, 4.0)
    _put(y, 0, JET + 1, 100.0, 0.0)
    _put(y, 0, JET + 2, 80.0, 0.0)
    dijet = Seed(
        name="DiJet",
        object="jet",
        multiplicity=2,
        eta_max=2.4,
        threshold_gev=50.0,
        target_rate_khz=1.0,
    )
    assert seed_quantity(dijet, y).tolist() == [80.0]


def _synthetic_zero_bias(n: int, seed: int) -> np.ndarray:
    """Zero-bias-like inputs: continuous falling spectra, most events without leptons."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 57), dtype=np.float32)
    x[:, 0] = rng.exponential(25.0, n)
    has_mu = rng.random(n) < 0.4
    mu = rng.exponential(4.0, (n, 2)) * has_mu[:, None]
    mu = -np.sort(-mu, axis=1)
    x[:, 15], x[:, 18] = mu[:, 0], mu[:, 1]
    x[:, 16], x[:, 19] = rng.uniform(-2.3, 2.3, (2, n))
    x[:, 3] = rng.exponential(6.0, n)
    x[:, 4] = rng.uniform(-2.3, 2.3, n)
    jets = -np.sort(-rng.exponential(40.0, (n, 4)), axis=1)
    for j in range(4):
        x[:, 27 + 3 * j] = jets[:, j]
        x[:, 28 + 3 * j] = rng.uniform(-2.3, 2.3, n)
    return x


@pytest.fixture(scope="module")
def zero_bias() -> np.ndarray:
    return _synthetic_zero_bias(200_000, seed=1)


@pytest.mark.slow
def test_calibration_meets_the_target_rates(zero_bias: np.ndarray) -> None:
    menu = load_menu()
    calibrated = calibrate_menu(menu, zero_bias)
    n = len(zero_bias)
    assert calibrated.calibrated_on_events == n
    assert [s.name for s in calibrated.seeds] == [s.name for s in menu.seeds]
    rates = menu_rates(calibrated, zero_bias)
    for seed in calibrated.seeds:
        k = math.floor(n * seed.target_rate_khz / CROSSING_RATE_KHZ + 0.5)
        # continuous quantities, no ties: exactly the target count of events on this sample
        assert rates[seed.name].n_pass == k, seed.name
        assert rates[seed.name].rate_khz == pytest.approx(seed.target_rate_khz, rel=0.1), seed.name
        t = threshold_for_rate(seed_quantity(seed, zero_bias), seed.target_rate_khz)
        assert seed.threshold_gev == t.threshold
        # everything else about the seed is kept
        assert seed.model_dump(exclude={"threshold_gev"}) == menu.seed(seed.name).model_dump(
            exclude={"threshold_gev"}
        )
    assert rates["total"].n_pass <= sum(rates[s.name].n_pass for s in calibrated.seeds)
    # on an independent sample of the same kind the rates agree within the statistics
    other = _synthetic_zero_bias(200_000, seed=2)
    for name, r in menu_rates(calibrated, other).items():
        if name == "total":
            continue
        target = calibrated.seed(name).target_rate_khz
        sigma = math.sqrt(target / CROSSING_RATE_KHZ * len(other)) / len(other) * CROSSING_RATE_KHZ
        assert abs(r.rate_khz - target) < 4 * sigma * math.sqrt(2), name


def test_calibration_saturates_at_zero_when_too_few_events_have_the_object() -> None:
    x = np.zeros((1000, 57), dtype=np.float32)
    x[:3, 15] = (5.0, 6.0, 7.0)  # 3 muons in 1000 events, target: 10 events
    seed = Seed(
        name="SingleMu",
        object="muon",
        threshold_gev=22.0,
        target_rate_khz=10 / 1000 * CROSSING_RATE_KHZ,
    )
    menu = calibrate_menu(Menu(name="m", seeds=(seed,)), x)
    assert menu.seeds[0].threshold_gev == 0.0
    assert menu_rates(menu, x)["SingleMu"].n_pass == 3


def test_save_and_load_round_trip(tmp_path: Path, zero_bias: np.ndarray) -> None:
    calibrated = calibrate_menu(load_menu(), zero_bias[:50_000])
    odd = calibrated.model_copy(
        update={"description": 'quotes " and \\ backslash\nnew line, tab\t, µ, \x7f'}
    )
    path = save_menu(odd, tmp_path / "menus" / "calibrated.toml")
    assert path == tmp_path / "menus" / "calibrated.toml"
    assert load_menu(path) == odd
    assert "calibrated to target_rate_khz on 50000 zero-bias events" in path.read_text()
    assert sorted(p.name for p in path.parent.iterdir()) == ["calibrated.toml"]  # no temporary left
    # the shipped menu round-trips too
    assert load_menu(save_menu(load_menu(), tmp_path / "shipped.toml")) == load_menu()


def test_save_into_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write"):
        save_menu(load_menu(), blocker / "menu.toml")


SEED = (
    '[[seeds]]\nname = "SingleMu"\nobject = "muon"\nthreshold_gev = 22.0\ntarget_rate_khz = 12.0\n'
)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            'name = "m"\n' + SEED + SEED.replace("22.0", "-1.0").replace("SingleMu", "B"),
            r"seeds\[1\]\.threshold_gev",
        ),
        (
            'name = "m"\n' + SEED.replace("threshold_gev", "threshhold_gev"),
            r"seeds\[0\]\.threshhold_gev",
        ),
        ('name = "m"\n' + SEED.replace('"muon"', '"tau"'), r"seeds\[0\]\.object"),
        ('name = "m"\n' + SEED + "multiplicity = 5\n", r"seeds\[0\].*multiplicity.*4 muon"),
        ('name = "m"\n' + SEED + "leading_min_gev = 10.0\n", r"leading_min_gev.*multiplicity >= 2"),
        ('name = "m"\n' + SEED + "ht_jet_pt_min_gev = 30.0\n", r"ht_jet_pt_min_gev"),
        ('name = "m"\n' + SEED.replace('"muon"', '"met"') + "eta_max = 2.4\n", r"eta_max.*MET"),
        (
            'name = "m"\n' + SEED.replace('"muon"', '"ht"') + "multiplicity = 2\n",
            r"multiplicity.*ht",
        ),
        ('name = "m"\n' + SEED + SEED, r"seeds.*SingleMu more than once"),
        ('name = "m"\n' + SEED.replace("12.0", "0.0"), r"seeds\[0\]\.target_rate_khz"),
        ('name = "m"\n' + SEED.replace("12.0", "nan"), r"seeds\[0\]\.target_rate_khz"),
        ('name = "m"\n' + SEED.replace('"SingleMu"', '"Single Mu"'), r"seeds\[0\]\.name"),
        (
            'name = "m"\n' + SEED.replace('"SingleMu"', '"total"'),
            r"seeds\[0\].*'total' is reserved",
        ),
        ('name = "m"\nseeds = []\n', r"seeds: expected at least one"),
        ('name = "m"\nversion = 2\n' + SEED, r"version"),
        ("name = \n", "not a valid TOML"),
    ],
)
def test_menu_file_errors_name_the_field(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "menu.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_menu(path)
    assert str(path) in str(info.value)


def test_missing_menu_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_menu(tmp_path / "nope.toml")


def test_bad_inputs() -> None:
    menu = load_menu()
    with pytest.raises(DataFormatError, match="57"):
        menu_decisions(menu, np.zeros((3, 56)))
    with pytest.raises(DataFormatError, match="NaN"):
        menu_decisions(menu, np.full((3, 57), np.nan))
    with pytest.raises(DataFormatError, match="no events"):
        calibrate_menu(menu, np.zeros((0, 57)))
