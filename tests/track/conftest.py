"""Shared fixtures of the tracking tests: one SQLite store per session, tiny ONNX models."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from l1scout.track._mlflow import client
from l1scout.track.store import local_store

STORE_SECONDS: dict[str, float] = {}


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Tracking URI of a fresh local store (created once: migrations take seconds)."""
    uri = local_store(tmp_path_factory.mktemp("mlflow-store")).uri
    start = time.perf_counter()
    client(uri)
    STORE_SECONDS["create"] = time.perf_counter() - start
    return uri


@pytest.fixture(scope="module", autouse=True)
def _bare_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Run each module in an empty folder, without $MLFLOW_TRACKING_URI, to catch stray stores."""
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("cwd")
    mp.chdir(folder)
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mp.delenv("L1SCOUT_MLFLOW_DIR", raising=False)
    yield folder
    mp.undo()


def write_linear_onnx(path: Path, weight: np.ndarray, bias: np.ndarray) -> Path:
    """A one-layer ONNX model y = x @ weight + bias with a dynamic batch axis (onnx helper API)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n_in, n_out = weight.shape
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n_out])],
        [
            numpy_helper.from_array(weight.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture
def linear_onnx(tmp_path: Path) -> Callable[[str, np.ndarray, np.ndarray], Path]:
    """Factory: ``linear_onnx(name, weight, bias)`` writes ``<tmp>/<name>.onnx``."""

    def make(name: str, weight: np.ndarray, bias: np.ndarray) -> Path:
        return write_linear_onnx(tmp_path / f"{name}.onnx", weight, bias)

    return make
