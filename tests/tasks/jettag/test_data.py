"""The jet-tagging data: the plan, and reading a hand-made COLLIDE-2V folder through data.source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.jettag.config import JetTagConfig
from l1scout.tasks.jettag.data import (
    ensure_jettag_samples,
    jettag_collections,
    load_jettag_data,
    production_plan,
)
from l1scout.tasks.jettag.labels import JET_CLASSES

from ._collide import write_collide_folder


def _config(source: Path, signal_events: int = 20, zb_events: int = 30) -> JetTagConfig:
    return JetTagConfig.model_validate(
        {
            "data": {
                "samples": [
                    {"process": "HH_4b", "events": signal_events},
                    {"process": "minbias", "events": zb_events},
                ],
                "source": str(source),
            },
            "splits": {"fractions": [0.5, 0.25, 0.25]},
        }
    )


def test_plan_writes_both_views_and_the_hard_collision_record() -> None:
    cols = jettag_collections(("L1T", "FullReco"), "JetPuppiAK4")
    assert "Gen_PartHS" in cols
    assert "Gen_Part" not in cols
    assert {"L1T_JetPuppiAK4", "FullReco_PUPPIPart", "Event"} <= set(cols)
    plan = production_plan(JetTagConfig())
    assert set(plan.views) == {"L1T", "FullReco"}


def test_collide_folder_is_read_with_labels_ht_and_shared_splits(tmp_path: Path) -> None:
    root = write_collide_folder(tmp_path / "collide", {"HH_4b": 24, "minbias": 30}, ("HH_4b",))
    cfg = _config(root, signal_events=20)
    files, digest = ensure_jettag_samples(cfg, tmp_path / "unused")
    assert [p.parent.name for p in files["HH_4b"]] == ["HH_4b"]
    assert len(digest) == 64
    assert not (tmp_path / "unused").exists()  # nothing produced
    data = load_jettag_data(cfg, files, source=str(root))
    # at most `events` of each process: 20 of the 24 signal events, all 30 zero-bias ones
    assert data.n_events == 50
    assert np.bincount(data.sample).tolist() == [20, 30]
    for view in ("L1T", "FullReco"):
        vd = data.views[view]
        # two jets per event pass |eta| < 2.4; the signal's third jet (eta 3) does not
        assert vd.n_jets == 100
        names = [JET_CLASSES[k] for k in vd.inputs.label]
        assert names == ["g", "b"] * 50
        np.testing.assert_allclose(vd.inputs.gen_pt[::2], 52.0)
        assert np.all(np.isnan(vd.inputs.gen_pt[1::2]))
        assert vd.inputs.btag.tolist() == [0, 1] * 50
        np.testing.assert_allclose(vd.ht, 90.0)
        assert np.array_equal(vd.inputs.event, np.repeat(np.arange(50), 2))
    # every split has events, and a split's jets are the same events in both views
    assert all(n > 0 for n in data.events_per_split().values())
    test_l1 = data.jets("L1T", 2)
    test_off = data.jets("FullReco", 2)
    assert np.array_equal(test_l1.event, test_off.event)
    only_zb = data.jets("L1T", samples=[1])
    assert only_zb.n_jets == 60


def test_missing_process_folder_is_named(tmp_path: Path) -> None:
    root = write_collide_folder(tmp_path / "collide", {"HH_4b": 8})
    with pytest.raises(ConfigError, match="minbias"):
        ensure_jettag_samples(_config(root, 8, 8), tmp_path)
