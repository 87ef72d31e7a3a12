from __future__ import annotations

from pathlib import Path

import pytest

from l1scout.detector.card import CARD_DIR, load_frontend_card
from l1scout.errors import CardError


def test_shipped_card_has_the_reference_values() -> None:
    card = load_frontend_card()
    p = card.pileup
    assert (p.mean, p.distribution) == (200.0, "poisson")
    assert (p.sigma_z_mm, p.sigma_t_ps, p.z_max_mm, p.t_max_ps) == (53.0, 160.0, 250.0, 800.0)
    assert p.definition == "collide2v"  # COLLIDE-2V's SoftQCD:all pool stays the default


def test_a_card_without_the_definition_reads_as_collide2v(tmp_path: Path) -> None:
    # cards copied before the field existed keep their meaning (and their hash)
    text = (CARD_DIR / "frontend.toml").read_text()
    line = 'definition = "collide2v"\n'
    assert line in text
    old = tmp_path / "old.toml"
    old.write_text(text.replace(line, ""))
    assert load_frontend_card(old) == load_frontend_card()
    new = tmp_path / "inelastic.toml"
    new.write_text(text.replace(line, 'definition = "inelastic"\n'))
    assert load_frontend_card(new).pileup.definition == "inelastic"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("sigma_z_mm = 53.0", "sigma_z_mm = -1.0", r"pileup\.sigma_z_mm.*greater than 0"),
        ('distribution = "poisson"', 'distribution = "gauss"', r"pileup\.distribution"),
        ("mean = 200.0", "mean = 200.0\nmu = 3", r"pileup\.mu.*Extra inputs"),
        ("sigma_t_ps = 160.0", 'sigma_t_ps = "wide"', r"pileup\.sigma_t_ps"),
        (
            'definition = "collide2v"',
            'definition = "elastic"',
            r"pileup\.definition.*'collide2v' or 'inelastic'",
        ),
        ('definition = "collide2v"', "definition = 200", r"pileup\.definition"),
    ],
)
def test_malformed_card_names_file_and_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = (CARD_DIR / "frontend.toml").read_text()
    assert old in text
    path = tmp_path / "card.toml"
    path.write_text(text.replace(old, new))
    with pytest.raises(CardError, match=message) as err:
        load_frontend_card(path)
    assert str(path) in str(err.value)


def test_missing_card(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="cannot read"):
        load_frontend_card(tmp_path / "nope.toml")
