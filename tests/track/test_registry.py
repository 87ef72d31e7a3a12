"""Model registry on a real local store: ONNX models, aliases, loading back, the best run."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.track._mlflow import client
from l1scout.track.registry import best_run, load_model, model_location, register_model
from l1scout.track.runs import start_run

MakeOnnx = Callable[[str, np.ndarray, np.ndarray], Path]

W1 = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]], dtype=np.float32)
B1 = np.array([0.0, 1.0], dtype=np.float32)
W2 = np.array([[-1.0, 0.0], [0.0, 1.0], [2.0, 2.0]], dtype=np.float32)
B2 = np.array([0.5, -0.5], dtype=np.float32)
X = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [-2.0, 0.5, 4.0]], dtype=np.float32)


def _output(prediction: object) -> np.ndarray:
    """The single output of an ONNX pyfunc prediction (a dict of output name -> array)."""
    assert isinstance(prediction, dict)
    assert list(prediction) == ["y"]
    return np.asarray(prediction["y"])


def test_onnx_model_round_trip(
    store: str, linear_onnx: MakeOnnx, monkeypatch: pytest.MonkeyPatch
) -> None:
    seconds = []
    uris = []
    for name, w, b in (("first", W1, B1), ("second", W2, B2)):
        with start_run("registry-onnx", run_name=name, uri=store) as run:
            start = time.perf_counter()
            uris.append((run.run_id, run.log_onnx_model(linear_onnx(name, w, b), name="encoder")))
            seconds.append(time.perf_counter() - start)

    # the logged model: an MLflow model folder with the onnx flavour and pinned requirements
    (run1, uri1), (run2, uri2) = uris
    assert uri1.startswith("models:/m-")
    assert uri1 != uri2
    folder = Path(model_location(uri1, uri=store)[len("file://") :])
    assert {"MLmodel", "model.onnx", "requirements.txt"} <= {p.name for p in folder.iterdir()}
    mlmodel = (folder / "MLmodel").read_text()
    assert "onnx:" in mlmodel
    assert "loader_module: mlflow.onnx" in mlmodel
    import mlflow
    import onnx
    import onnxruntime

    # exactly the pinned versions: nothing was inferred
    assert sorted((folder / "requirements.txt").read_text().split()) == sorted(
        [
            f"mlflow=={mlflow.__version__}",
            f"onnx=={onnx.__version__}",
            f"onnxruntime=={onnxruntime.__version__}",
        ]
    )
    logged = client(store).get_logged_model(uri1[len("models:/") :])
    assert logged.source_run_id == run1
    assert logged.status == "READY"

    # register: version 1 gets the alias, then version 2 takes it over
    v1 = register_model(uri1, "l1scout-test-encoder", alias="champion", uri=store)
    assert (v1.name, v1.version, v1.alias, v1.run_id) == (
        "l1scout-test-encoder",
        "1",
        "champion",
        run1,
    )
    assert v1.uri == "models:/l1scout-test-encoder/1"
    assert v1.alias_uri == "models:/l1scout-test-encoder@champion"
    assert str(client(store).get_model_version_by_alias(v1.name, "champion").version) == "1"
    v2 = register_model(uri2, "l1scout-test-encoder", uri=store)
    assert (v2.version, v2.run_id) == ("2", run2)
    mlf = client(store)
    assert str(mlf.get_model_version_by_alias(v1.name, "champion").version) == "2"
    assert mlf.get_model_version(v1.name, "1").aliases == []

    # load back through the alias: the second model answers; version 1 still the first
    expected1, expected2 = X @ W1 + B1, X @ W2 + B2
    np.testing.assert_allclose(
        _output(load_model(v2.alias_uri, uri=store).predict(X)), expected2, rtol=1e-6
    )
    np.testing.assert_allclose(
        _output(load_model(v1.uri, uri=store).predict(X)), expected1, rtol=1e-6
    )
    np.testing.assert_allclose(
        _output(load_model(uri1, uri=store).predict(X)), expected1, rtol=1e-6
    )
    # MLflow's own loader works too when the store is the process's tracking URI
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    import mlflow.pyfunc

    from l1scout.track._mlflow import quiet

    with quiet():
        native = mlflow.pyfunc.load_model("models:/l1scout-test-encoder@champion")
    np.testing.assert_allclose(_output(native.predict(X)), expected2, rtol=1e-6)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")

    # nothing was written outside the store (MLflow's defaults would use ./mlflow.db, ./mlruns)
    assert list(Path.cwd().iterdir()) == []
    print(f"log_onnx_model seconds: {', '.join(f'{s:.2f}' for s in seconds)}")


def test_register_rejects_other_uris(store: str, tmp_path: Path) -> None:
    for bad in ("models:/l1scout-test-encoder@champion", "models:/l1scout-test-encoder/1"):
        with pytest.raises(ConfigError, match="logged model"):
            register_model(bad, "x", uri=store)
    for bad in ("s3://bucket/model", "models:/", "runs:/abc"):
        with pytest.raises(ConfigError, match="model URI"):
            register_model(bad, "x", uri=store)
    with start_run("registry-bad", run_name="r", uri=store) as run:
        (tmp_path / "bad.onnx").write_bytes(b"not an onnx file")
        with pytest.raises(DataFormatError, match="cannot be read"):
            run.log_onnx_model(tmp_path / "bad.onnx")
        with pytest.raises(DataFormatError, match="no such file"):
            run.log_onnx_model(tmp_path / "missing.onnx")


def test_best_run(store: str) -> None:
    ids: dict[str, str] = {}
    values = {"low": 0.25, "high": 0.875, "mid": 0.5, "nan": float("nan")}
    for name, value in values.items():
        with start_run("registry-best", run_name=name, tags={"kind": "train"}, uri=store) as run:
            run.log_metrics({"eff.sig.1kHz": 0.0}, step=0)  # the latest value counts
            run.log_metrics({"eff.sig.1kHz": value}, step=1)
            ids[name] = run.run_id
    with start_run("registry-best", run_name="none", tags={"kind": "train"}, uri=store) as run:
        run.log_metrics({"other": 1.0})
    with start_run("registry-best", run_name="eval", tags={"kind": "eval"}, uri=store) as run:
        run.log_metrics({"eff.sig.1kHz": 0.1})
        ids["eval"] = run.run_id

    def crash() -> None:
        with start_run("registry-best", run_name="crashed", uri=store) as run:
            run.log_metrics({"eff.sig.1kHz": 0.99})
            ids["crashed"] = run.run_id
            raise RuntimeError

    with pytest.raises(RuntimeError):
        crash()

    assert best_run("registry-best", "eff.sig.1kHz", uri=store) == ids["high"]
    assert best_run("registry-best", "eff.sig.1kHz", mode="min", uri=store) == ids["eval"]
    kind = "tags.kind = 'train'"
    assert (
        best_run("registry-best", "eff.sig.1kHz", mode="min", uri=store, filter_string=kind)
        == ids["low"]
    )
    assert (
        best_run("registry-best", "eff.sig.1kHz", uri=store, finished_only=False) == ids["crashed"]
    )
    with pytest.raises(ConfigError, match="no run"):
        best_run("registry-best", "missing", uri=store)
    with pytest.raises(ConfigError, match="no such experiment"):
        best_run("registry-nowhere", "eff.sig.1kHz", uri=store)
    with pytest.raises(ConfigError, match="mode"):
        best_run("registry-best", "eff.sig.1kHz", mode="median", uri=store)  # type: ignore[arg-type]
    assert client(store).get_experiment_by_name("registry-nowhere") is None


def test_register_a_model_folder_of_a_run(store: str, linear_onnx: MakeOnnx) -> None:
    with start_run("registry-runs-uri", run_name="r", uri=store) as run:
        logged = run.log_onnx_model(linear_onnx("folder", W2, B2))
        # the same MLflow model folder, stored as a plain artifact of the run
        run.log_artifact(Path(model_location(logged, uri=store)[len("file://") :]), "exported")
    version = register_model(f"runs:/{run.run_id}/exported", "l1scout-test-folder", uri=store)
    assert (version.version, version.run_id) == ("1", run.run_id)
    prediction = load_model(version.alias_uri, uri=store).predict(X)
    np.testing.assert_allclose(_output(prediction), X @ W2 + B2, rtol=1e-6)
