"""Saved soft-tau models (``model_files``): round trips, every refusal, atomic writes, reuse in a run.

Small networks with random weights stand in for trained ones: a file must give
back exactly the outputs of the network it was written from. The refusals are
files written by :func:`save_tau_model` for another architecture, or written
and then altered (``_tamper``), and each message is checked for the file name
and the numbers it must quote. The end-to-end check runs
:func:`~l1scout.tasks.taus.pipeline.run_taus` twice on the synthetic events of
``conftest.py`` (the data stage, the report's plots and the MLflow store
replaced: they take seconds and are tested with the real pipeline): once
training (the models land in ``OUT/models``), once with ``[models] load``
pointing there, with every training function replaced by one that fails the
test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import numpy as np
import pytest
import torch

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.taus.config import ModelsConfig, TauConfig, load_tau_config
from l1scout.tasks.taus.dataset import TauDataset
from l1scout.tasks.taus.model_files import (
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    load_tau_model,
    load_tau_models,
    save_tau_model,
    save_tau_models,
)
from l1scout.tasks.taus.nnpuppitau import NNPUPPITAU_SPEC, NNPuppiTau, NNPuppiTauTraining
from l1scout.tasks.taus.results import TauModels
from l1scout.tasks.taus.study import candidate_scores, train_tau_models
from l1scout.tasks.taus.transformer import SoftTauTransformer, TransformerModelConfig

ARCH = TransformerModelConfig(
    n_constituents=4, embed_dims=(8,), n_heads=2, ff_dim=16, head_hidden=8
)
QUANTIZED = NNPuppiTauTraining(quantized=True)


def _transformer(arch: TransformerModelConfig = ARCH, seed: int = 3) -> SoftTauTransformer:
    torch.manual_seed(seed)
    return SoftTauTransformer(arch).eval()


def _nnpuppitau(quantized: bool = True, seed: int = 4) -> NNPuppiTau:
    torch.manual_seed(seed)
    return NNPuppiTau(NNPUPPITAU_SPEC if quantized else None).eval()


def _packed(n: int, k: int, seed: int = 0) -> torch.Tensor:
    """Random packed transformer inputs: 10 features and a validity flag per slot."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k, 11)).astype(np.float32)
    x[..., 10] = rng.random((n, k)) < 0.7
    return torch.from_numpy(x.reshape(n, k * 11))


