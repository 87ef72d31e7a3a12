"""The Triton-style model repository: config.pbtxt parses back, matches the ONNX graph, model loads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from l1scout.deploy.triton import TritonTensor, onnx_tensors, write_triton_repository
from l1scout.errors import ConfigError, DataFormatError

# tritonclient is not installed here: a small reader of the protobuf text format subset
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"[^"]*")|(?P<num>-?\d+)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<sym>[\[\]{}:,]))'
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m is not None, f"unexpected text at {pos}: {text[pos : pos + 20]!r}"
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _scalar(tok: tuple[str, str]) -> str | int:
    kind, v = tok
    if kind == "str":
        return v[1:-1]
    return int(v) if kind == "num" else v


def _parse_message(
    toks: list[tuple[str, str]], i: int, end: str | None
) -> tuple[dict[str, Any], int]:
    """Fields until *end* ('}' or None for the end of text); a ``[...]`` field is a list."""
    msg: dict[str, Any] = {}
    value: Any
    while i < len(toks) and toks[i] != ("sym", end):
        kind, name = toks[i]
        assert kind == "word", f"field name expected, got {toks[i]}"
        i += 1
        if toks[i] == ("sym", ":"):
            i += 1
        if toks[i] == ("sym", "{"):
            value, i = _parse_message(toks, i + 1, "}")
            i += 1
        elif toks[i] == ("sym", "["):
            i += 1
            items: list[Any] = []
            while toks[i] != ("sym", "]"):
                if toks[i] == ("sym", "{"):
                    sub, i = _parse_message(toks, i + 1, "}")
                    items.append(sub)
                    i += 1
                else:
                    items.append(_scalar(toks[i]))
                    i += 1
                if toks[i] == ("sym", ","):
                    i += 1
            i += 1
            value = items
        else:
            value, i = _scalar(toks[i]), i + 1
        assert name not in msg, f"field {name} twice"
        msg[name] = value
    return msg, i


def parse_pbtxt(text: str) -> dict[str, Any]:
    toks = _tokens(text)
    msg, i = _parse_message(toks, 0, None)
    assert i == len(toks)
    return msg


def _tiny_onnx(path: Path) -> Path:
    """y = x @ W + b (float, dynamic batch), and n = shape(x) (int64)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    n = helper.make_tensor_value_info("n", TensorProto.INT64, [2])
    w = helper.make_tensor("W", TensorProto.FLOAT, [4, 3], np.arange(12, dtype=np.float32).ravel())
    b = helper.make_tensor("b", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["y"]),
        helper.make_node("Shape", ["x"], ["n"]),
    ]
    graph = helper.make_graph(nodes, "tiny", [x], [y, n], initializer=[w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_config_parses_back_and_matches_the_graph(tmp_path: Path) -> None:
    src = _tiny_onnx(tmp_path / "tiny.onnx")
    config = write_triton_repository(src, tmp_path / "repo", model_name="tiny", version=3)
    assert config == tmp_path / "repo" / "tiny" / "config.pbtxt"
    cfg = parse_pbtxt(config.read_text())
    assert cfg["name"] == "tiny"
    assert cfg["platform"] == "onnxruntime_onnx"
    assert cfg["max_batch_size"] == 0
    assert cfg["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [-1, 4]}]
    assert cfg["output"] == [
        {"name": "y", "data_type": "TYPE_FP32", "dims": [-1, 3]},
        {"name": "n", "data_type": "TYPE_INT64", "dims": [2]},
    ]
    assert cfg["instance_group"] == [{"count": 1, "kind": "KIND_CPU"}]

    # the copy is byte-identical and runs in ONNX Runtime with the configured names
    import onnxruntime as ort

    copy = tmp_path / "repo" / "tiny" / "3" / "model.onnx"
    assert copy.read_bytes() == src.read_bytes()
    sess = ort.InferenceSession(str(copy), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == [t["name"] for t in cfg["input"]]
    assert [o.name for o in sess.get_outputs()] == [t["name"] for t in cfg["output"]]
    x = np.ones((5, 4), dtype=np.float32)
    y, n = sess.run(None, {"x": x})
    np.testing.assert_allclose(y, np.tile([19.0, 24.0, 29.0], (5, 1)))  # column sums + b
    assert n.tolist() == [5, 4]
    # no temporary file left behind
    assert sorted(p.name for p in (tmp_path / "repo" / "tiny").rglob("*")) == [
        "3",
        "config.pbtxt",
        "model.onnx",
    ]


def test_batching_drops_the_batch_axis_and_explicit_tensors_win(tmp_path: Path) -> None:
    src = _tiny_onnx(tmp_path / "tiny.onnx")
    out = [TritonTensor("y", "TYPE_FP32", (-1, 3))]
    config = write_triton_repository(
        src, tmp_path / "repo", model_name="tiny_b", max_batch_size=64, outputs=out
    )
    cfg = parse_pbtxt(config.read_text())
    assert cfg["max_batch_size"] == 64
    assert cfg["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}]
    assert cfg["output"] == [{"name": "y", "data_type": "TYPE_FP32", "dims": [3]}]
    assert (tmp_path / "repo" / "tiny_b" / "1" / "model.onnx").is_file()


def test_mlpf_export_gets_its_dynamic_axes(tmp_path: Path) -> None:
    from l1scout.tasks.mlpf.model import OUTPUT_NAMES, MLPFModel, MLPFModelConfig, export_mlpf

    cfg = MLPFModelConfig(width=8, n_heads=2, n_layers=1, ff_dim=8, head_hidden=8, bin_size=4)
    path = export_mlpf(MLPFModel(cfg), tmp_path / "mlpf.onnx")
    inputs, outputs = onnx_tensors(path)
    assert inputs == [TritonTensor("x", "TYPE_FP32", (-1, -1, 17))]
    assert [(t.name, t.dims) for t in outputs] == [
        (name, (-1, -1, k)) for name, k in zip(OUTPUT_NAMES, (2, 6, 5, 2), strict=True)
    ]


def test_refusals(tmp_path: Path) -> None:
    src = _tiny_onnx(tmp_path / "tiny.onnx")
    with pytest.raises(ConfigError, match="model_name"):
        write_triton_repository(src, tmp_path, model_name="../up")
    with pytest.raises(ConfigError, match="version"):
        write_triton_repository(src, tmp_path, model_name="m", version=0)
    with pytest.raises(ConfigError, match="max_batch_size"):
        write_triton_repository(src, tmp_path, model_name="m", max_batch_size=-1)
    with pytest.raises(ConfigError, match="onnx_path"):
        write_triton_repository(tmp_path / "missing.onnx", tmp_path, model_name="m")
    with pytest.raises(ConfigError, match="dims"):
        TritonTensor("x", "TYPE_FP32", (0, 3))
    with pytest.raises(ConfigError, match="data_type"):
        TritonTensor("x", "FP32", (3,))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file at all")
    with pytest.raises(DataFormatError, match="cannot read"):
        write_triton_repository(bad, tmp_path, model_name="m")
    with pytest.raises(ConfigError, match="scalar"):
        write_triton_repository(
            src,
            tmp_path,
            model_name="m",
            max_batch_size=2,
            inputs=[TritonTensor("x", "TYPE_FP32", ())],
        )
