"""The MLPF configuration: the demo and full files, and one-line errors naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from l1scout.errors import ConfigError
from l1scout.processes.catalog import load_catalog
from l1scout.tasks.mlpf.config import (
    DEFAULT_MLPF_SAMPLES,
    MLPFConfig,
    demo_config,
    load_mlpf_config,
)
from l1scout.tasks.mlpf.data import mlpf_collections, mlpf_sample_files, production_plan
from l1scout.tasks.mlpf.model import MLPFModelConfig
from l1scout.tasks.mlpf.study import MLPFEvaluationSettings

ROOT = Path(__file__).resolve().parents[3]


def test_demo_and_full_configs_load_with_ttbar_and_qcd_from_the_catalog() -> None:
    demo = demo_config()
    full = load_mlpf_config(ROOT / "examples" / "mlpf" / "full.toml")
    catalog = {p.name for p in load_catalog()}
    for cfg in (demo, full):
        assert cfg.data.processes == tuple(DEFAULT_MLPF_SAMPLES)
        assert set(cfg.data.processes) <= catalog
        assert cfg.data.view == "FullReco"
        assert cfg.evaluation.match_dr == 0.1
        assert isinstance(cfg.evaluation, MLPFEvaluationSettings)
        assert cfg.deploy.parity_events == 100
    # the full run: pileup 200 and the published size (3 x 16 heads x 16, width 256)
    assert full.data.pileup == 200.0
    assert full.model == MLPFModelConfig()
    assert (full.model.width, full.model.n_heads, full.model.n_layers) == (256, 16, 3)
    # the demo: lower pileup, a small model, minutes not hours
    assert demo.data.pileup <= 20.0
    assert sum(s.events for s in demo.data.samples) <= 600
    assert demo.model.width <= 64


def test_the_plan_writes_the_elements_truth_and_both_pf_collections() -> None:
    cfg = demo_config()
    plan = production_plan(cfg)
    assert plan.views == ("FullReco",)
    assert plan.collections is not None
    assert set(plan.collections) == {
        "Event",
        "Gen_Part",
        "FullReco_PFPart",
        "FullReco_PUPPIPart",
        "FullReco_Track",
        "FullReco_Tower",
        "FullReco_TowerContrib",
    }
    assert plan.collections == mlpf_collections("FullReco")
    assert (plan.pileup, plan.seed) == (cfg.data.pileup, cfg.data.seed)
    files = mlpf_sample_files(cfg, "/data")
    assert list(files) == list(DEFAULT_MLPF_SAMPLES)
    assert all(len(v) == 2 for v in files.values())  # 250 events in shards of 125
    assert all(p.parts[2] == "samples" for v in files.values() for p in v)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlpf.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[training]\nlearning_rate = "fast"\n',
            "training.learning_rate: Input should be a valid number",
        ),
        (
            '[data]\nsamples = [{ process = "ttbar_nowhere", events = 5 }]\n',
            "data.samples[0].process: unknown process 'ttbar_nowhere'",
        ),
        ("[data]\npileup = nan\n", "data.pileup: expected a number, got nan"),
        ("[evaluation]\neta_max = nan\n", "evaluation.eta_max: expected a number, got nan"),
        ("[model]\nheads = 4\n", "model.heads: Extra inputs are not permitted"),
        ("[model]\nwidth = 30\nn_heads = 4\n", "model: n_heads: must divide width = 30"),
        ("[splits]\nfractions = [0.5, 0.5, 0.5]\n", "splits.fractions: expected three positive"),
        ('[data]\nview = "CLD"\n', "data.view: expected a detector view card"),
        ("[deploy]\nonnx = false\n", "deploy: triton: the Triton repository serves the ONNX"),
        (
            '[data]\nsamples = [{ process = "QCD_HT50toInf", events = 5 },'
            ' { process = "QCD_HT50toInf", events = 6 }]\n',
            "data: samples[1].process: 'QCD_HT50toInf' is already samples[0]",
        ),
        (
            '[data]\nsamples = [{ process = "QCD_HT50toInf", events = 3 }]\n',
            "data.samples[0].events: 3 events leave fewer than one expected in a split",
        ),
        ("[evaluation]\nmatch_dr = -1\n", "evaluation.match_dr: Input should be greater than 0"),
        ("[loss]\nfocal_gamma = -2.0\n", "loss.focal_gamma: Input should be greater than"),
        ("[training]\nbatch_events = 0\n", "training.batch_events: Input should be greater"),
        ('[transfer]\nview = "CLD"\n', "transfer.view: expected a detector view card"),
        (
            '[transfer]\ncollection = "PF+CHS"\n',
            "transfer: collection: expected 'MLPF' or 'MLPF + PU flag', got 'PF+CHS'",
        ),
        ("[transfer]\nsizes = [10, 10]\n", "transfer: sizes: expected distinct values"),
        ("[transfer]\njet_pt_range = [50, 20]\n", "transfer: jet_pt_range: expected 0 <= low"),
        ("[transfer]\nevents = 0\n", "transfer.events: Input should be greater than"),
    ],
)
def test_config_errors_are_one_line_naming_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_mlpf_config(path)
    message = str(err.value)
    assert message.count("\n") == 0, message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_defaults_are_the_full_size_run() -> None:
    cfg = MLPFConfig()
    assert cfg.data.pileup == 200.0
    assert cfg.model == MLPFModelConfig()
    assert cfg.tracking.alias == "champion"
