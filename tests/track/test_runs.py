"""Tracked runs on a real local store: params, metrics per step, artifacts, tags, nesting, status."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import shutil
import subprocess
from pathlib import Path

import pydantic
import pytest

from l1scout._version import __version__
from l1scout.errors import ConfigError, DataFormatError
from l1scout.track._mlflow import client
from l1scout.track.runs import (
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    dataset_hash,
    flatten_params,
    git_commit,
    git_dirty,
    start_run,
)
from l1scout.track.store import local_store

REPO = Path(__file__).resolve().parents[2]


class Kind(enum.Enum):
    VAE = "vae"


class Inner(pydantic.BaseModel):
    latent: int = 8
    hidden: tuple[int, ...] = (32, 16)


@dataclasses.dataclass(frozen=True)
class Train:
    epochs: int = 3
    lr: float = 1e-3


# ----------------------------------------------------------------------------- pure parts


def test_flatten_params() -> None:
    params = {
        "model": {"kind": Kind.VAE, "inner": Inner(), "beta": 0.5, "out": Path("/a/b")},
        "train": Train(),
        "models": [{"name": "a"}, Train(epochs=1)],
        "rates": (0.5, 1.0),
        "none": None,
        "empty": {},
    }
    assert flatten_params(params) == {
        "model.kind": "vae",
        "model.inner.latent": "8",
        "model.inner.hidden": "[32, 16]",  # pydantic's JSON form of a tuple
        "model.beta": "0.5",
        "model.out": "/a/b",
        "train.epochs": "3",
        "train.lr": "0.001",
        "models.0.name": "a",
        "models.1.epochs": "1",
        "models.1.lr": "0.001",
        "rates": "(0.5, 1.0)",
        "none": "None",
    }


def test_flatten_params_limits() -> None:
    long = flatten_params({"x": "a" * (MAX_PARAM_VALUE_LENGTH + 10)})["x"]
    assert len(long) == MAX_PARAM_VALUE_LENGTH
    assert long.startswith("aaa")
    assert long.endswith("[truncated]")
    assert flatten_params({"x": "a" * MAX_PARAM_VALUE_LENGTH})["x"] == "a" * MAX_PARAM_VALUE_LENGTH
    for bad in ("a:b", "a..b" + "/../c", "/abs", "sp€c", "a" * (MAX_KEY_LENGTH + 1), ""):
        with pytest.raises(ConfigError, match="parameter"):
            flatten_params({bad: 1})
    with pytest.raises(ConfigError, match=r"'outer\.in;ner'"):
        flatten_params({"outer": {"in;ner": 1}})


def test_limits_agree_with_mlflow() -> None:
    from mlflow.utils import validation

    assert validation.MAX_ENTITY_KEY_LENGTH == MAX_KEY_LENGTH
    assert validation.MAX_PARAM_VAL_LENGTH == MAX_PARAM_VALUE_LENGTH
    assert validation.MAX_TAG_VAL_LENGTH == MAX_TAG_VALUE_LENGTH


def test_dataset_hash(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.json"
    a.write_bytes(b"\x00\x01parquet bytes")
    b.write_bytes(b'{"events": 3}')
    h = dataset_hash([a, b])
    # reference: sha256 over the sorted "name NUL sha256(bytes) LF" lines
    lines = sorted(f"{p.name}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in (a, b))
    assert h == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert dataset_hash([str(b), a]) == h  # order and str/Path do not matter
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(a, copy / a.name)
    shutil.copy(b, copy / b.name)
    assert dataset_hash([copy / "b.json", copy / "a.parquet"]) == h  # nor does the folder
    data = bytearray(a.read_bytes())
    data[5] ^= 0x01
    a.write_bytes(bytes(data))
    assert dataset_hash([a, b]) != h  # one flipped bit changes it
    a.rename(tmp_path / "c.parquet")
    with pytest.raises(DataFormatError, match=r"a\.parquet"):
        dataset_hash([a, b])
    with pytest.raises(ConfigError, match="at least one file"):
        dataset_hash([])


def test_dataset_hash_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    (folder / "sub").mkdir(parents=True)
    (folder / "s0.parquet").write_bytes(b"zero")
    (folder / "sub" / "s1.parquet").write_bytes(b"one")
    h = dataset_hash([folder])
    (folder / ".s2.parquet.tmp-123").write_bytes(b"half-written")  # a killed writer's leftover
    assert dataset_hash([folder]) == h
    lines = sorted(
        f"{name}\0{hashlib.sha256(data).hexdigest()}\n"
        for name, data in (("shards/s0.parquet", b"zero"), ("shards/sub/s1.parquet", b"one"))
    )
    assert h == hashlib.sha256("".join(lines).encode()).hexdigest()


def test_git_commit() -> None:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("needs git and the l1scout checkout")
    head = subprocess.run(
        [git, "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert git_commit() == head.stdout.strip()
    assert git_commit(REPO / "src") == head.stdout.strip()
    assert git_dirty(REPO) in (True, False)


def test_git_outside_a_checkout(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == "unknown"
    assert git_dirty(tmp_path) is None
    assert git_commit(tmp_path / "missing") == "unknown"


# ----------------------------------------------------------------------------- on a store


def test_run_logs_everything(store: str, tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "roc.png").write_bytes(b"png")
    (tmp_path / "plots" / "deep").mkdir()
    (tmp_path / "plots" / "deep" / "x.txt").write_text("x")
    (tmp_path / "scaler.json").write_text("{}")
    with start_run(
        "runs-everything",
        run_name="train-vae",
        params={"model": {"latent": 8, "hidden": (32, 16)}, "seed": 1},
        tags={"l1scout.stage": "train"},
        dataset_hash="abc123",
        uri=store,
    ) as run:
        for epoch, loss in enumerate([3.0, 2.0, 1.5]):
            run.log_metrics({"loss": loss, "val.loss": loss + 0.25}, step=epoch)
        run.log_metrics({"eff.ADC2021_A50_4l.1kHz": 0.42})
        run.log_artifact(tmp_path / "scaler.json")
        run.log_artifact(tmp_path / "plots", "report")
        run.log_artifact(tmp_path / "plots")
        run.log_artifact(tmp_path / "scaler.json", "model/")
        run.set_tags({"note": "n" * (MAX_TAG_VALUE_LENGTH + 5)})
        assert run.status is None
    assert run.status == "FINISHED"
    assert run.uri == store

    mlf = client(store)
    got = mlf.get_run(run.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "train-vae"
    assert mlf.get_experiment(got.info.experiment_id).name == "runs-everything"
    assert got.data.params == {"model.latent": "8", "model.hidden": "(32, 16)", "seed": "1"}
    tags = got.data.tags
    assert tags["l1scout.version"] == __version__
    assert tags["git.commit"] == git_commit()
    assert tags["git.dirty"] in {"true", "false", "unknown"}
    assert tags["dataset.hash"] == "abc123"
    assert tags["l1scout.stage"] == "train"
    assert len(tags["note"]) == MAX_TAG_VALUE_LENGTH
    assert "mlflow.parentRunId" not in tags
    history = mlf.get_metric_history(run.run_id, "loss")
    assert sorted((m.step, m.value) for m in history) == [(0, 3.0), (1, 2.0), (2, 1.5)]
    assert got.data.metrics == {"loss": 1.5, "val.loss": 1.75, "eff.ADC2021_A50_4l.1kHz": 0.42}

    def listing(path: str = "") -> set[str]:
        out: set[str] = set()
        for info in mlf.list_artifacts(run.run_id, path):
            out |= listing(info.path) if info.is_dir else {info.path}
        return out

    assert listing() == {
        "scaler.json",
        "model/scaler.json",
        "report/roc.png",
        "report/deep/x.txt",
        "plots/roc.png",
        "plots/deep/x.txt",
    }
    # artifacts live in the store's folder, under the experiment's own folder
    artifacts = local_store(Path(store[len("sqlite:///") :]).parent).artifacts
    assert run.artifact_uri.startswith(artifacts.as_uri() + "/runs-everything-")
    assert Path(run.artifact_uri[len("file://") :], "report", "deep", "x.txt").read_text() == "x"


def test_failure_marks_the_run_failed(store: str) -> None:
    runs = []

    def crash() -> None:
        with start_run("runs-fail", run_name="r", uri=store) as run:
            runs.append(run)
            run.log_metrics({"loss": 1.0}, step=0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        crash()
    (run,) = runs
    assert run.status == "FAILED"
    assert client(store).get_run(run.run_id).info.status == "FAILED"
    run.end("FINISHED")  # already ended: nothing changes
    assert client(store).get_run(run.run_id).info.status == "FAILED"


def test_nested_runs_share_the_parent_store(store: str) -> None:
    with start_run("runs-scan", run_name="scan-beta", uri=store) as scan:
        children = []
        for beta in (0.1, 0.5):
            with start_run(
                "runs-scan", run_name=f"beta={beta}", params={"beta": beta}, parent=scan
            ) as child:
                child.log_metrics({"auc": beta})
                children.append(child)
    mlf = client(store)
    for child in children:
        assert child.uri == store
        assert mlf.get_run(child.run_id).data.tags["mlflow.parentRunId"] == scan.run_id
    found = mlf.search_runs(
        [scan.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{scan.run_id}'"
    )
    assert {r.info.run_id for r in found} == {c.run_id for c in children}


def test_bad_input_is_a_config_error(store: str, tmp_path: Path) -> None:
    with start_run("runs-bad", run_name="r", uri=store) as run:
        with pytest.raises(ConfigError, match="expected a number"):
            run.log_metrics({"loss": "low"})  # type: ignore[dict-item]
        with pytest.raises(ConfigError, match="metric"):
            run.log_metrics({"a:b": 1.0})
        with pytest.raises(DataFormatError, match="no such file or folder"):
            run.log_artifact(tmp_path / "missing.png")
    with pytest.raises(ConfigError, match="non-empty name"):
        start_run(" ", run_name="r", uri=store)
    with pytest.raises(ConfigError, match="parameter"):
        start_run("runs-bad", run_name="r2", params={"bad:key": 1}, uri=store)
    failed = client(store).search_runs(
        [run.experiment_id], filter_string="attributes.run_name = 'r2'"
    )
    assert [r.info.status for r in failed] == [
        "FAILED"
    ]  # a run whose setup failed is not left open


@pytest.mark.slow
def test_two_stores_stay_apart(store: str, tmp_path: Path) -> None:
    other = local_store(tmp_path / "other").uri
    with start_run("runs-apart", run_name="a", uri=store) as a:
        a.log_metrics({"m": 1.0})
    with start_run("runs-apart-other", run_name="b", uri=other) as b:
        b.log_metrics({"m": 2.0})
    assert client(store).get_experiment_by_name("runs-apart-other") is None
    assert client(other).get_experiment_by_name("runs-apart") is None
    assert client(other).get_run(b.run_id).data.metrics == {"m": 2.0}
    assert (tmp_path / "other" / "mlflow.db").is_file()
    # the default experiment of a store made by l1scout keeps its artifacts in the store too
    assert (
        client(other).get_experiment("0").artifact_location
        == (tmp_path / "other" / "artifacts" / "0").as_uri()
    )
