from __future__ import annotations

import functools
import pickle
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.footer import open_file
from l1scout.io.paths import goes_to_hub

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"


def _parts(array: ak.Array) -> list[np.ndarray]:
    """Counts at every list depth, then the values."""
    out = [ak.to_numpy(ak.flatten(ak.num(array, axis=a), axis=None)) for a in range(1, array.ndim)]
    return [*out, ak.to_numpy(ak.flatten(array, axis=None))]


@functools.cache
def _table(path: Path) -> pa.Table:
    return pq.read_table(path)


def _reference(path: Path, name: str) -> list[np.ndarray]:
    """A column read by pyarrow alone, float16 widened in numpy."""
    parts = _parts(ak.from_arrow(_table(path).column(name)))
    values = parts[-1]
    if values.dtype == np.float16:
        parts[-1] = values.astype(np.float32)
    return parts


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    # values keep their dtype; list counts may come as int32 or int64
    return (
        len(a) == len(b)
        and a[-1].dtype == b[-1].dtype
        and all(
            np.array_equal(x, y, equal_nan=x.dtype.kind == "f") for x, y in zip(a, b, strict=True)
        )
    )


def _event_numbers(chunks: list[ak.Array]) -> list[int]:
    return [int(x) for c in chunks for x in ak.flatten(c["Event_Number"])]


@pytest.mark.slow
def test_our_file_round_trips_every_column(reader_l1scout_file: Path) -> None:
    ds = open_dataset(reader_l1scout_file)
    assert isinstance(ds, Dataset)
    assert ds.schema == "l1scout"
    assert ds.n_events == 20
    names = pq.read_schema(reader_l1scout_file).names
    assert ds.columns == tuple(names)
    events = ds.read()
    assert len(events) == 20
    for name in names:
        assert _same(_parts(events[name]), _reference(reader_l1scout_file, name)), name
    # float16 is upcast, everything else keeps its dtype, no option types
    assert str(ak.type(events["L1T_PUPPIPart_PT"])) == "20 * var * float32"
    assert str(ak.type(events["L1T_PUPPIPart_Charge"])) == "20 * var * int8"
    assert str(ak.type(events["L1T_JetAK4_ConstituentsIdx"])) == "20 * var * var * int16"
    assert str(ak.type(events["Gen_Part_PID"])) == "20 * var * int32"


@pytest.mark.slow
def test_collide2v_file_reads_the_same_events(
    reader_l1scout_file: Path, reader_collide2v_file: Path
) -> None:
    ds = open_dataset(reader_collide2v_file)
    assert ds.schema == "collide2v"
    assert ds.files[0].process == PROCESS  # from the COLLIDE file name
    assert "Gen_Part_VertexIndex" not in ds.columns
    events = ds.read()
    for name in ds.columns:
        assert _same(_parts(events[name]), _reference(reader_l1scout_file, name)), name


@pytest.mark.slow
def test_legacy_file_reads_as_canonical_columns(
    reader_l1scout_file: Path, reader_legacy_file: Path
) -> None:
    ds = open_dataset(reader_legacy_file)
    assert ds.schema == "collide1m"
    assert pq.read_schema(reader_legacy_file).field("FullReco_GenPart_PID").type == pa.list_(
        pa.int8()
    )
    expected = {
        "Gen_Part_PT",
        "Gen_Part_PID",
        "Gen_JetAK4_PT",
        "Gen_MissingET_MET",
        "Vertex_Z",
        "L1T_PFPart_PT",
        "FullReco_PFPart_PID",
        "L1T_PUPPIPart_PuppiW",
    }
    assert expected <= set(ds.columns)
    assert not any("PFCand" in c or "GenPart" in c for c in ds.columns)
    events = ds.read()
    for name in expected - {"Gen_Part_PID", "FullReco_PFPart_PID"}:
        assert _same(_parts(events[name]), _reference(reader_l1scout_file, name)), name
    # PF PIDs unwrap exactly
    for name in ("FullReco_PFPart_PID", "L1T_PUPPIPart_PID"):
        assert _same(_parts(events[name]), _reference(reader_l1scout_file, name)), name
    # generator PIDs: exact for final-state particles; hadrons of the hard record may not be
    truth = pq.read_table(reader_l1scout_file, columns=["Gen_Part_PID", "Gen_Part_Status"])
    pid = pc.list_flatten(truth.column("Gen_Part_PID")).to_numpy()
    status = pc.list_flatten(truth.column("Gen_Part_Status")).to_numpy()
    got = ak.to_numpy(ak.flatten(events["Gen_Part_PID"]))
    assert got.dtype == np.int32
    assert np.array_equal(got[status == 1], pid[status == 1])
    small = np.abs(pid) <= 127
    assert np.array_equal(got[small], pid[small])


