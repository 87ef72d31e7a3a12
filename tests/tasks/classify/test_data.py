"""The classification data: a hand-made COLLIDE-2V file set read through ``[data] source``, and the plan.

The files (:mod:`._collide_files`) hold known values per class, event number
and view, so every event can be traced: its label is its folder's class, its
split is the hash of (file identity, ``Event_Number``), and the FullReco and
L1T inputs of one row are the same event (L1T's pT values are half FullReco's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import DataFormatError
from l1scout.io.torchdata import split_of
from l1scout.tasks.classify.classes import EVENT_CLASSES
from l1scout.tasks.classify.config import ClassifyConfig
from l1scout.tasks.classify.data import (
    SPLIT_NAMES,
    classify_collections,
    ensure_classify_samples,
    load_classify_data,
    production_plan,
    read_columns,
)
from l1scout.tasks.classify.inputs import particle_input_columns

from ._collide_files import write_collide_set

CLASSES = ("qcd", "minbias", "hh_4b")
PROCESSES = tuple(next(c.process for c in EVENT_CLASSES if c.name == n) for n in CLASSES)


def _config(source: Path, events: int = 20, classes: tuple[str, ...] = CLASSES) -> ClassifyConfig:
    return ClassifyConfig.model_validate(
        {
            "data": {"classes": list(classes), "events_per_class": events, "source": str(source)},
            "splits": {"fractions": [0.5, 0.25, 0.25]},
        }
    )


@pytest.fixture(scope="module")
def collide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_collide_set(tmp_path_factory.mktemp("collide"), PROCESSES, 30)


def test_a_collide_folder_is_read_class_by_class_with_labels_splits_and_both_views(
    collide: Path,
) -> None:
    cfg = _config(collide, events=20)
    files, digest = ensure_classify_samples(cfg, collide / "unused")
    assert files == {p: [] for p in PROCESSES}
    assert len(digest) == 64
    assert not (collide / "unused").exists()  # nothing produced
    data = load_classify_data(cfg, files)
    assert data.classes == CLASSES
    assert data.views == ("FullReco", "L1T")
    # events_per_class caps the read: 20 of the 30 events of each class
    total = sum(s.n_events for s in data.splits().values())
    assert total == 20 * len(CLASSES)
    for code, name in enumerate(SPLIT_NAMES):
        split = data.splits()[name]
        for c, process in enumerate(PROCESSES):
            numbers = split.event_number[split.label == c]
            assert set(numbers) <= {3 * i + 1 for i in range(20)}  # the first 20 events
            expected = split_of(f"{process}-NEVENT30-RS7", numbers, (0.5, 0.25, 0.25))
            assert (expected == code).all()
        # the leading jet (sorted by the reader) carries class and event number; L1T is half
        full = split.views["FullReco"].objects.tokens[:, 0, 0]
        l1t = split.views["L1T"].objects.tokens[:, 0, 0]
        np.testing.assert_array_equal(full, 100.0 * (split.label + 1) + split.event_number)
        np.testing.assert_array_equal(l1t, 0.5 * full)
        # MET is the last slot's first feature; the leading PUPPI candidate's pT
        for view, f in (("FullReco", 1.0), ("L1T", 0.5)):
            inputs = split.views[view]
            met = inputs.objects.tokens[:, -1, 0]
            np.testing.assert_array_equal(met, f * (10.0 + split.label))
            np.testing.assert_array_equal(
                inputs.particles.features[:, 0, 0], f * (30.0 + split.label)
            )
            assert inputs.particles.mask.sum(axis=1).tolist() == [5] * split.n_events


def test_a_missing_column_is_named_and_a_missing_class_folder_too(tmp_path: Path) -> None:
    root = write_collide_set(tmp_path / "a", PROCESSES, 8, drop="L1T_MuonTight_IsolationVar")
    with pytest.raises(DataFormatError, match="L1T_MuonTight_IsolationVar") as info:
        load_classify_data(_config(root, events=8), {})
    assert "\n" not in str(info.value)
    root = write_collide_set(tmp_path / "b", PROCESSES[:2], 8)
    with pytest.raises(DataFormatError, match=r"class 'hh_4b' \(HH_4b\).*HH_4b/\*\.parquet"):
        load_classify_data(_config(root, events=8), {})


def test_a_split_left_empty_by_short_files_is_refused(tmp_path: Path) -> None:
    # 3 events per class where 100 are asked for: the 9 events all hash into train
    root = write_collide_set(tmp_path, PROCESSES, 3)
    cfg = ClassifyConfig.model_validate(
        {
            "data": {"classes": list(CLASSES), "events_per_class": 100, "source": str(root)},
            "splits": {"fractions": [0.98, 0.01, 0.01]},
        }
    )
    with pytest.raises(DataFormatError, match=r"no events in the validation, test split\(s\)"):
        load_classify_data(cfg, {})


def test_the_plan_simulates_both_views_and_writes_the_objects_and_the_precut_particles() -> None:
    plan = production_plan(ClassifyConfig())
    assert plan.views == ("FullReco", "L1T")
    assert [p.name for p in plan.processes] == [c.process for c in EVENT_CLASSES]
    assert all(p.events == 10_000 for p in plan.processes)
    assert set(plan.collections) == set(classify_collections(("FullReco", "L1T")))
    # every column the inputs read from a produced file is in a written collection
    written = set(plan.collections)
    for view in ("FullReco", "L1T"):
        available = [c.replace("PUPPIPart", "PUPPIPart128") for c in particle_input_columns(view)]
        for column in read_columns(view, available, 128):
            assert column.rsplit("_", 1)[0] in written, column
        assert any("PUPPIPart128" in c for c in read_columns(view, available, 128))
        assert not any("PUPPIPart128" in c for c in read_columns(view, [], 128))
