from __future__ import annotations

import numpy as np
import pytest

from l1scout._sort import sort_within_events
from l1scout.detector.card import load_frontend_card
from l1scout.generate.event import assemble_columns
from l1scout.generate.pileup import MinBiasPool, draw_pileup
from l1scout.generate.pythia import PythiaSource, RawEvents, process_settings
from l1scout.processes import load_catalog

from ._assemble_reference import assemble_columns_reference


def test_sort_within_events_matches_a_stable_lexsort() -> None:
    rng = np.random.default_rng(2)
    counts = rng.integers(0, 40, 30)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    key = rng.integers(0, 6, int(offsets[-1])).astype(float)  # many ties
    evt = np.repeat(np.arange(len(counts)), counts)
    perm, new_local = sort_within_events(offsets, key)
    assert perm.tolist() == np.lexsort((-key, evt)).tolist()
    for g in range(len(key)):
        assert perm[offsets[evt[g]] + new_local[g]] == g


def test_sort_within_events_orders_negative_zero_and_ties_like_a_stable_sort() -> None:
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 300, 25)
    counts[:4] = [0, 1, 31, 32]  # around the insertion-sort threshold
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n = int(offsets[-1])
    key = rng.exponential(1.0, n) * rng.choice([1.0, -1.0, 0.0], n, p=[0.8, 0.1, 0.1])
    key[rng.random(n) < 0.05] = -0.0
    key[::5] = np.round(key[::5], 1)  # ties
    evt = np.repeat(np.arange(len(counts)), counts)
    perm, _ = sort_within_events(offsets, key)
    assert perm.tolist() == np.lexsort((-key, evt)).tolist()


@pytest.fixture(scope="module")
def ttbar_batch() -> RawEvents:
    cat = load_catalog()
    spec = cat.get("tt0123j_5f_ckm_LO_MLM_leptonic")
    return PythiaSource(process_settings(cat, spec), seed=4).generate(3)


def _pool(n: int = 40, seed: int = 1) -> MinBiasPool:
    """A pool with displaced vertices, charges and pT ties (one event copied)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 30, n)
    total = int(counts.sum())
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    px, py = rng.normal(0, 1, total), rng.normal(0, 1, total)
    px[:3] = py[:3] = 0.0  # pT = 0
    return MinBiasPool(
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        pid=rng.choice(np.array([211, -211, 22, 2212, 130], dtype=np.int32), total),
        charge=rng.choice(np.array([1, -1, 0], dtype=np.int8), total),
        px=f32(px),
        py=f32(py),
        pz=f32(rng.normal(0, 5, total)),
        mass=f32(np.full(total, 0.1396)),
        vx=f32(rng.normal(0, 0.01, total)),
        vy=f32(rng.normal(0, 0.01, total)),
        vz=f32(rng.normal(0, 30, total)),
        vt=f32(rng.normal(0, 30, total)),
    )


@pytest.mark.parametrize("mean", [0.0, 60.0])
def test_assemble_columns_gives_the_bytes_of_the_numpy_reference(
    ttbar_batch: RawEvents, mean: float
) -> None:
    spec = load_frontend_card().pileup.model_copy(update={"beamspot_x_mm": 0.0123})
    pool = _pool()
    draw = draw_pileup(pool if mean else None, spec, mean, seed=9, event_numbers=[0, 1, 2])
    charge = np.sign(ttbar_batch.pid).astype(np.int8)  # any charges will do
    ref = assemble_columns_reference(ttbar_batch, charge, draw, spec, [0, 1, 2])
    new = assemble_columns(ttbar_batch, charge, draw, spec, [0, 1, 2])
    assert sorted(new) == sorted(ref)
    for name, (offsets, values) in ref.items():
        got_offsets, got = new[name]
        np.testing.assert_array_equal(got_offsets, offsets, err_msg=name)
        assert got.dtype == values.dtype, name
        assert got.tobytes() == values.tobytes(), name
    lean = assemble_columns(
        ttbar_batch, charge, draw, spec, [0, 1, 2], family=False, vertices=False
    )
    dropped = {f"Gen_Part_{n}" for n in ("M1", "M2", "D1", "D2")}
    assert set(lean) == {k for k in ref if k not in dropped and not k.startswith("Vertex_")}
    for name, (_, values) in lean.items():
        assert values.tobytes() == new[name][1].tobytes(), name