@pytest.mark.slow
def test_chunks_are_bounded_and_add_up(reader_collide2v_file: Path) -> None:
    assert pq.ParquetFile(reader_collide2v_file).metadata.num_row_groups == 4
    ds = open_dataset(
        reader_collide2v_file, columns=["Event_Number", "L1T_PUPPIPart_*"], chunk_size=4
    )
    chunks = list(ds)
    assert len(chunks) == 5
    assert all(0 < len(c) <= 4 for c in chunks)
    assert sum(len(c) for c in chunks) == 20
    full = ds.read()
    joined = ak.concatenate(chunks)
    for name in ds.columns:
        assert _same(_parts(joined[name]), _parts(full[name])), name
    assert _event_numbers(chunks) == list(range(20))


@pytest.mark.slow
def test_wide_events_come_in_smaller_chunks(reader_collide2v_file: Path) -> None:
    md = pq.ParquetFile(reader_collide2v_file).metadata
    width = (
        sum(
            md.row_group(i).column(j).total_uncompressed_size
            for i in range(md.num_row_groups)
            for j in range(md.num_columns)
            if md.row_group(i).column(j).path_in_schema.startswith("L1T_PUPPIPart_")
        )
        / md.num_rows
    )
    ds = open_dataset(
        reader_collide2v_file,
        collections="L1T_PUPPIPart",
        chunk_size=100,
        chunk_bytes=int(3.5 * width),
    )
    assert isinstance(ds, Dataset)
    assert ds.chunk_events(0) == 3
    assert [len(c) for c in ds] == [3, 3, 3, 3, 3, 3, 2]
    unlimited = open_dataset(reader_collide2v_file, collections="L1T_PUPPIPart", chunk_bytes=None)
    assert [len(c) for c in unlimited] == [20]
    assert _same(
        _parts(ak.concatenate(list(ds))["L1T_PUPPIPart_PT"]),
        _parts(unlimited.read()["L1T_PUPPIPart_PT"]),
    )
    assert ds.with_columns("L1T_PUPPIPart_PT").chunk_bytes == int(3.5 * width)


@pytest.mark.slow
def test_iter_file_reads_the_row_groups_asked_for(reader_collide2v_file: Path) -> None:
    ds = open_dataset(reader_collide2v_file, columns=["Event_Number"], chunk_size=100)
    assert isinstance(ds, Dataset)
    f = ds.files[0]
    assert f.row_group_rows == (6, 6, 6, 2)
    assert f.row_group_starts() == (0, 6, 12, 18, 20)
    assert _event_numbers(list(ds.iter_file(f, row_groups=[2, 0]))) == [
        *range(12, 18),
        *range(6),
    ]
    assert list(ds.iter_file(0, row_groups=[])) == []
    assert len(ds.read(max_events=7)) == 7
    assert len(ds.read(max_events=0)) == 0


@pytest.mark.slow
def test_sources_folder_glob_and_list(
    reader_collide2v_file: Path, reader_legacy_file: Path, reader_l1scout_file: Path
) -> None:
    folder = reader_collide2v_file.parent.parent
    by_folder = open_dataset(folder)
    by_glob = open_dataset(str(folder / "*" / "*.parquet"))
    by_list = open_dataset([reader_collide2v_file])
    assert by_folder.files == by_glob.files == by_list.files
    mixed = open_dataset([reader_l1scout_file, reader_collide2v_file, reader_legacy_file])
    assert isinstance(mixed, Dataset)
    assert mixed.schemas == {"l1scout", "collide2v", "collide1m"}
    assert mixed.schema == "l1scout"
    assert mixed.n_events == 60
    assert "Event_Number" not in mixed.columns  # the legacy file has no Event columns
    assert len(mixed.read()) == 60
    with pytest.raises(DataFormatError, match=r"RS11\.parquet"):
        open_dataset([reader_l1scout_file, reader_legacy_file], columns=["Event_Number"])


