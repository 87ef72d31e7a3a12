from __future__ import annotations

import numpy as np

from l1scout.generate.event import sort_within_events


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
