"""Faults of issue 17: a saved model that does not fit the soft-tau configuration.

``l1scout run taus CONFIG`` with ``[models] load`` reads the saved models
instead of training (:mod:`l1scout.tasks.taus.model_files`). A model file of
the wrong shape, a missing file or a missing folder must stop the run before
any data is produced, with exit status 2 and one line naming the file (or the
configuration field) and what was expected, and no traceback; as
``test_task_configs.py`` does for the other tasks, the production and the
tau samples' function are replaced by ones that fail the test if called.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
import torch
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.tasks.taus.config import load_tau_config
from l1scout.tasks.taus.model_files import save_tau_model
from l1scout.tasks.taus.nnpuppitau import NNPuppiTau
from l1scout.tasks.taus.transformer import SoftTauTransformer

runner = CliRunner()

TAUS = """
name = "faults-taus"
[data]
zero_bias = { process = "minbias", events = 24 }
signals = [{ process = "light_scalar_tautau_m40", events = 40 }]
pileup = 200.0
shard_size = 40
engine = { kind = "single" }
[rate]
rate_khz = 20000.0
[transformer.model]
embed_dims = [8]
n_heads = 2
ff_dim = 8
head_hidden = 8
[models]
load = "saved"
"""


def _fail(*_args: object, **_kwargs: object) -> NoReturn:
    raise AssertionError("work started before the saved models were checked")


@pytest.fixture
def study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The configuration beside a folder ``saved/`` of three models that fit it."""
    monkeypatch.setattr("l1scout.production.driver.produce", _fail)
    monkeypatch.setattr("l1scout.tasks.taus.data.ensure_tau_samples", _fail)
    config = tmp_path / "taus.toml"
    config.write_text(TAUS)
    (tmp_path / "saved").mkdir()
    cfg = load_tau_config(config)
    assert cfg.models.load == tmp_path / "saved"  # beside the file, not the working directory
    torch.manual_seed(0)
    saved = tmp_path / "saved"
    save_tau_model(NNPuppiTau(), saved / "nnpuppitau.pt", name="nnpuppitau")
    for name in ("transformer_clue", "transformer_ak4"):
        save_tau_model(SoftTauTransformer(cfg.transformer.model), saved / f"{name}.pt", name=name)
    return config


def _refused(config: Path, starts: str) -> str:
    out, data = config.parent / "out", config.parent / "data"
    result = runner.invoke(
        app, ["run", "taus", str(config), "--out", str(out), "--data", str(data)]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {starts}"), lines[0]
    assert not out.exists()
    assert not data.exists()
    return lines[0]


def test_a_model_file_of_the_wrong_shape_is_one_line_naming_it(study: Path) -> None:
    cfg = load_tau_config(study)
    wider = cfg.transformer.model.model_copy(update={"ff_dim": 16})
    path = study.parent / "saved" / "transformer_ak4.pt"
    save_tau_model(SoftTauTransformer(wider), path, name="transformer_ak4")
    line = _refused(study, f"{path}: ")
    assert line == (
        f"error: {path}: parameter encoder.0.linear1.weight has shape (16, 8) in the file; "
        "the configured architecture expects (8, 8) (set by transformer.model.ff_dim = 8; "
        "the file was built with 16)"
    )


def test_a_missing_model_file_is_named(study: Path) -> None:
    path = study.parent / "saved" / "nnpuppitau.pt"
    path.unlink()
    line = _refused(study, f"{path}: no such model file")
    assert line.endswith(
        "models.load needs one per configured method (candidates.methods "
        "['clue', 'ak4', 'nnpuppitau']: transformer_clue.pt, transformer_ak4.pt, nnpuppitau.pt)"
    )


def test_a_missing_folder_names_the_field(study: Path) -> None:
    study.write_text(TAUS.replace('load = "saved"', 'load = "elsewhere"'))
    line = _refused(study, f"{study}: models.load: ")
    assert f"{study.parent / 'elsewhere'} does not exist" in line
