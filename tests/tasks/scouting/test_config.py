"""The scouting task's configuration: the demo and full files, and every refusal naming its field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.rates import CROSSING_RATE_KHZ
from l1scout.tasks.scouting.config import (
    DEFAULT_MENU,
    RATE_MARGIN,
    ScoutingConfig,
    demo_config,
    load_scouting_config,
)
from l1scout.tasks.scouting.menu import load_menu

EXAMPLE = Path(__file__).parents[3] / "examples" / "scouting" / "full.toml"

SMALL = """
[data]
zero_bias = { process = "minbias", events = 2000 }
signals = [{ process = "light_scalar_tautau_m40", events = 100 }]
"""


def _write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_scouting_config(path)
    message = str(err.value)
    assert str(path) in message
    return message


def test_demo_and_full_files_load_and_their_menus_load() -> None:
    demo = demo_config()
    assert demo.name == "scouting-demo"
    assert demo.data.zero_bias.events == 2000
    assert demo.tau_signals == ("light_scalar_tautau_m40",)
    assert demo.menu.file == DEFAULT_MENU
    assert "ditau" in load_menu(demo.menu.file).names
    full = load_scouting_config(EXAMPLE)
    assert full.orbits.n_orbits == 50
    assert full.data.zero_bias.events == 20_000
    # the demo's boosts inject a handful of each signal per orbit, not more than there are events
    for s in demo.data.signals:
        assert s.events * demo.splits.fractions[2] >= 2


def test_defaults_are_a_full_size_run() -> None:
    cfg = ScoutingConfig()
    assert cfg.orbits.candidates == 128
    assert cfg.orbits.lumi_cm2s == 7.5e34
    assert cfg.engine.kind == "single"
    assert cfg.model_names() == {
        "anomaly": "l1scout-scouting-anomaly",
        "ditau": "l1scout-scouting-ditau",
    }
    # the default menu loads the models under the names and alias the task registers
    uris = {s.model for s in load_menu(cfg.menu.file).selection if getattr(s, "model", None)}
    assert uris == {f"models:/{n}@{cfg.tracking.alias}" for n in cfg.model_names().values()}


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ("[orbits]\ncandidates = 129", "orbits.candidates"),
        ("[orbits]\nrun = 128", "orbits.run"),
        ("[orbits]\nlumi_cm2s = 'high'", "orbits.lumi_cm2s"),
        ("[orbits]\nfilling = 'run3'", "orbits.filling"),
        ("[orbits]\nn_orbits = 0", "orbits.n_orbits"),
        ("[orbits]\nwords = 3", "orbits.words"),
        ("[models]\ntrain = 'yes'", "models.train"),
        ("[models.anomaly]\nrate_khz = nan", "models.anomaly.rate_khz"),
        ("[tracking]\nalias = 'latest'", "tracking.alias"),
        ("[splits]\nfractions = [0.5, 0.5, 0.0]", "splits.fractions"),
    ],
)
def test_a_bad_value_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, table: str, field: str
) -> None:
    message = _refused(tmp_path, SMALL + table)
    assert f"{field}:" in message


def test_orbit_numbers_must_fit_the_30_bit_header_field(tmp_path: Path) -> None:
    message = _refused(tmp_path, SMALL + "[orbits]\nfirst_orbit = 1073741823\nn_orbits = 2")
    assert "n_orbits" in message
    assert "30-bit" in message
    ok = _write(tmp_path, SMALL + "[orbits]\nfirst_orbit = 1073741822\nn_orbits = 2", "ok.toml")
    assert load_scouting_config(ok).orbits.first_orbit == 1073741822


def test_the_validation_zero_bias_must_measure_the_working_point_rates(tmp_path: Path) -> None:
    # 2000 x 0.2 = 400 validation events measure rate >= 1.1 x 31,039 / 400 = 85.4 kHz
    limit = RATE_MARGIN * CROSSING_RATE_KHZ / 400
    message = _refused(tmp_path, SMALL + f"[models.ditau]\nrate_khz = {math.floor(limit)}")
    assert "models.ditau.rate_khz" in message
    assert "400" in message
    ok = _write(tmp_path, SMALL + f"[models.ditau]\nrate_khz = {math.ceil(limit)}", "ok.toml")
    assert load_scouting_config(ok).models.ditau.rate_khz == math.ceil(limit)
    # without a models stage there is no working point to measure
    off = _write(
        tmp_path, SMALL + "[models]\ntrain = false\n[models.ditau]\nrate_khz = 1", "off.toml"
    )
    assert not load_scouting_config(off).models.train


def test_every_sample_must_leave_an_event_in_each_part(tmp_path: Path) -> None:
    text = SMALL + '[[data.signals]]\nprocess = "WTo3Pi"\nevents = 3\n'
    message = _refused(tmp_path, text.replace("signals = [", "# signals = ["))
    assert "data.signals[0].events" in message


def test_the_tau_signals_must_be_data_signals(tmp_path: Path) -> None:
    message = _refused(tmp_path, SMALL + "[models.ditau]\nsignals = ['ZTauTau']")
    assert "models.ditau.signals[0]" in message
    no_tau = SMALL.replace("light_scalar_tautau_m40", "WTo3Pi")
    assert "models.ditau.signals" in _refused(tmp_path, no_tau)
    named = _write(tmp_path, no_tau + "[models]\ntrain = false", "named.toml")
    assert load_scouting_config(named).tau_signals == ()


def test_a_relative_menu_path_is_taken_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "menus").mkdir()
    menu = tmp_path / "menus" / "m.toml"
    menu.write_text('[[selection]]\nname = "mu"\nkind = "single_muon"\n')
    cfg = load_scouting_config(_write(tmp_path, SMALL + "[menu]\npath = 'menus/m.toml'"))
    assert cfg.menu.file == menu
    message = _refused(tmp_path, SMALL + "[menu]\npath = 'menus/none.toml'")
    assert "menu.path" in message
    assert "does not exist" in message
