"""The study: its configuration file, and a tiny end-to-end run on synthetic objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.recalib.config import KRRSpec, NNSpec, RecalibConfig, load_config
from l1scout.tasks.recalib.metrics import UNCORRECTED
from l1scout.tasks.recalib.study import run_study
from l1scout.tasks.recalib.synthetic import synthetic_dataset

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "recalib"


def test_examples_load() -> None:
    default = load_config(EXAMPLES / "default.toml")
    assert default.data is not None
    assert default.data.samples is not None
    assert default.data.samples.pileup == 200.0
    muon = default.models_for("muon")
    # seed Table 6: both depths x MSE / log-cosh x without / with L2 1e-5, eight networks
    nets = {(m.arch, m.loss, m.weight_decay) for m in muon if isinstance(m, NNSpec)}
    assert nets == {
        (arch, loss, wd)
        for arch in ("128x4", "32x3")
        for loss in ("mse", "logcosh")
        for wd in (0.0, 1e-5)
    }
    assert sum(isinstance(m, NNSpec) for m in muon) == 8
    # seed Table 7: the four kernel models
    kernels = {(m.kernel, m.centres, m.degree) for m in muon if isinstance(m, KRRSpec)}
    assert kernels == {
        ("gaussian", 500, 5),
        ("gaussian", 100, 5),
        ("linear", 100, 5),
        ("polynomial", 100, 5),
    }
    assert [m.title for m in default.models_for("jet")] == [
        "NN 32x3",
        "Nystrom KRR, Gaussian, M=100",
    ]
    assert default.data.jet_targets == "pt"  # the seed regresses the jet pT only
    assert default.data.muon_source == "standalone"  # the muon system's L1 muons, as the seed's
    assert {p.process for p in default.data.samples.processes} >= {"QCD_HT50tobb"}
    assert {s.parameter for s in default.scans} == {"sigma", "penalty", "centres"}
    assert default.firmware_spec() is not None
    assert default.firmware_spec().arch == "32x3"
    tiny = load_config(EXAMPLES / "tiny.toml")
    assert tiny.data is not None
    assert tiny.data.synthetic is not None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[models]]\nkind = "nn"\narch = "12"\n', r"models\[0\]\.arch: .*'<width>x<blocks>'"),
        ('[[models]]\nkind = "krr"\nsigmaa = 1.0\n', r"models\[0\]\.sigmaa: Extra inputs"),
        ('[[models]]\nkind = "svm"\n', r"models\[0\]"),
        ("models = []\n", r"models: .*at least 1"),
        ('[[models]]\nkind = "nn"\n[[models]]\nkind = "nn"\n', "share the name 'nn-32x3-mse'"),
        (
            '[[models]]\nkind = "nn"\n[[models]]\nkind = "nn"\nname = "b"\n',
            "share the row label 'NN 32x3'",
        ),
        ('[[models]]\nkind = "nn"\n[outputs]\nfirmware_model = "x"\n', "outputs.firmware_model"),
        (
            '[data]\n[data.samples]\n[data.synthetic]\n[[models]]\nkind = "nn"\n',
            "data: .*exactly one",
        ),
        (
            '[[models]]\nkind = "nn"\n[[scans]]\nparameter = "centres"\nvalues = [1.5, 2]\n',
            r"scans\[0\]: .*whole",
        ),
        (
            '[data]\nmuon_source = "gmt"\n[data.synthetic]\n[[models]]\nkind = "nn"\n',
            r"data\.muon_source: .*'standalone' or 'tracker'",
        ),
        (
            '[data]\njet_targets = "eta"\n[data.synthetic]\n[[models]]\nkind = "nn"\n',
            r"data\.jet_targets: .*'pt' or 'pt_eta_phi'",
        ),
        ("[[models]\n", "not a valid TOML file"),
    ],
)
def test_bad_study_files_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_relative_files_and_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, '[data]\nfiles = "events/*.parquet"\n[[models]]\nkind = "nn"\n')
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "a.parquet").touch()  # checked when the file is read
    cfg = load_config(path, {"tracking": {"uri": "sqlite:///x.db"}, "threads": None})
    assert cfg.data is not None
    assert cfg.data.files == str(tmp_path / "events/*.parquet")
    assert cfg.tracking.uri == "sqlite:///x.db"
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_default_labels_and_keys() -> None:
    assert (
        NNSpec(arch="128x4", loss="logcosh", weight_decay=1e-5).title
        == "NN 128x4 (log-cosh, L2 1e-5)"
    )
    assert NNSpec(arch="128x4", loss="logcosh", weight_decay=1e-5).key == "nn-128x4-logcosh-l2"
    assert (
        KRRSpec(kernel="polynomial", degree=5, centres=100).title
        == "Nystrom KRR, polynomial deg 5, M=100"
    )
    assert KRRSpec(kernel="linear", centres=100, label="mine").title == "mine"


def test_no_data_is_a_config_error(tmp_path: Path) -> None:
    cfg = RecalibConfig(models=[{"kind": "nn"}])
    with pytest.raises(ConfigError, match=r"\[data\]"):
        run_study(cfg, tmp_path)


@pytest.fixture(scope="module")
def datasets() -> dict[str, object]:
    return {
        "muon": synthetic_dataset("muon", 1500, seed=3),
        "jet": synthetic_dataset("jet", 600, seed=3),
    }


@pytest.mark.slow
def test_tiny_study_end_to_end(tmp_path: Path, datasets: dict[str, object]) -> None:
    from mlflow.tracking import MlflowClient

    cfg = RecalibConfig(
        title="tiny",
        models=[
            {"kind": "nn", "arch": "32x3", "batch_size": 64, "epochs": 12, "patience": 4},
            {
                "kind": "krr",
                "kernel": "gaussian",
                "centres": 40,
                "sigma": 0.3,
                "penalty": 1e-5,
                "datasets": ["muon", "jet"],
            },
        ],
        scans=[{"parameter": "sigma", "values": [0.1, 0.3, 1.0], "model": {"centres": 20}}],
        tracking={"experiment": "recalib-test", "model_name": "recalib-test-muon"},
        outputs={"firmware": False, "plots": False},
        threads=1,
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    stages: list[str] = []
    result = run_study(
        cfg,
        tmp_path / "out",
        lambda s, _d, _t: stages.append(s),
        datasets=datasets,
        tracking_uri=uri,  # type: ignore[arg-type]
    )
    assert result.report.is_file()
    assert "<table>" in result.report.read_text()
    assert {"models", "scans"} <= set(stages)

    muon, jet = result.tables["muon"], result.tables["jet"]
    assert muon.labels == (UNCORRECTED, "NN 32x3", "Nystrom KRR, Gaussian, M=40")
    assert jet.labels == (UNCORRECTED, "Nystrom KRR, Gaussian, M=40")
    assert muon.columns == ("phi", "eta", "pT/pT_reco - 1")
    assert jet.columns == ("pT/pT_reco - 1",)  # the seed's jet study: pT only
    assert muon.pt_cap == pytest.approx(datasets["muon"].residual["train"][:, 0].max())  # type: ignore[attr-defined]
    # corrected beats uncorrected on the learnable targets (the bending in phi, the pT scale)
    for label in muon.labels[1:]:
        gain = muon.improvement(label)
        assert gain["dphi"] > 0.3, (label, gain)
        assert gain["dpt_over_pt"] > 0.2, (label, gain)
    assert muon.improvement("Nystrom KRR, Gaussian, M=40")["dphi"] > 0.7
    assert jet.improvement("Nystrom KRR, Gaussian, M=40")["dpt_over_pt"] > 0.2
    assert any(line.startswith("muon phi:") and " beats " in line for line in result.summary())

    for m in result.models:
        assert m.onnx.is_file()
        if m.family == "nn":
            assert m.onnx_parity < 1e-5  # float32 torch vs ONNX Runtime
        else:  # float32 rounding of the summed terms alpha_j k_j (see KRRFit.cancellation)
            assert m.cancellation is not None
            assert m.onnx_parity < 1e-5 * max(1.0, m.cancellation)
    ops = {(r.dataset, r.label): r for r in result.ops_rows()}
    # three blocks of 32: 4*32 + 2*32*32 + 32*3; beside it the seed's 32 (4 + 3*32 + 3)
    assert ops["muon", "NN 32x3"].macs == 2272
    assert ops["muon", "NN 32x3"].seed == 3296
    assert "H (D + N_l H + T)" in ops["muon", "NN 32x3"].seed_note
    assert ops["muon", "Nystrom KRR, Gaussian, M=40"].macs == 40 * (4 + 3)
    # jets: 3 inputs, 1 output, and no seed figure (Table 8 is for 4 -> 3)
    jet_krr = ops["jet", "Nystrom KRR, Gaussian, M=40"]
    assert (jet_krr.macs, jet_krr.inputs, jet_krr.outputs, jet_krr.seed) == (40 * 4, 3, 1, None)
    # every stage timed, the total covers them (up to the page)
    stages = ["datasets", "tracking", "models", "scans", "registry", "total"]
    assert list(result.timings) == stages
    assert result.timings["total"] >= sum(result.timings[k] for k in stages[:-1])
    assert all(m.wall_seconds >= m.seconds > 0 for m in result.models)
    assert len(result.curves) == 1
    assert result.curves[0].values == (0.1, 0.3, 1.0)

    client = MlflowClient(uri)
    assert result.parent_run_id is not None
    children = client.search_runs(
        [client.get_experiment_by_name("recalib-test").experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.parent_run_id}'",
    )
    assert sorted(r.info.run_name for r in children) == sorted(
        ["muon/nn-32x3-mse", "muon/krr-gaussian-m40", "jet/krr-gaussian-m40"]
    )
    nn_run = next(r for r in children if r.info.run_name == "muon/nn-32x3-mse")
    history = client.get_metric_history(nn_run.info.run_id, "val_loss")
    nn_result = next(m for m in result.models if m.key == "nn-32x3-mse" and m.dataset == "muon")
    assert [h.step for h in history] == list(range(1, len(nn_result.history) + 1))
    assert nn_run.data.metrics["rmse.phi"] == pytest.approx(nn_result.rmse["dphi"])
    best = min((m for m in result.models if m.dataset == "muon"), key=lambda m: m.val_rmse)
    assert result.registered is not None
    assert result.registered.alias == "champion"
    version = client.get_model_version_by_alias("recalib-test-muon", "champion")
    assert version.run_id == best.run_id


def test_jet_targets_option_of_a_synthetic_study(tmp_path: Path) -> None:
    models = [{"kind": "krr", "kernel": "linear", "centres": 10, "datasets": ["jet"]}]
    common = {"tracking": {"enabled": False}, "outputs": {"plots": False}, "models": models}
    default = RecalibConfig(data={"synthetic": {"jets": 200}}, **common)  # type: ignore[arg-type]
    both = RecalibConfig(
        data={"synthetic": {"jets": 200}, "jet_targets": "pt_eta_phi"},
        **common,  # type: ignore[arg-type]
    )
    pt_only = run_study(default, tmp_path / "a").tables["jet"]
    all_three = run_study(both, tmp_path / "b").tables["jet"]
    assert pt_only.targets == ("dpt_over_pt",)
    assert all_three.targets == ("dphi", "deta", "dpt_over_pt")
    # the pT column is the same quantity either way: the uncorrected jets agree exactly
    assert pt_only.baseline["dpt_over_pt"] == all_three.baseline["dpt_over_pt"]
    timings = run_study(default, tmp_path / "c").timings
    assert list(timings) == ["datasets", "models", "scans", "total"]


def test_study_without_tracking(tmp_path: Path, datasets: dict[str, object]) -> None:
    cfg = RecalibConfig(
        models=[{"kind": "krr", "kernel": "linear", "centres": 10, "datasets": ["jet"]}],
        tracking={"enabled": False},
        outputs={"plots": False},
    )
    result = run_study(cfg, tmp_path, datasets=datasets)  # type: ignore[arg-type]
    assert result.parent_run_id is None
    assert result.registered is None
    assert list(result.tables) == ["muon", "jet"]
    assert result.tables["muon"].labels == (UNCORRECTED,)
    assert result.tables["jet"].labels == (UNCORRECTED, "Nystrom KRR, linear, M=10")
    true = datasets["jet"].residual["test"]  # type: ignore[attr-defined]
    pred = result.models[0].test_prediction
    assert pred.shape == true.shape
    assert np.isfinite(pred).all()
    assert result.report.is_file()
