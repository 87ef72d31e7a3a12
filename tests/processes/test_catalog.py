from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import CatalogError, UnknownProcessError
from l1scout.generate.pythia import PythiaSource, process_settings
from l1scout.processes import GROUPS, load_catalog
from l1scout.processes.catalog import DEFAULT_CATALOG

CAT = load_catalog()

# The 51 COLLIDE-2V process folders of docs/physics/data-format.md.
_FOLDERS = """
DYJetsToLL_13TeV-madgraphMLM-pythia8
ZJetsTo{vv,QQ,bb,cc}_13TeV-madgraphMLM-pythia8
WJetsTo{LNu,QQ}_13TeV-madgraphMLM-pythia8
gamma gamma_V tri_gamma QCD_HT50toInf QCD_HT50tobb minbias
tt0123j_5f_ckm_LO_MLM_{hadronic,semiLeptonic,leptonic}
ttH_incl tttt_incl ttW_incl ttZ_incl
{WW,WZ,ZZ}_{leptonic,hadronic,semileptonic}
VVV_incl VH_incl
ggH{bb,cc,gammagamma,gluglu,tautau,WW,ZZ}
VBFH{bb,cc,gammagamma,gluglu,tautau,WW,ZZ}
HH_{4b,bbtautau,bbWW,bbZZ,bbgammagamma}
upsilon_to_leptons
"""


def _expand(pattern: str) -> list[str]:
    match = re.search(r"\{([^}]*)\}", pattern)
    if not match:
        return [pattern]
    out = []
    for choice in match.group(1).split(","):
        out += _expand(pattern[: match.start()] + choice + pattern[match.end() :])
    return out


COLLIDE_NAMES = [name for token in _FOLDERS.split() for name in _expand(token)]


def test_reference_list_has_51_names() -> None:
    assert len(COLLIDE_NAMES) == len(set(COLLIDE_NAMES)) == 51


@pytest.mark.parametrize("name", COLLIDE_NAMES)
def test_every_collide_folder_is_in_the_catalog(name: str) -> None:
    spec = CAT.get(name)
    assert spec.in_collide
    assert spec.group in GROUPS
    assert spec.differences


@pytest.mark.parametrize(
    ("name", "parameter"),
    [
        ("ADC2021_A50_4l", 50.0),
        ("ADC2021_LQ80_btau", 80.0),
        ("ADC2021_h0_60_tautau", 60.0),
        ("ADC2021_hplus60_taunu", 60.0),
    ],
)
def test_adc2021_benchmarks_carry_their_mass(name: str, parameter: float) -> None:
    spec = CAT.get(name)
    assert spec.group == "BSM"
    assert parameter in [v for v in spec.parameters.values() if isinstance(v, int | float)]


def test_signal_families_are_present() -> None:
    names = CAT.names()
    for needle in (
        "Zprime_qq",
        "Zprime_tautau",
        "H_aa_4b",
        "H_aa_4tau",
        "H_aa_2b2tau",
        "H_aa_4gamma",
    ):
        assert needle in names
    assert any(n.startswith("light_scalar_tautau") for n in names)
    assert any("DarkShower" in n and "prompt" in n for n in names)
    assert any("DarkShower" in n and "semi" in n for n in names)
    assert any(n.startswith("HNL") for n in names)
    for spec in CAT:
        if spec.group == "BSM":
            assert spec.parameters, f"{spec.name} has no physics parameters"


def test_unknown_process_suggests_close_names() -> None:
    with pytest.raises(UnknownProcessError) as err:
        CAT.get("ggHtautua")
    assert "ggHtautau" in err.value.suggestions
    assert "ggHtautau" in str(err.value)


@pytest.mark.parametrize("spec", list(CAT), ids=lambda s: s.name)
def test_every_entry_initialises_and_yields_events(spec) -> None:  # type: ignore[no-untyped-def]
    source = PythiaSource(process_settings(CAT, spec), seed=11, label=spec.name)
    raw = source.generate(3)
    assert raw.n_events == 3
    assert np.all(np.diff(raw.offsets) > 2)
    assert (raw.status > 0).any()
    sigma, _ = source.cross_section_pb()
    assert sigma > 0


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    return path


_HEADER = DEFAULT_CATALOG.read_text().split("[[process]]")[0]
_GOOD = """
[[process]]
name = "x"
description = "d"
group = "QCD"
in_collide = false
settings = ["HardQCD:all = on"]
differences = "none"
"""


def test_a_custom_catalog_loads(tmp_path: Path) -> None:
    cat = load_catalog(_write(tmp_path, _HEADER + _GOOD))
    assert cat.names() == ["x"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('group = "QCD"', 'group = "qcd"'), r"process\[0\]\.group"),
        (
            ('settings = ["HardQCD:all = on"]', 'settings = ["HardQCD:all on"]'),
            r"process\[0\]\.settings\[0\].*Key = value",
        ),
        (
            ('settings = ["HardQCD:all = on"]', 'settings = ["Random:seed = 3"]'),
            r"controlled by l1scout",
        ),
        (
            ('differences = "none"', 'differences = "none"\nfoo = 1'),
            r"process\[0\]\.foo.*Extra inputs",
        ),
        (('name = "x"', 'name = "a/b"'), r"process\[0\]\.name"),
    ],
)
def test_malformed_catalog_names_file_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = _write(tmp_path, _HEADER + _GOOD.replace(*change))
    with pytest.raises(CatalogError, match=message) as err:
        load_catalog(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "setting",
    [
        "HiggsSM:ff2Hff(t:WW) = on",
        "HiggsBSM:ffbar2H+- = on",
        "Bottomonium:gg2bbbar(3S1)[3S1(1)]g = on",
    ],
)
def test_pythia_names_with_brackets_are_accepted(tmp_path: Path, setting: str) -> None:
    path = _write(tmp_path, _HEADER + _GOOD.replace("HardQCD:all = on", setting))
    assert load_catalog(path).get("x").settings == (setting,)


def test_duplicate_names_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="appears twice"):
        load_catalog(_write(tmp_path, _HEADER + _GOOD + _GOOD))


def test_not_toml_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not a valid TOML"):
        load_catalog(_write(tmp_path, "this is = = not toml"))
