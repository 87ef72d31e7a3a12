"""Faults of issue 16, item 6: a number written as a string was accepted in cards and plans.

Pydantic's lax mode read ``pileup = "3.8"`` as 3.8, so a quoted number (or a
boolean as ``"yes"``) went through silently. Every data file (detector cards,
production plans, task configurations) is now validated strictly for numbers
and booleans (:func:`l1scout._datafile.validate_data`): the message names the
file and the field and says ``expected a number, got the string '3.8'``, while
a TOML integer is still a valid float and strings still give paths and choices.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.detector import card as card_module
from l1scout.detector.card import load_frontend_card
from l1scout.detector.view_card import load_view_card
from l1scout.errors import CardError, ConfigError
from l1scout.production.plan import load_plan
from l1scout.tasks.anomaly.pipeline_config import load_pipeline_config

runner = CliRunner()
CARDS = Path(card_module.__file__).with_name("cards")
TTBAR = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
PLAN = f"""
seed = 3
shard_size = 2
pileup = 0.0
views = ["L1T"]
collections = ["Event"]

[[processes]]
name = "{TTBAR}"
events = 4

[engine]
kind = "single"
"""


def _card(tmp_path: Path, old: str, new: str, name: str = "L1T.toml") -> Path:
    """A copy of a shipped card with one value changed."""
    text = (CARDS / name).read_text()
    assert old in text
    path = tmp_path / f"my-{name}"
    path.write_text(text.replace(old, new, 1))
    return path


def _produce_refused(tmp_path: Path, plan_text: str) -> str:
    """``l1scout produce PLAN --out OUT`` on *plan_text*: exit 2, one line, OUT not made."""
    plan = tmp_path / "plan.toml"
    plan.write_text(plan_text)
    out = tmp_path / "out"
    result = runner.invoke(app, ["produce", str(plan), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.splitlines()) == 1, result.output
    assert not out.exists()
    return result.output.rstrip("\n")


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("pileup = 0.0", 'pileup = "3.8"', "pileup: expected a number, got the string '3.8'"),
        (
            "events = 4",
            'events = "4"',
            "processes[0].events: expected a number, got the string '4'",
        ),
        ("seed = 3", 'seed = "3"', "seed: expected a number, got the string '3'"),
        ("pileup = 0.0", "pileup = true", "pileup: expected a number, got true"),
        (
            'kind = "single"',
            'kind = "local"\nworkers = "2"',
            "engine.workers: expected a number, got the string '2'",
        ),
    ],
)
def test_plan_numbers_written_as_strings_are_refused(
    tmp_path: Path, old: str, new: str, line: str
) -> None:
    assert PLAN.count(old) == 1
    output = _produce_refused(tmp_path, PLAN.replace(old, new))
    assert output == f"error: {tmp_path / 'plan.toml'}: {line}"


def test_a_view_card_number_written_as_a_string_is_refused_through_the_plan(
    tmp_path: Path,
) -> None:
    card = _card(tmp_path, "bz_tesla = 3.8", 'bz_tesla = "3.8"')
    output = _produce_refused(tmp_path, PLAN.replace('views = ["L1T"]', f'views = ["{card}"]'))
    assert output == (
        f"error: {tmp_path / 'plan.toml'}: views: {card}: propagation.bz_tesla: "
        "expected a number, got the string '3.8'"
    )


def test_a_binned_function_entry_written_as_a_string_names_its_index(tmp_path: Path) -> None:
    card = _card(tmp_path, "edges = [2.0, 3.0, 4.0, 5.0, 8.0", 'edges = [2.0, "3.0", 4.0, 5.0, 8.0')
    with pytest.raises(CardError) as err:
        load_view_card(card)
    assert str(err.value) == (
        f"{card}: tracking.efficiency.electron.edges[1]: expected a number, got the string '3.0'"
    )


def test_a_front_end_card_number_written_as_a_string_is_refused(tmp_path: Path) -> None:
    card = _card(tmp_path, "mean = 200.0", 'mean = "200"', name="frontend.toml")
    with pytest.raises(CardError) as err:
        load_frontend_card(card)
    assert str(err.value) == f"{card}: pileup.mean: expected a number, got the string '200'"


def test_nan_in_a_card_is_refused_and_inf_kept(tmp_path: Path) -> None:
    card = _card(tmp_path, "mean = 200.0", "mean = nan", name="frontend.toml")
    with pytest.raises(CardError) as err:
        load_frontend_card(card)
    assert str(err.value) == f"{card}: pileup.mean: expected a number, got nan"
    # inf is an open last bin edge of the shipped cards, and stays valid
    assert "inf]" in (CARDS / "FullReco.toml").read_text()
    assert load_view_card(CARDS / "FullReco.toml").name == "FullReco"


def test_integers_paths_and_choices_from_toml_still_load(tmp_path: Path) -> None:
    # a TOML integer for a float field; a view card by a relative path; a literal choice
    card = _card(tmp_path, "bz_tesla = 3.8", "bz_tesla = 4")
    assert load_view_card(card).propagation.bz_tesla == 4.0
    plan = tmp_path / "plan.toml"
    plan.write_text(
        PLAN.replace("pileup = 0.0", "pileup = 0").replace(
            'views = ["L1T"]', f'views = ["{card.name}"]\npool = "per_shard"'
        )
    )
    loaded = load_plan(plan)
    assert loaded.pileup == 0.0
    assert isinstance(loaded.pileup, float)
    assert loaded.pool == "per_shard"
    assert loaded.views == (str(card.resolve()),)


def test_task_configs_are_strict_too(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "examples" / "anomaly" / "pipeline.toml"
    text = example.read_text()
    assert "[evaluation]" in text
    ok = tmp_path / "ok.toml"
    # a menu file by a path relative to the config, the "run3" choice, integer rates
    (tmp_path / "menu.toml").write_text(
        (
            Path(card_module.__file__).parents[1] / "tasks" / "anomaly" / "reference_menu.toml"
        ).read_text()
    )
    phase2 = 'crossing_rate = "phase2"'
    assert phase2 in text
    ok.write_text(text.replace(phase2, 'menu = "menu.toml"\ncrossing_rate = "run3"'))
    config = load_pipeline_config(ok)
    assert config.evaluation.menu == tmp_path / "menu.toml"
    assert config.evaluation.crossing_rate == "run3"
    bad = tmp_path / "bad.toml"
    rates = "rates_khz = [0.15, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]"
    assert rates in text
    bad.write_text(text.replace(rates, 'rates_khz = [1, "5.0"]'))
    with pytest.raises(ConfigError) as err:
        load_pipeline_config(bad)
    assert str(err.value) == (
        f"{bad}: evaluation.rates_khz[1]: expected a number, got the string '5.0'"
    )
