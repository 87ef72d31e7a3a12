"""Faults of issue 16, item 7: loading a model runs no code from the store; the UI warns.

``track.registry.load_model`` loads only the models l1scout writes (the ONNX
flavour of ``TrackedRun.log_onnx_model``) unless the caller passes
``allow_unsafe=True``: a real MLflow ``python_function`` model whose loading
runs code, registered in a temporary local store (no network), is refused with
a one-line message before any of its code runs, and so is an ONNX model whose
MLmodel file was edited to import code. ``l1scout mlflow-ui`` says, in its help
and at run time, that a server on a public interface has no authentication.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import l1scout.cli.mlflow_ui as ui
from l1scout.cli.app import app
from l1scout.errors import DataFormatError
from l1scout.track._mlflow import client, quiet
from l1scout.track.registry import load_model, model_location, register_model
from l1scout.track.runs import start_run
from l1scout.track.store import local_store

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh local store (SQLite and an artifact folder), in an empty working folder."""
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp_path_factory.mktemp("cwd"))  # MLflow writes nothing beside the store
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "L1SCOUT_MLFLOW_DIR"):
        mp.delenv(name, raising=False)
    uri = local_store(tmp_path_factory.mktemp("store")).uri
    client(uri)
    yield uri
    mp.undo()


def _pickled_model(folder: Path, marker: Path) -> Path:
    """A ``python_function`` model (a pickled Python object) that writes *marker* when loaded."""
    with quiet():  # MLflow warns on its own import
        from mlflow.pyfunc import save_model
        from mlflow.pyfunc.model import PythonModel

    class WritesOnLoad(PythonModel):  # defined here: pickled by value
        def __init__(self, path: str) -> None:
            self.path = path

        def load_context(self, context: Any) -> None:
            Path(self.path).write_text("code from the store ran")

        def predict(
            self, context: Any, model_input: list[float], params: dict[str, Any] | None = None
        ) -> list[float]:
            return model_input

    save_model(folder, python_model=WritesOnLoad(str(marker)), pip_requirements=[])
    return folder


def test_a_pickled_python_model_is_refused(store: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    folder = _pickled_model(tmp_path / "model", marker)
    with start_run("faults-security", run_name="pickled", uri=store) as run:
        run.log_artifact(folder, "exported")
    version = register_model(f"runs:/{run.run_id}/exported", "faults-pickled", uri=store)

    with pytest.raises(DataFormatError) as info:
        load_model(version.alias_uri, uri=store)
    assert str(info.value) == (
        "model models:/faults-pickled@champion: its flavour is python_function "
        "(loader mlflow.pyfunc.model), and loading it can run code stored with it; "
        "l1scout loads only the ONNX models it writes "
        "(load_model(..., allow_unsafe=True) loads it, from a store you trust)"
    )
    assert not marker.exists()  # refused before any of its code ran

    # the opt-in loads it, and its code runs: what the refusal kept from happening
    model = load_model(version.alias_uri, uri=store, allow_unsafe=True)
    assert marker.read_text() == "code from the store ran"
    assert model.predict([1.5, -2.0]) == [1.5, -2.0]


def _identity_onnx(path: Path) -> Path:
    """An ONNX model y = x (one Identity node)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_an_onnx_model_edited_to_import_code_is_refused(store: str, tmp_path: Path) -> None:
    with start_run("faults-security", run_name="onnx", uri=store) as run:
        uri = run.log_onnx_model(_identity_onnx(tmp_path / "identity.onnx"))
    x = np.array([[1.0, -2.0]], dtype=np.float32)
    # what l1scout writes loads as before
    np.testing.assert_array_equal(load_model(uri, uri=store).predict(x)["y"], x)

    # someone with write access to the store adds a code folder that loading would import
    from mlflow.models import Model

    folder = Path(model_location(uri, uri=store).removeprefix("file://"))
    (folder / "code").mkdir()
    (folder / "code" / "payload.py").write_text("raise SystemExit('payload imported')\n")
    meta = Model.load(folder)
    meta.flavors["python_function"]["code"] = "code"
    meta.save(folder / "MLmodel")
    with pytest.raises(DataFormatError) as info:
        load_model(uri, uri=store)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"model {uri}: its flavour is onnx with code paths (code)")
    assert "allow_unsafe=True" in message


def test_mlflow_ui_says_a_public_server_has_no_authentication(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[list[str]] = []

    def serve(command: list[str], env: dict[str, str]) -> int:
        served.append(command)
        return 0

    monkeypatch.setattr(ui, "_serve", serve)
    root = ["mlflow-ui", "--root", str(tmp_path / "store")]
    public = runner.invoke(app, [*root, "--host", "0.0.0.0", "--port", "5123"])
    assert public.exit_code == 0, public.output
    warnings = [line for line in public.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: the MLflow server listens on 0.0.0.0:5123 without authentication: whoever "
        "reaches that port can read, change and delete every run and model"
    ]
    for host in ("127.0.0.1", "localhost", "::1"):
        local = runner.invoke(app, [*root, "--host", host])
        assert local.exit_code == 0, local.output
        assert "warning:" not in local.output
    assert [c[c.index("--host") + 1] for c in served] == [
        "0.0.0.0",
        "127.0.0.1",
        "localhost",
        "::1",
    ]
    # the words of the help, out of rich's panel (its frame cuts the lines)
    help_text = " ".join(
        runner.invoke(app, ["mlflow-ui", "--help"]).output.replace("│", " ").split()
    )
    assert "no authentication" in help_text
