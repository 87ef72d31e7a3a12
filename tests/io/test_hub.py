"""The hub path, through the real ``datasets.load_dataset`` on a local folder laid out like the hub."""

from __future__ import annotations

import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.hub import HubDataset

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
COLUMNS = ["Event_Number", "L1T_PUPPIPart_PID", "L1T_PUPPIPart_PT", "L1T_JetAK4_ConstituentsIdx"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub_root(
    tmp_path_factory: pytest.TempPathFactory,
    reader_collide2v_file: Path,
    reader_minbias_file: Path,
    reader_legacy_file: Path,
) -> Path:
    """``<root>/<process>/*.parquet``: COLLIDE-2V ttbar, minbias, and a legacy process."""
    root = tmp_path_factory.mktemp("hub")
    (root / PROCESS).mkdir()
    shutil.copy(reader_collide2v_file, root / PROCESS / reader_collide2v_file.name)
    (root / "minbias").mkdir()
    shutil.copy(reader_minbias_file, root / "minbias" / reader_minbias_file.name)
    (root / "legacy").mkdir()
    shutil.copy(reader_legacy_file, root / "legacy" / reader_legacy_file.name)
    return root


def _flat(array: ak.Array) -> list[np.ndarray]:
    out = [ak.to_numpy(ak.flatten(ak.num(array, axis=a), axis=None)) for a in range(1, array.ndim)]
    return [*out, ak.to_numpy(ak.flatten(array, axis=None))]


def _equal(a: ak.Array, b: ak.Array) -> bool:
    if ak.fields(a) != ak.fields(b) or len(a) != len(b):
        return False
    for name in ak.fields(a):
        x, y = _flat(a[name]), _flat(b[name])
        if x[-1].dtype != y[-1].dtype:  # values keep their dtype; counts may be int32 or int64
            return False
        if not all(np.array_equal(u, v) for u, v in zip(x, y, strict=True)):
            return False
    return True


def test_hub_path_reads_what_the_file_path_reads(hub_root: Path, reader_l1scout_file: Path) -> None:
    hub = open_dataset(
        hub_root, hub=True, processes=[PROCESS, "minbias"], columns=COLUMNS, chunk_size=8
    )
    assert isinstance(hub, HubDataset)
    assert hub.processes == (PROCESS, "minbias")
    assert hub.schemas == {"collide2v"}
    assert hub.n_events == 40
    assert hub.columns == tuple(COLUMNS)
    chunks = list(hub)
    assert all(0 < len(c) <= 8 for c in chunks)
    assert sum(len(c) for c in chunks) == 40
    local = open_dataset([hub_root / PROCESS, hub_root / "minbias"], columns=COLUMNS, chunk_size=8)
    assert isinstance(local, Dataset)
    assert _equal(ak.concatenate(chunks), local.read())
    # and both equal what our writer wrote (same events in every copy)
    ours = open_dataset(reader_l1scout_file, columns=COLUMNS)
    assert isinstance(ours, Dataset)
    assert _equal(hub.read(max_events=20), ours.read())
    assert str(ak.type(chunks[0]["L1T_PUPPIPart_PT"])).endswith("var * float32")


def test_hub_path_reads_the_legacy_schema(hub_root: Path, reader_legacy_file: Path) -> None:
    hub = open_dataset(hub_root, hub=True, processes="legacy", views="L1T", collections=["PFPart"])
    assert isinstance(hub, HubDataset)
    assert hub.schema == "collide1m"
    assert all(c.startswith("L1T_PFPart_") for c in hub.columns)
    local = open_dataset(reader_legacy_file, views="L1T", collections=["PFPart"])
    assert isinstance(local, Dataset)
    events = hub.read()
    assert _equal(events, local.read())
    assert events["L1T_PFPart_PID"].type.content.content.primitive == "int32"
    assert set(np.unique(ak.to_numpy(ak.flatten(events["L1T_PFPart_PID"])))) <= {
        0, 11, -11, 13, -13, 22, 211, -211, 321, -321, 2212, -2212,
    }  # fmt: skip


def test_every_process_folder_by_default_and_mixed_columns(hub_root: Path) -> None:
    hub = HubDataset(hub_root, collections=["Gen_Part"])
    assert hub.processes == ("legacy", "minbias", PROCESS)
    assert hub.schemas == {"collide1m", "collide2v"}
    assert "Gen_Part_PID" in hub.columns
    assert len(hub.read()) == 60
    with pytest.raises(DataFormatError, match="missing from 1 of the inputs: legacy"):
        HubDataset(hub_root, columns=["Event_Number"])


def test_shards_cover_the_process(hub_root: Path) -> None:
    hub = HubDataset(hub_root, processes=["minbias"], columns=["Event_Number"], chunk_size=6)
    assert hub.n_shards("minbias") == 1
    shard = [
        int(x) for c in hub.iter_process("minbias", shard=0) for x in ak.flatten(c["Event_Number"])
    ]
    assert shard == list(range(20))
    narrow = hub.with_columns("L1T_MET_*")
    assert narrow.columns == ("L1T_MET_MET", "L1T_MET_Eta", "L1T_MET_Phi")
    assert len(narrow.read(max_events=5)) == 5


def test_unknown_process_folder(hub_root: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'minbias'"):
        open_dataset(hub_root, hub=True, processes=["minbais"])
    with pytest.raises(ConfigError, match="did you mean 'L1T_PUPPIPart_PT'"):
        open_dataset(hub_root, hub=True, processes=["minbias"], columns=["L1T_PUPPIPart_Pt"])
