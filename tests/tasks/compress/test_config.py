"""The compression task's configuration: the demo and full files, and refusals naming their field."""

from __future__ import annotations

from pathlib import Path

import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.compress.config import (
    BASELINE_FAMILIES,
    CompressConfig,
    QuantBits,
    demo_config,
    load_compress_config,
)
from l1scout.tasks.compress.data import production_plan
from l1scout.tasks.scouting.samples import ZERO_BIAS_COLLECTIONS

EXAMPLE = Path(__file__).parents[3] / "examples" / "compress" / "full.toml"


def _refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_compress_config(path)
    message = str(err.value)
    assert str(path) in message
    return message


def test_demo_and_full_files_load() -> None:
    demo = demo_config()
    assert demo.name == "compress-demo"
    assert demo.data.processes_all == (
        "minbias",
        "tt0123j_5f_ckm_LO_MLM_semiLeptonic",
        "light_scalar_tautau_m40",
        "ADC2021_hplus60_taunu",
    )
    assert demo.data.pileup == 200.0
    assert demo.baselines.which == BASELINE_FAMILIES
    full = load_compress_config(EXAMPLE)
    assert full.data.zero_bias.events == 20_000
    # the full run scans more than the demo, in every direction
    assert len(full.baselines.quantized) > len(demo.baselines.quantized)
    assert len(full.learned_points()) > len(demo.learned_points())


def test_the_production_is_the_stream_view_at_pileup_200() -> None:
    plan = production_plan(demo_config().data)
    assert plan.views == ("L1T",)
    assert plan.collections == ZERO_BIAS_COLLECTIONS
    assert plan.pileup == 200.0
    assert [p.name for p in plan.processes] == list(demo_config().data.processes_all)


def test_the_scan_points_are_latent_times_bits() -> None:
    cfg = CompressConfig.model_validate(
        {
            "learned": {
                "set_ae": {"latent": [8, 16], "bits": [3, 5, 7]},
                "vicreg": {"enabled": False},
            }
        }
    )
    assert cfg.learned_points() == [
        ("set_ae", 8, 3),
        ("set_ae", 8, 5),
        ("set_ae", 8, 7),
        ("set_ae", 16, 3),
        ("set_ae", 16, 5),
        ("set_ae", 16, 7),
    ]
    assert QuantBits(pt=1, eta=1, phi=1, z0=1, puppi_w=1).total == 8


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[data]\npileup = -1\n", "data.pileup"),
        ("[data]\ncandidates = 129\n", "data.candidates"),
        ("[data]\nprocesses = []\n", "data.processes"),
        ('[data]\nprocesses = [{ process = "minbias", events = 100 }]\n', "data"),
        ('[data]\nprocesses = [{ process = "nosuch_process", events = 100 }]\n', "data.processes"),
        ("[baselines]\nquantized = [{ pt = 17 }]\n", "baselines.quantized[0].pt"),
        ('[baselines]\nwhich = ["int_pack", "int_pack"]\n', "baselines.which"),
        ('[baselines]\nwhich = ["gzip"]\n', "baselines.which"),
        ("[learned.set_ae]\nbits = [0]\n", "learned.set_ae.bits"),
        ('[learned.set_ae]\nloss = "mse"\n', "learned.set_ae.loss"),
        ("[learned.set_ae]\nlatent = []\n", "learned.set_ae.latent"),
        ("[report]\nbudgets = [64, 32]\n", "report.budgets"),
        ("[splits]\nfractions = [0.5, 0.5, 0.5]\n", "splits.fractions"),
        ("[fidelity]\nrate_khz = 1.0\n", "fidelity.rate_khz"),
        ("[deploy]\nthreads = 0\n", "deploy.threads"),
        ("[tracking]\nuri = 'htp://host'\n", "tracking.uri"),
        ("[nosuch]\nx = 1\n", "nosuch"),
        ("[fidelity]\nrate_khz = nan\n", "fidelity.rate_khz"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(tmp_path: Path, text: str, field: str) -> None:
    assert field in _refused(tmp_path, text)


def test_the_fixed_rate_must_be_resolved_by_the_zero_bias_test_part(tmp_path: Path) -> None:
    # 2,000 x 0.2 = 400 test events; 10 x 31,039 / 500 kHz needs 621
    text = (
        '[data]\nzero_bias = { process = "minbias", events = 2000 }\n[fidelity]\nrate_khz = 500.0\n'
    )
    message = _refused(tmp_path, text)
    assert "fidelity.rate_khz: 500 kHz needs 621 zero-bias events" in message
    ok = text.replace("500.0", "800.0")
    (tmp_path / "ok.toml").write_text(ok)
    assert load_compress_config(tmp_path / "ok.toml").fidelity.rate_khz == 800.0


def test_no_codec_at_all_is_refused(tmp_path: Path) -> None:
    text = (
        "[baselines]\nwhich = []\n[learned.set_ae]\nenabled = false\n"
        "[learned.vicreg]\nenabled = false\n"
    )
    assert "expected at least one codec" in _refused(tmp_path, text)


def test_a_sample_too_small_for_a_split_is_refused(tmp_path: Path) -> None:
    text = '[data]\nprocesses = [{ process = "light_scalar_tautau_m40", events = 3 }]\n'
    assert "data.processes[0].events: 3 events" in _refused(tmp_path, text)
