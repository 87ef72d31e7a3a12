"""Model and training configuration: defaults, the example files, errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.errors import ConfigError
from l1scout.tasks.anomaly.config import (
    AugmentConfig,
    ModelConfig,
    TrainConfig,
    VAEConfig,
    VICRegConfig,
    load_model_config,
    load_train_config,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "anomaly"


def test_defaults_are_the_deployed_axol1tl_and_vicreg_papers() -> None:
    vae = VAEConfig(name="v")
    assert (vae.kind, vae.hidden, vae.latent, vae.alpha, vae.beta) == ("vae", (32, 16), 8, 1.0, 0.5)
    assert vae.quantized is True
    assert vae.score == "latent"
    assert vae.quant.weight == FixedPoint(6, 3)
    assert vae.quant.bias == FixedPoint(10, 7)
    vic = VICRegConfig(name="w")
    assert (vic.kind, vic.backbone, vic.ae_hidden) == ("vicreg", (29, 10), (8, 4))
    assert (vic.invariance, vic.variance, vic.covariance) == (25.0, 25.0, 1.0)
    assert vic.quantized is False
    assert vic.augment == AugmentConfig()
    # the seed's loss form by default, both downstream scores, Ledoit-Wolf shrinkage
    assert vic.loss_form == "ngt"
    assert vic.scores == ("autoencoder", "mahalanobis")
    assert vic.mahalanobis_shrinkage is None
    train = TrainConfig()
    assert (train.epochs, train.batch_size, train.lr, train.weight_decay) == (30, 1024, 1e-3, 0.0)
    assert (train.patience, train.seed, train.threads) == (5, 1, None)


def test_example_axol1tl_v4() -> None:
    cfg = load_model_config(EXAMPLES / "axol1tl_v4.toml")
    assert isinstance(cfg, VAEConfig)
    assert cfg.name == "axol1tl_v4"
    assert (cfg.hidden, cfg.latent, cfg.quantized, cfg.score) == ((28, 15), 8, True, "latent")
    assert cfg.quant == QuantSpec()


def test_example_vicreg_v5() -> None:
    cfg = load_model_config(EXAMPLES / "vicreg_v5.toml")
    assert isinstance(cfg, VICRegConfig)
    assert (cfg.name, cfg.backbone, cfg.ae_hidden) == ("vicreg_v5", (29, 10), (8, 4))
    assert cfg.augment.jet.pt == 0.12
    assert cfg.augment == AugmentConfig()  # the file writes out the defaults
    assert cfg == VICRegConfig(name="vicreg_v5")  # every setting written out is the default


def test_model_config_union_dispatches_on_kind() -> None:
    adapter: TypeAdapter[VAEConfig | VICRegConfig] = TypeAdapter(ModelConfig)
    assert isinstance(adapter.validate_python({"kind": "vae", "name": "a"}), VAEConfig)
    assert isinstance(adapter.validate_python({"kind": "vicreg", "name": "b"}), VICRegConfig)
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "gan", "name": "c"})


def test_configs_round_trip_through_dump_and_are_frozen() -> None:
    for cfg in (
        load_model_config(EXAMPLES / "axol1tl_v4.toml"),
        load_model_config(EXAMPLES / "vicreg_v5.toml"),
    ):
        assert type(cfg).model_validate(cfg.model_dump()) == cfg
        with pytest.raises(ValidationError):
            cfg.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"kind": "vae", "name": "v", "hidden": [32, 0]}, "model: hidden[1]:"),
        ({"kind": "vae", "name": "v", "hidden": []}, "model: hidden:"),
        ({"kind": "vae", "name": "v", "beta": -0.1}, "model: beta:"),
        ({"kind": "vae", "name": "v", "alpha": 0}, "model: alpha:"),
        ({"kind": "vae", "name": "v", "score": "mu"}, "model: score:"),
        ({"kind": "vae", "name": "bad name"}, "model: name:"),
        ({"kind": "vae"}, "model: name: Field required"),
        ({"kind": "vae", "name": "v", "latnt": 8}, "model: latnt: Extra inputs"),
        (
            {"kind": "vae", "name": "v", "quant": {"weight": {"width": "six", "integer": 3}}},
            "model: quant.weight.width:",
        ),
        (
            {"kind": "vicreg", "name": "w", "augment": {"jet": {"pt": -1, "eta": 0, "phi": 0}}},
            "model: augment.jet.pt:",
        ),
        (
            {"kind": "vicreg", "name": "w", "augment": {"mask_probability": 1.5}},
            "model: augment.mask_probability:",
        ),
        (
            {
                "kind": "vicreg",
                "name": "w",
                "augment": {"met": {"pt": 0.2, "eta": 0.1, "phi": 0.1}},
            },
            "model: augment: met.eta:",
        ),
        ({"kind": "vicreg", "name": "w", "augment": {"smer": True}}, "model: augment.smer:"),
        ({"kind": "vicreg", "name": "w", "backbone": [29, -10]}, "model: backbone[1]:"),
        ({"kind": "vicreg", "name": "w", "variance": -1}, "model: variance:"),
        ({"kind": "vicreg", "name": "w", "loss_form": "paper"}, "model: loss_form:"),
        ({"kind": "vicreg", "name": "w", "scores": []}, "model: scores:"),
        ({"kind": "vicreg", "name": "w", "scores": ["knn"]}, "model: scores[0]:"),
        (
            {"kind": "vicreg", "name": "w", "scores": ["mahalanobis", "mahalanobis"]},
            "model: scores: each score once",
        ),
        (
            {"kind": "vicreg", "name": "w", "mahalanobis_shrinkage": 1.5},
            "model: mahalanobis_shrinkage:",
        ),
    ],
)
def test_config_errors_name_the_field(data: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_model_config(data)
    assert path in str(info.value)


def test_kind_missing_or_unknown() -> None:
    with pytest.raises(ConfigError, match=r"model: kind: expected 'vae' or 'vicreg', missing"):
        load_model_config({"name": "v"})
    with pytest.raises(ConfigError, match=r"cfg: kind: expected 'vae' or 'vicreg', got 'gan'"):
        load_model_config({"kind": "gan", "name": "v"}, where="cfg")


def test_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "vae"\nname = "v"\n[quant.bias]\nwidth = 10\ninteger = "x"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: quant\.bias\.integer:"):
        load_model_config(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("kind = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not a valid TOML file"):
        load_model_config(broken)
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read the model file"):
        load_model_config(tmp_path / "missing.toml")


def test_train_config_errors_and_loading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train: batch_size:"):
        load_train_config({"batch_size": 0})
    with pytest.raises(ConfigError, match=r"train: threads:"):
        load_train_config({"threads": 0})
    with pytest.raises(ConfigError, match=r"train: lr:"):
        load_train_config({"lr": -1.0})
    with pytest.raises(ConfigError, match=r"train: epoch: Extra inputs"):
        load_train_config({"epoch": 3})
    path = tmp_path / "train.toml"
    path.write_text("epochs = 4\nbatch_size = 128\nthreads = 1\n")
    cfg = load_train_config(path)
    assert (cfg.epochs, cfg.batch_size, cfg.threads, cfg.seed) == (4, 128, 1, 1)
