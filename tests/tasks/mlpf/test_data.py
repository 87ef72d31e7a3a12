"""The MLPF samples: one tiny real production (pileup 0, elements on), read into aligned features and targets.

The production (module fixture) is 6 ttbar and 6 QCD events at pileup 0 with
the ``single`` engine, a few seconds; the reading is checked against the
file's own columns read with pyarrow, event by event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from l1scout.errors import DataFormatError, ProductionError
from l1scout.io.footer import open_file
from l1scout.io.torchdata import split_of
from l1scout.tasks.mlpf.config import MLPFConfig
from l1scout.tasks.mlpf.data import (
    MLPFData,
    ensure_mlpf_samples,
    evaluation_columns,
    load_mlpf_data,
)
from l1scout.tasks.mlpf.features import TOWER, TRACK
from l1scout.tasks.mlpf.targets import mlpf_targets_from_columns

TTBAR, QCD = "tt0123j_5f_ckm_LO_MLM_semiLeptonic", "QCD_HT50toInf"
FRACTIONS = (0.4, 0.3, 0.3)
Produced = tuple[MLPFConfig, Path, dict[str, list[Path]], str, MLPFData]


def _tiny(events: int = 6) -> MLPFConfig:
    return MLPFConfig.model_validate(
        {
            "data": {
                "samples": [
                    {"process": TTBAR, "events": events},
                    {"process": QCD, "events": events},
                ],
                "pileup": 0.0,
                "seed": 3,
                "pool_size": 10,
                "shard_size": 6,
                "engine": {"kind": "single"},
            },
            "splits": {"fractions": list(FRACTIONS)},
        }
    )


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> Produced:
    cfg = _tiny()
    out = tmp_path_factory.mktemp("mlpf-data") / "data"
    files, digest = ensure_mlpf_samples(cfg, out)
    data = load_mlpf_data(files, view="FullReco", fractions=FRACTIONS)
    return cfg, out, files, digest, data


def _file_events(path: Path) -> dict[str, list[list[float]]]:
    """Every column of *path* as Python lists per event."""
    return {name: col.to_pylist() for name, col in zip(*_table(path), strict=True)}


def _table(path: Path) -> tuple[list[str], list[pa.ChunkedArray]]:
    t = pq.read_table(path)
    return t.column_names, t.columns


def test_every_event_is_in_the_split_its_hash_gives(produced: Produced) -> None:
    _, _, files, digest, data = produced
    assert len(digest) == 64
    assert data.samples == (TTBAR, QCD)
    want: dict[tuple[int, int], int] = {}
    for sample, name in enumerate(data.samples):
        for path in files[name]:
            numbers = [int(row[0]) for row in _file_events(path)["Event_Number"]]
            codes = split_of(open_file(path).identity, numbers, FRACTIONS)
            want.update({(sample, n): int(c) for n, c in zip(numbers, codes, strict=True)})
    got = {
        (int(s), int(n)): code
        for code, split in enumerate(data.splits().values())
        for s, n in zip(split.sample, split.event_number, strict=True)
    }
    assert got == want
    assert len(got) == 12
    assert data.test.columns is not None
    assert data.train.columns is None
    assert data.validation.columns is None
    assert set(data.test.columns) == set(evaluation_columns("FullReco"))


def test_features_and_targets_are_the_files_events_element_by_element(produced: Produced) -> None:
    _, _, files, _, data = produced
    by_event = {}
    for sample, name in enumerate(data.samples):
        for path in files[name]:
            cols = _file_events(path)
            for row, number in enumerate(r[0] for r in cols["Event_Number"]):
                by_event[(sample, number)] = {k: v[row] for k, v in cols.items()}
    n_checked = 0
    for split in data.splits().values():
        el, tg = split.elements, split.targets.elements
        assert np.array_equal(el.offsets, tg.offsets)
        for k in range(split.n_events):
            event = by_event[(int(split.sample[k]), int(split.event_number[k]))]
            lo, hi = int(el.offsets[k]), int(el.offsets[k + 1])
            n_trk, n_twr = len(event["FullReco_Track_PT"]), len(event["FullReco_Tower_E"])
            assert hi - lo == n_trk + n_twr > 0
            kind = el.kind[lo:hi]
            assert kind.tolist() == [TRACK] * n_trk + [TOWER] * n_twr
            # the element's pT and energy: a track's PT and P, a tower's ET and E
            np.testing.assert_allclose(el.pt[lo : lo + n_trk], event["FullReco_Track_PT"], 1e-6)
            np.testing.assert_allclose(el.energy[lo + n_trk : hi], event["FullReco_Tower_E"], 1e-6)
            np.testing.assert_allclose(
                el.features[lo : lo + n_trk, 0], np.log(event["FullReco_Track_PT"]), 1e-5
            )
            # a track's target is the generator particle of its GenIndex
            gen_pt = np.asarray(event["Gen_Part_PT"])
            gi = np.asarray(event["FullReco_Track_GenIndex"])
            assert np.array_equal(tg.gen_index[lo : lo + n_trk], gi)
            assert np.all(tg.is_particle[lo : lo + n_trk] == 1)
            np.testing.assert_allclose(tg.pt[lo : lo + n_trk], gen_pt[gi], rtol=1e-5)
            n_checked += 1
    assert n_checked == 12


def test_targets_equal_those_of_the_whole_file(produced: Produced) -> None:
    """Reading by chunk and split changes nothing: the targets of a file read at once, per event."""
    _, _, files, _, data = produced
    path = files[QCD][0]
    cols = _file_events(path)
    jag = {}
    for name, rows in cols.items():
        if not isinstance(rows[0], list):
            continue
        counts = [len(r) for r in rows]
        jag[name] = (
            np.concatenate([[0], np.cumsum(counts)]),
            np.asarray([v for r in rows for v in r]),
        )
    whole = mlpf_targets_from_columns(jag, "FullReco").elements
    numbers = [r[0] for r in cols["Event_Number"]]
    for split in data.splits().values():
        tg = split.targets.elements
        for k in np.flatnonzero(split.sample == 1):
            row = numbers.index(int(split.event_number[k]))
            a = slice(int(tg.offsets[k]), int(tg.offsets[k + 1]))
            b = slice(int(whole.offsets[row]), int(whole.offsets[row + 1]))
            for field in ("is_particle", "cls", "pt", "energy", "pu_fraction", "gen_index"):
                np.testing.assert_allclose(getattr(tg, field)[a], getattr(whole, field)[b])


def test_test_columns_hold_the_test_events_gen_and_pf_particles(produced: Produced) -> None:
    _, _, files, _, data = produced
    test = data.test
    assert test.columns is not None
    off, pt = test.columns["FullReco_PFPart_PT"]
    assert len(off) == test.n_events + 1
    gen_off, _ = test.columns["Gen_Part_PT"]
    assert len(gen_off) == test.n_events + 1
    for k in range(test.n_events):
        name = data.samples[int(test.sample[k])]
        cols = {}
        for path in files[name]:
            c = _file_events(path)
            numbers = [r[0] for r in c["Event_Number"]]
            if int(test.event_number[k]) in numbers:
                row = numbers.index(int(test.event_number[k]))
                cols = {n: v[row] for n, v in c.items()}
        np.testing.assert_allclose(pt[off[k] : off[k + 1]], cols["FullReco_PFPart_PT"], 1e-3)


def test_rerun_makes_nothing_and_another_configuration_is_refused(produced: Produced) -> None:
    cfg, out, files, digest, _ = produced
    before = {p: p.stat().st_mtime_ns for ps in files.values() for p in ps}
    _, digest2 = ensure_mlpf_samples(cfg, out)
    assert digest2 == digest
    assert {p: p.stat().st_mtime_ns for ps in files.values() for p in ps} == before
    with pytest.raises(ProductionError, match="another MLPF samples configuration"):
        ensure_mlpf_samples(_tiny(events=7), out)


def test_a_file_without_the_elements_is_refused_naming_the_column(
    produced: Produced, tmp_path: Path
) -> None:
    _, _, files, _, _ = produced
    table = pq.read_table(files[QCD][0]).drop_columns(["FullReco_Tower_Eem"])
    bad = tmp_path / "no-eem.parquet"
    pq.write_table(table, bad)
    with pytest.raises(DataFormatError, match="FullReco_Tower_Eem"):
        load_mlpf_data({"x": [bad]})


def test_a_card_file_as_the_view_names_the_collections_after_the_card() -> None:
    """A view given as a card file's path writes and reads the card's own name."""
    from l1scout.detector import view_card
    from l1scout.tasks.mlpf.data import production_plan

    card = Path(view_card.__file__).with_name("cards") / "FullRecoCLD.toml"
    cfg = MLPFConfig.model_validate(
        {"data": {"view": str(card), "samples": [{"process": "QCD_HT50toInf", "events": 40}]}}
    )
    assert cfg.data.view_name == "FullRecoCLD"
    plan = production_plan(cfg)
    assert plan.collections is not None
    assert "FullRecoCLD_PFPart" in plan.collections
    assert not any(str(card) in c for c in plan.collections)
