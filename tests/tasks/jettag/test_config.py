"""The jet-tagging configuration: defaults, the demo and full files, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.jettag.config import JetTagConfig, demo_config, load_jettag_config

_ROOT = Path(__file__).resolve().parents[3]


def test_demo_and_full_files_load() -> None:
    demo = demo_config()
    assert demo.data.pileup == 200.0
    assert demo.data.signal in demo.data.processes
    assert demo.data.zero_bias in demo.data.processes
    full = load_jettag_config(_ROOT / "examples" / "jettag" / "full.toml")
    # the example file is the defaults written out (but for its name)
    assert full.model_copy(update={"name": "jettag"}) == JetTagConfig()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jettag.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[data]\nsignal = "ggHbb"\n', "data: signal"),
        ('[data]\nviews = ["FullReco", "L1T"]\n', "data.views"),
        ('[data]\nviews = ["L1T", "Offline"]\n', "data.views"),
        ("[hh4b]\nrates_khz = [10.0, 10.0]\n", "hh4b.rates_khz"),
        ("[hh4b]\nmistag_rates = [0.0]\n", "hh4b.mistag_rates"),
        ("[hh4b]\nn_btags = [0]\n", "hh4b.n_btags"),
        ("[training]\nbatch = 3\n", "training.batch"),
        (
            '[data]\nsamples = [{ process = "minbias", events = 2 }, { process = "HH_4b", events = 2 }]\n',
            "data.samples",
        ),
    ],
)
def test_bad_values_name_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_jettag_config(path)
    assert str(path) in str(info.value)


def test_source_is_kept(tmp_path: Path) -> None:
    cfg = load_jettag_config(_write(tmp_path, '[data]\nsource = "/data/collide2v"\n'))
    assert cfg.data.source == "/data/collide2v"