def _nnp_inputs(n: int, seed: int = 0) -> torch.Tensor:
    """Random NNPuppiTau inputs: pT 0-60 GeV, small deta / dphi, one-hot types."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 10, 8), dtype=np.float32)
    x[..., 0] = rng.uniform(0, 60, (n, 10))
    x[..., 1:3] = rng.normal(0, 0.1, (n, 10, 2))
    x[np.arange(n)[:, None], np.arange(10)[None, :], 3 + rng.integers(0, 5, (n, 10))] = 1.0
    return torch.from_numpy(x.reshape(n, 80))


def _tamper(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)
    return path


def _refused(path: Path, config: Any, *says: str) -> str:
    with pytest.raises(DataFormatError) as info:
        load_tau_model(path, config)
    text = str(info.value)
    assert len(text.splitlines()) == 1, text
    assert text.startswith(f"{path}: "), text
    for piece in says:
        assert piece in text, (piece, text)
    return text


# ---------------------------------------------------------------- round trips


def test_a_transformer_comes_back_with_identical_outputs(tmp_path: Path) -> None:
    model = _transformer()
    path = save_tau_model(
        model, tmp_path / "transformer_clue.pt", name="transformer_clue", training={"best_epoch": 2}
    )
    payload = torch.load(path, weights_only=True)  # plain values and tensors only
    assert (payload["format"], payload["version"]) == (MODEL_FORMAT, MODEL_FORMAT_VERSION)
    assert (payload["kind"], payload["name"]) == ("transformer", "transformer_clue")
    assert TransformerModelConfig.model_validate(payload["architecture"]) == ARCH
    assert payload["training"] == {"best_epoch": 2}
    rng_before = torch.get_rng_state()
    again = load_tau_model(path, ARCH)
    assert torch.equal(torch.get_rng_state(), rng_before)  # building it drew no global numbers
    assert isinstance(again, SoftTauTransformer)
    assert not again.training
    x = _packed(64, ARCH.n_constituents)
    with torch.no_grad():
        want, got = model(x), again(x)
    assert len(got) == 5
    for a, b in zip(want, got, strict=True):
        assert torch.equal(a, b)
    # and the outputs are not trivially equal: another seed gives others
    with torch.no_grad():
        assert not torch.equal(_transformer(seed=9)(x)[0], want[0])


@pytest.mark.parametrize("quantized", [True, False])
def test_nnpuppitau_comes_back_with_identical_outputs(tmp_path: Path, quantized: bool) -> None:
    model = _nnpuppitau(quantized)
    path = save_tau_model(model, tmp_path / "nnpuppitau.pt", name="nnpuppitau")
    again = load_tau_model(path, NNPuppiTauTraining(quantized=quantized))
    assert isinstance(again, NNPuppiTau)
    assert (again.spec is not None) is quantized
    x = _nnp_inputs(500)
    with torch.no_grad():
        want, got = model(x), again(x)
    assert torch.equal(want, got)
    if quantized:  # the quantized forward: outputs on the ap_fixed<16,6> grid, 2^-10
        assert torch.equal(got * 1024, torch.round(got * 1024))
        assert torch.unique(got[:, 0]).numel() > 10  # not a constant network
    else:
        assert not torch.equal(got * 1024, torch.round(got * 1024))


# ---------------------------------------------------------------- refusals


def test_a_missing_or_unreadable_file_is_named(tmp_path: Path) -> None:
    _refused(tmp_path / "transformer_clue.pt", ARCH, "no such model file")
    good = save_tau_model(_transformer(), tmp_path / "good.pt", name="transformer_clue")
    data = good.read_bytes()
    for name, content in (
        ("truncated.pt", data[: len(data) // 2]),
        ("empty.pt", b""),
        ("text.pt", b"embed_dims = [8]\n"),
    ):
        (tmp_path / name).write_bytes(content)
        _refused(tmp_path / name, ARCH, "not a readable torch file")


class _Payload:
    """An arbitrary object: a weights-only load must refuse to build it."""


def test_a_pickled_object_is_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "transformer_clue.pt"
    torch.save({"format": MODEL_FORMAT, "version": 1, "architecture": _Payload()}, path)
    _refused(path, ARCH, "not a readable torch file", "objects other than tensors")


def test_another_format_version_or_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "transformer_clue.pt"
    torch.save({"a": torch.zeros(2)}, path)  # a torch file, not ours
    _refused(path, ARCH, "not an l1scout tau model file", f"format {MODEL_FORMAT!r}", "got None")
    save_tau_model(_transformer(), path, name="transformer_clue")
    _tamper(path, lambda p: p.update(version=2))
    _refused(path, ARCH, "format version 2", "reads version 1")
    nnp = save_tau_model(_nnpuppitau(), tmp_path / "nnpuppitau.pt", name="nnpuppitau")
    _refused(nnp, ARCH, "kind 'nnpuppitau'", "expected kind 'transformer'")
    _refused(path.with_name("x.pt"), QUANTIZED, "no such model file")
    save_tau_model(_transformer(), path, name="transformer_clue")
    _refused(path, QUANTIZED, "kind 'transformer'", "expected kind 'nnpuppitau'")


@pytest.mark.parametrize(
    ("built", "configured", "says"),
    [
        (  # feed-forward 16 in the file, 32 configured: linear1 is (ff, d)
            {"ff_dim": 16},
            {"ff_dim": 32},
            (
                "parameter encoder.0.linear1.weight has shape (16, 8) in the file",
                "expects (32, 8)",
                "transformer.model.ff_dim = 32; the file was built with 16",
            ),
        ),
        (  # embedding 8 -> 12: the first layer is (12, 10)
            {"embed_dims": (8,)},
            {"embed_dims": (12,), "n_heads": 2},
            (
                "parameter embed.0.weight has shape (8, 10) in the file",
                "expects (12, 10)",
                "transformer.model.embed_dims = [12]; the file was built with [8]",
            ),
        ),
        (  # two embedding layers in both, the second wider in the file
            {"embed_dims": (6, 8)},
            {"embed_dims": (6, 4)},
            (
                "parameter embed.2.weight has shape (8, 6)",
                "expects (4, 6)",
                "transformer.model.embed_dims = [6, 4]; the file was built with [6, 8]",
            ),
        ),
        (  # head width 8 in the file, 4 configured
            {"head_hidden": 8},
            {"head_hidden": 4},
            (
                "parameter heads.tau.0.weight has shape (8, 8)",
                "expects (4, 8)",
                "transformer.model.head_hidden = 4; the file was built with 8",
            ),
        ),
    ],
)
def test_a_parameter_of_the_wrong_shape_names_it_both_shapes_and_the_field(
    tmp_path: Path, built: dict[str, Any], configured: dict[str, Any], says: tuple[str, ...]
) -> None:
    path = tmp_path / "transformer_ak4.pt"
    save_tau_model(_transformer(ARCH.model_copy(update=built)), path, name="transformer_ak4")
    _refused(path, ARCH.model_copy(update=configured), "transformer_ak4.pt", *says)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"n_heads": 4}, "built with transformer.model.n_heads = 2; the configuration has 4"),
        ({"n_constituents": 8}, "transformer.model.n_constituents = 4; the configuration has 8"),
        ({"n_layers": 2}, "transformer.model.n_layers = 1; the configuration has 2"),
    ],
)
def test_an_architecture_that_keeps_the_shapes_is_still_compared(
    tmp_path: Path, change: dict[str, int], says: str
) -> None:
    path = save_tau_model(_transformer(), tmp_path / "t.pt", name="transformer_clue")
    _refused(path, ARCH.model_copy(update=change), says)
    # dropout acts only in training: a file loads whatever it says
    assert isinstance(
        load_tau_model(path, ARCH.model_copy(update={"dropout": 0.3})), SoftTauTransformer
    )


def test_nnpuppitau_flavour_and_shape_are_checked(tmp_path: Path) -> None:
    path = save_tau_model(_nnpuppitau(quantized=False), tmp_path / "nnpuppitau.pt", name="n")
    _refused(path, QUANTIZED, "holds a float NNPuppiTau", "nnpuppitau.quantized = true")
    save_tau_model(_nnpuppitau(quantized=True), path, name="n")
    _refused(path, NNPuppiTauTraining(quantized=False), "holds a quantized NNPuppiTau")

    def wider(p: dict[str, Any]) -> None:
        p["state_dict"]["trunk.1.weight"] = torch.zeros(25, 81)

    _tamper(path, wider)
    _refused(
        path,
        QUANTIZED,
        "parameter trunk.1.weight has shape (25, 81) in the file",
        "expects (25, 80)",
        "80-25-25-15-15-10-2",
    )


def test_missing_and_unexpected_parameters_are_listed(tmp_path: Path) -> None:
    path = save_tau_model(_transformer(), tmp_path / "transformer_clue.pt", name="t")

    def edit(p: dict[str, Any]) -> None:
        del p["state_dict"]["heads.pu.2.bias"]
        p["state_dict"]["heads.extra.weight"] = torch.zeros(3)

    _tamper(path, edit)
    _refused(
        path,
        ARCH,
        "missing heads.pu.2.bias",
        "unexpected heads.extra.weight",
        "(1 missing, 1 unexpected)",
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_weights_are_refused(tmp_path: Path, bad: float) -> None:
    path = save_tau_model(_nnpuppitau(), tmp_path / "nnpuppitau.pt", name="nnpuppitau")

    def poison(p: dict[str, Any]) -> None:
        p["state_dict"]["trunk.3.weight"][2, 7] = bad
        p["state_dict"]["trunk.3.weight"][0, 0] = bad

    _tamper(path, poison)
    _refused(path, QUANTIZED, "parameter trunk.3.weight holds 2 NaN or infinite value(s) of 625")


def test_non_tensor_and_integer_parameters_are_refused(tmp_path: Path) -> None:
    path = save_tau_model(_transformer(), tmp_path / "t.pt", name="t")
    _tamper(path, lambda p: p["state_dict"].update({"embed.0.bias": [0.0] * 8}))
    _refused(path, ARCH, "parameter embed.0.bias: expected a tensor, got list")
    save_tau_model(_transformer(), path, name="t")
    _tamper(
        path, lambda p: p["state_dict"].update({"embed.0.bias": torch.zeros(8, dtype=torch.int64)})
    )
    _refused(path, ARCH, "parameter embed.0.bias: expected floating-point values, got torch.int64")


# ---------------------------------------------------------------- atomic writes


def test_a_failed_write_leaves_the_previous_file_and_no_partial_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_tau_model(_transformer(seed=1), tmp_path / "transformer_clue.pt", name="t")
    before = path.read_bytes()

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("l1scout._files.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_tau_model(_transformer(seed=2), path, name="t")
    with pytest.raises(OSError, match="No space left"):
        save_tau_model(_transformer(seed=2), tmp_path / "new.pt", name="t")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["transformer_clue.pt"]
    assert path.read_bytes() == before
    x = _packed(8, ARCH.n_constituents)
    with torch.no_grad():
        assert torch.equal(load_tau_model(path, ARCH)(x)[0], _transformer(seed=1)(x)[0])


# ---------------------------------------------------------------- a folder of models


def _with_load(cfg: TauConfig, folder: Path) -> TauConfig:
    return cfg.model_copy(update={"models": ModelsConfig(load=folder)})


def _ok(*_args: object, **_kwargs: object) -> None:
    return None


def _fail(*_args: object, **_kwargs: object) -> NoReturn:
    raise AssertionError("a model was trained although [models] load is set")


def _random_models(cfg: TauConfig) -> TauModels:
    from l1scout.tasks.taus.nnpuppitau import TrainingResult
    from l1scout.tasks.taus.transformer_training import TransformerTrainResult

    torch.manual_seed(11)
    return TauModels(
        TrainingResult(NNPuppiTau().eval()),
        {
            m: TransformerTrainResult(SoftTauTransformer(cfg.transformer.model).eval(), [], 5)
            for m in ("clue", "ak4")
        },
        {},
    )


def test_a_folder_is_checked_per_configured_method(
    tmp_path: Path, synthetic_tau_config: TauConfig
) -> None:
    cfg = synthetic_tau_config
    folder = tmp_path / "models"
    saved = save_tau_models(_random_models(cfg), folder)
    assert sorted(saved) == ["nnpuppitau", "transformer_ak4", "transformer_clue"]
    models = load_tau_models(_with_load(cfg, folder))
    assert models.seconds == {}
    assert models.transformers["ak4"].best_epoch == 5
    assert models.transformers["ak4"].history == []
    (folder / "transformer_ak4.pt").unlink()
    with pytest.raises(DataFormatError) as info:
        load_tau_models(_with_load(cfg, folder))
    text = str(info.value)
    assert text.startswith(f"{folder / 'transformer_ak4.pt'}: no such model file")
    assert "candidates.methods ['clue', 'ak4', 'nnpuppitau']" in text
    only_clue = cfg.model_copy(
        update={"candidates": cfg.candidates.model_copy(update={"methods": ("clue",)})}
    )
    assert sorted(load_tau_models(_with_load(only_clue, folder)).transformers) == ["clue"]
    with pytest.raises(ConfigError, match=r"models.load: .* is not a folder of saved models"):
        load_tau_models(cfg, tmp_path / "nowhere")


def test_the_config_resolves_the_folder_beside_the_file_and_refuses_a_missing_one(
    tmp_path: Path,
) -> None:
    study = tmp_path / "studies"
    (study / "saved").mkdir(parents=True)
    (study / "a.toml").write_text('[models]\nload = "saved"\n')
    assert load_tau_config(study / "a.toml").models.load == study / "saved"
    (study / "b.toml").write_text('[models]\nload = "missing"\n')
    with pytest.raises(ConfigError) as info:
        load_tau_config(study / "b.toml")
    assert str(info.value) == (
        f"{study / 'b.toml'}: models.load: {study / 'missing'} does not exist; "
        "expected a folder of saved models (<name>.pt, OUT/models/)"
    )
    assert load_tau_config(study / "a.toml").model_copy().models.load is not None
    assert TauConfig().models.load is None


def test_train_tau_models_loads_instead_of_training(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    synthetic_tau_config: TauConfig,
    synthetic_tau_datasets: dict[str, TauDataset],
) -> None:
    cfg, datasets = synthetic_tau_config, synthetic_tau_datasets
    original = _random_models(cfg)
    save_tau_models(original, tmp_path)
    monkeypatch.setattr("l1scout.tasks.taus.study.train_nnpuppitau", _fail)
    monkeypatch.setattr("l1scout.tasks.taus.study.train_transformer", _fail)
    loaded = train_tau_models(datasets, _with_load(cfg, tmp_path), progress=_fail)
    for ds in datasets.values():
        want, got = candidate_scores(ds, original), candidate_scores(ds, loaded)
        assert len(ds) > 0
        for field in ("id_score", "charge_score", "vz", "pt"):
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field), field)


# ---------------------------------------------------------------- end to end


def test_a_run_reuses_the_models_of_an_earlier_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    synthetic_tau_config: TauConfig,
    synthetic_tau_datasets: dict[str, TauDataset],
) -> None:
    """Run 1 trains and saves; run 2 loads them, trains nothing and measures the same numbers."""
    from l1scout.tasks.taus import pipeline

    def events(*_args: object, **_kwargs: object) -> tuple[dict[str, TauDataset], str]:
        return dict(synthetic_tau_datasets), "synthetic"

    monkeypatch.setattr(pipeline, "_events_and_datasets", events)
    headers: list[dict[str, str]] = []

    def report(_evaluation: object, out_dir: Path, **kwargs: Any) -> Path:
        # the page's plots take seconds; what it is told about the models is its header
        headers.append(dict(kwargs["header"]))
        out_dir.mkdir(parents=True, exist_ok=True)
        page = out_dir / "report.html"
        page.write_text("<html></html>")
        return page

    monkeypatch.setattr("l1scout.tasks.taus.report.write_tau_report", report)
    runs: list[dict[str, Any]] = []

    @contextmanager
    def start_run(*_args: object, **kwargs: Any) -> Iterator[SimpleNamespace]:
        # MLflow's store takes seconds to create; its logging is tested with the real pipeline
        runs.append(kwargs)
        yield SimpleNamespace(run_id="r", uri="u", log_metrics=_ok, log_artifact=_ok)

    monkeypatch.setattr("l1scout.track.runs.start_run", start_run)
    cfg = synthetic_tau_config.model_copy(
        update={
            "deploy": synthetic_tau_config.deploy.model_copy(update={"onnx": False}),
            "tracking": synthetic_tau_config.tracking.model_copy(update={"experiment": "reuse"}),
        }
    )
    first = pipeline.run_taus(cfg, tmp_path / "one", firmware=False)
    folder = tmp_path / "one" / "models"
    assert {p.name for p in folder.iterdir()} == {
        "nnpuppitau.pt",
        "transformer_clue.pt",
        "transformer_ak4.pt",
    }
    assert first.model_files == {p.stem: p for p in folder.iterdir()}
    assert first.models_loaded_from is None
    assert set(first.train_seconds) == {"nnpuppitau", "transformer_clue", "transformer_ak4"}

    monkeypatch.setattr("l1scout.tasks.taus.study.train_nnpuppitau", _fail)
    monkeypatch.setattr("l1scout.tasks.taus.study.train_transformer", _fail)
    second = pipeline.run_taus(_with_load(cfg, folder), tmp_path / "two", firmware=False)
    assert not (tmp_path / "two" / "models").exists()
    assert second.train_seconds == {}
    assert second.evaluation.table() == first.evaluation.table()
    assert second.evaluation.efficiencies() == first.evaluation.efficiencies()
    summary = json.loads(second.summary.read_text())
    assert summary["models"] == {"loaded_from": str(folder), "files": {}}
    assert json.loads(first.summary.read_text())["models"]["loaded_from"] is None
    names = [r["run_name"] for r in runs]  # run 2: no model was trained, none has a run
    assert names == [cfg.name, "nnpuppitau", "transformer_clue", "transformer_ak4", cfg.name]
    assert runs[-1]["params"]["taus"]["models"]["load"] == str(folder)
    assert headers[0]["models"] == f"trained here; saved in {folder}"
    assert headers[1]["models"] == (
        f"loaded from {folder} ([models] load): not trained here, no training curves"
    )

    # a bad file stops the run before the data stage
    monkeypatch.setattr(pipeline, "_events_and_datasets", _fail)
    wrong = cfg.transformer.model.model_copy(update={"ff_dim": 32})
    save_tau_model(SoftTauTransformer(wrong), folder / "transformer_ak4.pt", name="t")
    with pytest.raises(DataFormatError, match=r"transformer_ak4\.pt: parameter encoder"):
        pipeline.run_taus(_with_load(cfg, folder), tmp_path / "three")
    assert not (tmp_path / "three").exists()
