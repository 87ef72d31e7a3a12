"""The classification configuration: the demo and the full-size files load, bad values are one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from l1scout.errors import ConfigError
from l1scout.processes import load_catalog
from l1scout.tasks.classify.classes import CLASS_NAMES, EVENT_CLASSES, ZERO_BIAS_CLASS
from l1scout.tasks.classify.config import ClassifyConfig, demo_config, load_classify_config

ROOT = Path(__file__).resolve().parents[3]
FULL = ROOT / "examples" / "classify" / "full.toml"


def test_demo_and_full_configs_load_with_every_class_from_the_catalog() -> None:
    catalog = set(load_catalog().names())
    for cfg in (demo_config(), load_classify_config(FULL)):
        assert cfg.data.classes == CLASS_NAMES
        assert set(cfg.data.processes) <= catalog
        assert cfg.data.views == ("FullReco", "L1T")
        assert cfg.data.pileup == 200.0  # one pileup for every class
        assert [m.kind for m in cfg.models] == ["transformer", "mlp", "particles"]
        assert cfg.evaluation.rates_khz == (1.0, 10.0)
    full = load_classify_config(FULL)
    transformer, mlp, _ = full.models
    # the public sizes
    assert (transformer.width, transformer.n_heads, transformer.n_layers, transformer.ff_dim) == (
        512,
        8,
        4,
        256,
    )
    assert mlp.hidden == 512


def test_defaults_are_all_18_classes_both_views_and_the_public_models() -> None:
    cfg = ClassifyConfig()
    assert len(cfg.data.classes) == 18
    assert cfg.data.processes == tuple(c.process for c in EVENT_CLASSES)
    assert cfg.data.source is None
    assert cfg.data.samples[0].events == 10_000
    assert cfg.models[0].width == 512


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[data]\nclasses = ["qcd", "higgs", "minbias"]', r"data\.classes.*unknown class 'higgs'"),
        (
            '[data]\nclasses = ["qcd", "qcd_bb"]',
            rf"data\.classes.*zero-bias class '{ZERO_BIAS_CLASS}'",
        ),
        ('[data]\nclasses = ["qcd", "qcd", "minbias"]', r"data\.classes.*'qcd' given twice"),
        ('[data]\nviews = ["L1T", "L1T"]', r"data\.views.*distinct"),
        ('[data]\nviews = ["HLT"]', r"data\.views.*shipped detector view"),
        ("[data]\nevents_per_class = 3", r"data\.events_per_class: 3 events leave fewer"),
        ("[data]\nevents = 3", r"data\.events.*[Ee]xtra"),
        (
            '[[models]]\nkind = "mlp"\n[[models]]\nkind = "mlp"',
            r"models.*'mlp' is already models\[0\]",
        ),
        ('[[models]]\nkind = "gnn"', r"models\[0\]\.kind"),
        ("[evaluation]\nrates_khz = [1.0, -5.0]", r"evaluation\.rates_khz.*positive"),
        ("[evaluation]\nrates_khz = [40000.0]", r"evaluation.*not below the crossing rate"),
        ("[splits]\nfractions = [0.5, 0.5, 0.5]", r"splits\.fractions"),
        ('[tracking]\nuri = "htp://x"', r"tracking\.uri.*unknown scheme"),
    ],
)
def test_config_errors_are_one_line_naming_file_and_field(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "study.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message) as info:
        load_classify_config(path)
    text = str(info.value)
    assert "study.toml" in text
    assert "\n" not in text.strip()


def test_a_source_needs_no_production_fields_and_keeps_the_classes(tmp_path: Path) -> None:
    path = tmp_path / "collide.toml"
    path.write_text('[data]\nsource = "/data/collide2v"\nclasses = ["minbias", "hh_4b"]\n')
    cfg = load_classify_config(path)
    assert cfg.data.source == "/data/collide2v"
    assert cfg.data.processes == ("minbias", "HH_4b")
