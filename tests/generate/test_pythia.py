from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from l1scout.generate import pythia
from l1scout.generate.pythia import PythiaSource, mpi_init_file, process_settings
from l1scout.processes import load_catalog

CAT = load_catalog()
TTBAR = process_settings(CAT, CAT.get("tt0123j_5f_ckm_LO_MLM_leptonic"))


@pytest.mark.parametrize("per_event", [True, False])
def test_buffers_are_read_as_awkward_reads_them(per_event: bool) -> None:
    source = PythiaSource(TTBAR, seed=3)
    fetch = source._event_by_event if per_event else source._one_batch
    batches, codes, sigma = fetch(3)
    code = np.asarray(codes, dtype=np.int32)
    sig = np.asarray(sigma, dtype=np.float64).reshape(-1, 2)
    slow = pythia._from_awkward(batches, code, sig)
    fast = pythia._from_layouts(batches, code, sig)
    for field in dataclasses.fields(slow):
        a, b = getattr(slow, field.name), getattr(fast, field.name)
        assert a.dtype == b.dtype, field.name
        np.testing.assert_array_equal(a, b, err_msg=field.name)
    assert (slow.vx != 0).any()  # the production vertices (an option array) were read


def test_mpi_tables_are_made_once_and_every_instance_reads_them(tmp_path: Path) -> None:
    settings = (*TTBAR, "PhaseSpace:pTHatMin = 20.")  # settings of their own: a new file
    path = mpi_init_file(settings, tmp_path)
    assert path.is_file()
    assert path.stat().st_size > 0
    stamp = path.stat().st_mtime_ns
    assert mpi_init_file(settings, tmp_path) == path
    assert path.stat().st_mtime_ns == stamp  # read, not made again
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    assert mpi_init_file((*settings, "Tune:pp = 5"), tmp_path) != path


def test_sources_of_the_same_seed_give_the_same_events() -> None:
    a = PythiaSource(TTBAR, seed=8).generate(2)
    b = PythiaSource(TTBAR, seed=8).generate(2)
    fresh = PythiaSource(TTBAR, seed=8, reuse_init=False).generate(2)
    np.testing.assert_array_equal(a.px, b.px)
    np.testing.assert_array_equal(a.sigma_pb, b.sigma_pb)
    assert fresh.n_events == 2  # integrating the tables anew works too
