from __future__ import annotations

import numpy as np
import pytest

from l1scout.generate.pythia import PythiaSource, process_settings
from l1scout.generate.truth import (
    relink,
    relink_reference,
    status_hepmc,
    truth_mask,
)
from l1scout.pdg import is_heavy_flavour_hadron
from l1scout.processes import load_catalog


@pytest.fixture(scope="module")
def ttbar_raw():  # type: ignore[no-untyped-def]
    cat = load_catalog()
    spec = cat.get("tt0123j_5f_ckm_LO_MLM_leptonic")
    return PythiaSource(process_settings(cat, spec), seed=5).generate(4)


def test_relink_matches_reference_on_pythia_records(ttbar_raw) -> None:  # type: ignore[no-untyped-def]
    raw = ttbar_raw
    keep = truth_mask(raw.pid, raw.status, raw.mother1, raw.offsets)
    fast = relink(raw.offsets, keep, raw.mother1, raw.mother2)
    slow = relink_reference(raw.offsets, keep, raw.mother1, raw.mother2)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    # the hard-process tops have kept children (their W and b)
    kept_pid = raw.pid[keep]
    first_event = int(keep[: raw.offsets[1]].sum())
    tops = np.flatnonzero(np.abs(kept_pid[:first_event]) == 6)
    children = {int(kept_pid[c]) for c in range(first_event) if fast[0][c] in tops}
    assert children & {24, -24, 5, -5, 6, -6}


@pytest.mark.parametrize("seed", range(5))
def test_relink_matches_reference_on_random_trees(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 40, 6)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    m1, m2 = [], []
    for n in counts:
        for i in range(n):
            a = int(rng.integers(-1, i)) if i else -1
            b = int(rng.integers(-1, i)) if i and rng.random() < 0.3 else a
            m1.append(a)
            m2.append(b)
    keep = rng.random(int(offsets[-1])) < 0.5
    mother1 = np.array(m1, dtype=np.int32)
    mother2 = np.array(m2, dtype=np.int32)
    fast = relink(offsets, keep, mother1, mother2)
    slow = relink_reference(offsets, keep, mother1, mother2)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


def test_links_point_to_ancestors(ttbar_raw) -> None:  # type: ignore[no-untyped-def]
    raw = ttbar_raw
    keep = truth_mask(raw.pid, raw.status, raw.mother1, raw.offsets)
    m1, _, d1, d2 = relink(raw.offsets, keep, raw.mother1, raw.mother2)
    # within the first event: every daughter range contains a child pointing back
    n0 = int(keep[: raw.offsets[1]].sum())
    for parent in range(n0):
        if d1[parent] >= 0:
            assert m1[d1[parent]] == parent or d1[parent] <= d2[parent]
    assert np.all(m1[:n0] < n0)


def test_truth_mask_keeps_what_users_need(ttbar_raw) -> None:  # type: ignore[no-untyped-def]
    raw = ttbar_raw
    keep = truth_mask(raw.pid, raw.status, raw.mother1, raw.offsets)
    assert keep[raw.status > 0].all()
    hard = (np.abs(raw.status) >= 21) & (np.abs(raw.status) <= 29)
    assert keep[hard].all()
    assert (np.abs(raw.pid[keep & hard]) == 6).any()  # the tops
    bhad = is_heavy_flavour_hadron(raw.pid, 5)
    assert bhad.any()
    assert keep[bhad].all()
    assert keep.sum() < len(keep)  # partons of the shower are dropped


def test_heavy_flavour_digits() -> None:
    pids = np.array([511, 521, 531, 5122, 553, 411, 421, 4122, 443, 211, 2212, 5, 5101, 22, 100553])
    assert is_heavy_flavour_hadron(pids, 5).tolist() == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
    ]
    assert is_heavy_flavour_hadron(pids, 4).tolist() == [
        False,
        False,
        False,
        False,
        False,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
    ]


def test_status_hepmc_codes() -> None:
    pid = np.array([211, 111, 15, 13, 2212, 6, 21, 511])
    status = np.array([91, -91, -94, -91, -12, -62, -31, -83])
    first = np.array([0, 22, 16, 13, 0, 5, 21, 413])
    # muon whose first daughter is itself (a copy) is not "decayed"
    assert status_hepmc(pid, status, first).tolist() == [1, 2, 2, 91, 4, 62, 31, 2]