@pytest.mark.slow
def test_selections(reader_l1scout_file: Path, reader_minbias_file: Path) -> None:
    both = [reader_l1scout_file, reader_minbias_file]
    ds = open_dataset(both, processes=["minbias"])
    assert [f.process for f in ds.files] == ["minbias"]
    assert open_dataset(both, processes=PROCESS).files[0].path == reader_l1scout_file
    with pytest.raises(ConfigError, match="did you mean 'minbias'"):
        open_dataset(both, processes=["minbais"])

    l1t = open_dataset(reader_l1scout_file, views=["L1T"]).columns
    assert not any(c.startswith("FullReco_") for c in l1t)
    assert "Gen_Part_PT" in l1t
    assert "L1T_PUPPIPart_PT" in l1t
    assert "Event_Number" in l1t
    with pytest.raises(ConfigError, match="did you mean 'L1T'"):
        open_dataset(reader_l1scout_file, views=["L1t"])

    puppi = open_dataset(reader_l1scout_file, collections=["PUPPIPart"]).columns
    assert {c.rsplit("_", 2)[0] for c in puppi} == {"FullReco", "L1T"}
    assert all("_PUPPIPart_" in c for c in puppi)
    assert len(puppi) == 30
    only = open_dataset(reader_l1scout_file, views="L1T", collections="PUPPIPart").columns
    assert only == tuple(c for c in puppi if c.startswith("L1T_"))
    assert open_dataset(reader_l1scout_file, collections=["L1T_PUPPIPart"]).columns == only
    with pytest.raises(ConfigError, match="did you mean 'PUPPIPart'"):
        open_dataset(reader_l1scout_file, collections=["PUPPIPArt"])
    with pytest.raises(ConfigError, match="views selection leaves out"):
        open_dataset(reader_l1scout_file, views=["L1T"], collections=["FullReco_Electron"])

    muons = open_dataset(
        reader_l1scout_file, columns=["L1T_MuonTight_*", "Event_Number"], collections=["Gen_Part"]
    ).columns
    assert "L1T_MuonTight_PT" in muons
    assert "Event_Number" in muons
    assert "Gen_Part_PID" in muons
    assert not any(c.startswith("FullReco_") for c in muons)
    with pytest.raises(ConfigError, match="did you mean 'L1T_MuonTight_PT'"):
        open_dataset(reader_l1scout_file, columns=["L1T_MuonTight_pt"])
    # legacy names are understood
    legacy = open_dataset(reader_l1scout_file, columns=["FullReco_GenPart_PT", "L1T_PFCand_PT"])
    assert legacy.columns == ("Gen_Part_PT", "L1T_PFPart_PT")
    again = ds.with_columns(["Event_Number"])
    assert again.columns == ("Event_Number",)
    assert again.files == ds.files


@pytest.mark.slow
def test_legacy_selection_by_canonical_names(reader_legacy_file: Path) -> None:
    ds = open_dataset(reader_legacy_file, views="L1T", collections=["PFPart"], chunk_size=8)
    assert all(c.startswith("L1T_PFPart_") for c in ds.columns)
    assert [len(c) for c in ds] == [8, 8, 4]


@pytest.mark.slow
def test_dataset_pickles(reader_collide2v_file: Path) -> None:
    ds = open_dataset(reader_collide2v_file, columns=["Event_Number"], chunk_size=5)
    assert isinstance(ds, Dataset)
    next(iter(ds))  # opens a file handle, which must not travel
    clone = pickle.loads(pickle.dumps(ds))
    assert _event_numbers(list(clone)) == list(range(20))


def test_hand_made_file_from_our_writer(tmp_path: Path) -> None:
    from l1scout.io.parquet import AtomicParquetWriter
    from l1scout.io.schema import EVENT_COLUMNS, GEN_PART_COLUMNS

    cols = (*GEN_PART_COLUMNS[:5], EVENT_COLUMNS[0])  # PID, Status, PT, Eta, Phi; Number
    assert [c.name for c in cols][-1] == "Event_Number"
    pt = np.array([1.1, 250.3, 0.7], dtype=np.float64)
    data = {
        "Gen_Part_PID": (np.array([0, 2, 2, 3]), np.array([2212, -211, 22])),
        "Gen_Part_Status": (np.array([0, 2, 2, 3]), np.array([4, 1, 1])),
        "Gen_Part_PT": (np.array([0, 2, 2, 3]), pt),
        "Gen_Part_Eta": (np.array([0, 2, 2, 3]), np.array([0.5, -2.0, 1.0])),
        "Gen_Part_Phi": (np.array([0, 2, 2, 3]), np.array([3.14159, -1.0, 0.25])),
        "Event_Number": (np.array([0, 1, 2, 3]), np.array([10, 11, 12])),
    }
    path = tmp_path / "hand.parquet"
    with AtomicParquetWriter(path, cols, {"dataset_version": "l1scout_gen_v1"}) as writer:
        writer.write(data)
        writer.finish()
    ds = open_dataset(path, chunk_size=2)
    assert ds.schema == "l1scout"
    assert [len(c) for c in ds] == [2, 1]
    ev = ds.read()
    assert ak.to_list(ak.num(ev["Gen_Part_PT"])) == [2, 0, 1]
    # float16 storage, float32 reading: the float16 rounding of each value, exactly
    assert ak.to_list(ak.flatten(ev["Gen_Part_PT"])) == [1.099609375, 250.25, 0.7001953125]
    assert ak.flatten(ev["Gen_Part_PT"]).to_numpy().dtype == np.float32
    assert ak.to_list(ev["Gen_Part_PID"]) == [[2212, -211], [], [22]]
    assert ak.to_list(ak.flatten(ev["Event_Number"])) == [10, 11, 12]


def test_missing_and_empty_sources(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        open_dataset(tmp_path / "nothing.parquet")
    with pytest.raises(ConfigError, match=r"holds no \.parquet file"):
        open_dataset(tmp_path)
    with pytest.raises(ConfigError, match="matches no file"):
        open_dataset(str(tmp_path / "*.parquet"))
    with pytest.raises(ConfigError, match="chunk_size"):
        open_dataset(tmp_path, chunk_size=0)


def test_hub_routing() -> None:
    assert goes_to_hub("fastmachinelearning/collide-1m", None)
    assert not goes_to_hub("fastmachinelearning/collide-1m", False)
    assert not goes_to_hub("data/*.parquet", None)
    assert not goes_to_hub(Path("owner/name"), None)
    assert not goes_to_hub("plainname", None)
    assert goes_to_hub("/some/folder", True)


def test_random_bytes_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "noise.parquet"
    bad.write_bytes(np.random.default_rng(1).bytes(5000))
    with pytest.raises(DataFormatError, match=r"noise\.parquet"):
        open_dataset(bad)


def test_a_table_of_no_known_schema_is_named(tmp_path: Path) -> None:
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [[1.0]], "y": [[2.0]]}), other)
    with pytest.raises(DataFormatError) as err:
        open_file(other)
    assert "other.parquet" in str(err.value)
    assert "Gen_Part_PT" in str(err.value)


@pytest.mark.slow
def test_truncated_and_damaged_files_are_named(reader_l1scout_file: Path, tmp_path: Path) -> None:
    data = reader_l1scout_file.read_bytes()
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"truncated\.parquet"):
        open_dataset(truncated)
    # damage the data pages but keep the footer: found when the data is read
    footer = int.from_bytes(data[-8:-4], "little")
    body = len(data) - 8 - footer
    damaged = bytearray(data)
    damaged[body // 3 : 2 * body // 3] = bytes(2 * body // 3 - body // 3)
    path = tmp_path / "damaged.parquet"
    path.write_bytes(bytes(damaged))
    ds = open_dataset(path)
    with pytest.raises(DataFormatError, match=r"damaged\.parquet"):
        ds.read()


@pytest.mark.slow
def test_unknown_extra_columns_pass_through(reader_collide2v_file: Path, tmp_path: Path) -> None:
    table = pq.read_table(
        reader_collide2v_file, columns=["Event_Number", "L1T_MET_MET", "L1T_MET_Phi"]
    )
    table = table.append_column("my_label", pa.array([[i % 3] for i in range(20)]))
    path = tmp_path / "labelled.parquet"
    pq.write_table(table, path)
    ds = open_dataset(path, columns=["my_label"])
    assert ak.to_list(ak.flatten(ds.read()["my_label"])) == [i % 3 for i in range(20)]
    shutil.rmtree(tmp_path)


def test_few_files_stay_open(reader_l1scout_file: Path, tmp_path: Path) -> None:
    # footers are large: a dataset of many files must not keep them all in memory
    for k in range(7):
        shutil.copy(reader_l1scout_file, tmp_path / f"copy{k}.parquet")
    ds = open_dataset(tmp_path, columns=["Event_Number"])
    assert isinstance(ds, Dataset)
    n = sum(len(chunk) for chunk in ds)
    assert n == 7 * pq.ParquetFile(reader_l1scout_file).metadata.num_rows
    assert 1 <= len(ds._open) <= 4
