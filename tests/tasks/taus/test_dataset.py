"""From files to tau candidates: reading, splits, truth matching, network inputs and the CLUE scan.

One tiny real production (module fixture): 20 light-scalar (40 GeV) di-tau
events and 20 zero-bias events at pileup 200 from a pool of 50 collisions,
with the ``single`` engine, in shards of 10 events (two files per sample, so
the streamed datasets cross file boundaries); everything is compared with the files read
directly and with hand computations.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import open_dataset
from l1scout.io.footer import open_file
from l1scout.io.torchdata import split_of
from l1scout.tasks.taus.clue_scan import scan_clue
from l1scout.tasks.taus.config import CandidatesConfig, ClueScanConfig, SplitsConfig, TauConfig
from l1scout.tasks.taus.data import ensure_tau_samples
from l1scout.tasks.taus.dataset import (
    TauDataset,
    TauEvents,
    build_tau_dataset,
    load_tau_datasets,
    load_tau_events,
)
from l1scout.tasks.taus.truth import truth_taus

SIGNAL = "light_scalar_tautau_m40"
Files = dict[str, list[Path]]
SPLITS = SplitsConfig(signal=(0.5, 0.2, 0.3), zero_bias=(0.2, 0.4, 0.4))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    cfg = TauConfig.model_validate(
        {
            "data": {
                "zero_bias": {"process": "minbias", "events": 20},
                "signals": [{"process": SIGNAL, "events": 20}],
                "pileup": 200.0,
                "seed": 3,
                "pool_size": 50,
                "shard_size": 10,
                "engine": {"kind": "single"},
            },
            "rate": {"rate_khz": 20_000.0},
        }
    )
    out, _ = ensure_tau_samples(cfg, tmp_path_factory.mktemp("tau-dataset") / "data")
    return out


@pytest.fixture(scope="module")
def events(files: dict[str, list[Path]]) -> TauEvents:
    return load_tau_events(
        files["minbias"], {SIGNAL: files[SIGNAL]}, splits=SPLITS, zero_bias_name="minbias"
    )


def _delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    dphi = np.mod(phi1 - phi2 + np.pi, 2 * np.pi) - np.pi
    out: np.ndarray = np.hypot(eta1 - eta2, dphi)
    return out


@pytest.mark.slow
def test_events_equal_the_files_read_directly(files: Files, events: TauEvents) -> None:
    assert events.samples == ("minbias", SIGNAL)
    assert events.n_events == 40
    assert np.bincount(events.event_sample).tolist() == [20, 20]
    start = 0
    for index, name in enumerate(events.samples):
        for path in files[name]:
            arr = open_dataset(path).read()
            n = len(arr)
            numbers = ak.to_numpy(ak.firsts(arr["Event_Number"])).astype(np.int64)
            fractions = SPLITS.zero_bias if index == 0 else SPLITS.signal
            rows = slice(start, start + n)
            assert (events.event_number[rows] == numbers).all()
            assert (
                events.event_split[rows] == split_of(open_file(path).identity, numbers, fractions)
            ).all()
            counts = ak.to_numpy(ak.num(arr["L1T_PUPPIPart_PT"]))
            assert (np.diff(events.offsets)[rows] == counts).all()
            lo, hi = events.offsets[start], events.offsets[start + n]
            flat_w = ak.to_numpy(ak.flatten(arr["L1T_PUPPIPart_PuppiW"])).astype(np.float64)
            assert np.array_equal(events.puppi_w[lo:hi], flat_w)
            if index == 1:
                # the prompt hadronic taus of the generator record
                taus = truth_taus(arr).hadronic()
                t_lo, t_hi = events.taus.offsets[start], events.taus.offsets[start + n]
                assert np.array_equal(events.taus.vis_pt[t_lo:t_hi], taus.vis_pt)
            start += n
    # zero bias has no truth; each light scalar gives two taus, 65 % of them hadronic
    zb_events = events.event_sample == 0
    assert np.diff(events.taus.offsets)[zb_events].sum() == 0
    n_taus = len(events.taus)
    assert 10 <= n_taus <= 40  # 26 expected (binomial sd 4)
    assert set(np.unique(events.is_pu).tolist()) <= {0, 1}
    # at pileup 200 most PUPPI candidates come from pileup
    assert events.is_pu.mean() > 0.8


@pytest.mark.slow
@pytest.mark.parametrize("method", ["clue", "ak4", "nnpuppitau"])
def test_candidates_are_consistent_and_matched_within_dr(events: TauEvents, method: str) -> None:
    cfg = CandidatesConfig()
    data = build_tau_dataset(events, method, cfg)
    n = len(data)
    assert n > 0
    off = data.event_offsets
    assert off[0] == 0
    assert off[-1] == n
    assert len(off) == events.n_events + 1
    assert np.array_equal(np.repeat(np.arange(events.n_events), np.diff(off)), data.event)
    assert np.array_equal(data.sample, events.event_sample[data.event])
    assert np.array_equal(data.split, events.event_split[data.event])
    # matching: within dR < 0.2 of the tau's visible direction, one to one, in the same event
    tau = data.tau[data.is_tau]
    dr = _delta_r(
        data.eta[data.is_tau], data.phi[data.is_tau], data.taus.vis_eta[tau], data.taus.vis_phi[tau]
    )
    assert (dr < 0.2).all()
    assert len(np.unique(tau)) == len(tau)
    assert np.array_equal(data.taus.event[tau], data.event[data.is_tau])
    assert np.array_equal(data.tau_candidate[tau], np.flatnonzero(data.is_tau))
    assert not data.is_tau[data.sample == 0].any()  # zero bias: every candidate a fake
    assert data.is_tau.sum() > 0
    # targets: the matched tau's charge, visible pT and vertex; NaN for fakes
    t = data.targets
    assert np.array_equal(t.is_tau, data.is_tau)
    assert set(np.abs(t.charge[data.is_tau]).tolist()) == {1}
    assert np.array_equal(t.pt[data.is_tau], data.taus.vis_pt[tau])
    assert np.array_equal(t.vz[data.is_tau], data.taus.vz[tau])
    assert np.isnan(t.pt[~data.is_tau]).all()
    assert (data.decay_mode[data.is_tau] >= 0).all()
    assert (data.decay_mode[~data.is_tau] == -2).all()
    # network inputs: one row per candidate; the two input builders agree on the leading pT
    assert data.nnpuppitau.shape == (n, 80)
    tr = data.transformer
    assert tr.features.shape == (n, 16, 10)
    assert tr.is_pu is not None
    assert np.array_equal(tr.mask.sum(axis=1), np.minimum(data.n_constituents, 16))
    assert (tr.is_pu[~tr.mask] == 0).all()
    assert set(np.unique(tr.is_pu).tolist()) <= {0.0, 1.0}
    np.testing.assert_allclose(np.exp(tr.features[:, 0, 0]), data.nnpuppitau[:, 0], rtol=2e-3)
    if method == "nnpuppitau":
        assert (data.pt >= 5.0).all()  # the configured soft-tau cone cut
    if method == "ak4":
        assert (data.pt >= 5.0).all()


@pytest.mark.slow
def test_unknown_method_and_bad_sources_are_refused(files: Files, events: TauEvents) -> None:
    with pytest.raises(ConfigError, match="method: expected one of clue, ak4, nnpuppitau"):
        build_tau_dataset(events, "anti-kt")
    with pytest.raises(ConfigError, match="names the zero bias"):
        load_tau_events(files["minbias"], {"zero_bias": files[SIGNAL]})
    # zero-bias files have no generator record: not usable as a signal
    with pytest.raises(Exception, match="Gen_Part"):
        load_tau_events(files[SIGNAL], {"fake-signal": files["minbias"]})


@pytest.mark.slow
def test_scan_clue_counts_taus_and_fakes(events: TauEvents) -> None:
    grid = ClueScanConfig(dc=(0.1, 0.2), rhoc=(1.0, 5.0, 20.0), dm=(0.15, 0.4))
    points = scan_clue(events, grid, split=None)
    # (0.2, *, 0.15) is skipped: dm < dc
    assert len(points) == 2 * 3 * 2 - 3
    assert all(p.dm >= p.dc for p in points)
    vis = events.taus.vis_pt
    expected_total = int(((vis >= 5.0) & (vis < 60.0)).sum())
    for p in points:
        assert p.efficiency.total == expected_total
        assert 0.0 <= p.efficiency.low <= p.efficiency.value <= p.efficiency.high <= 1.0
        assert p.fakes_per_event >= 0.0
    # a higher rhoc makes fewer seeds: the fakes per event never rise with rhoc
    for dc in grid.dc:
        for dm in grid.dm:
            line = [p.fakes_per_event for p in points if (p.dc, p.dm) == (dc, dm)]
            assert line == sorted(line, reverse=True)
    # the study's point finds most soft taus; rhoc = 20 GeV loses the softest
    best = next(p for p in points if (p.dc, p.rhoc, p.dm) == (0.2, 5.0, 0.4))
    strict = next(p for p in points if (p.dc, p.rhoc, p.dm) == (0.2, 20.0, 0.4))
    assert best.efficiency.value > 0.4
    assert strict.efficiency.passed <= best.efficiency.passed
    # the validation split holds a subset of the taus
    val = scan_clue(events, grid, split=1)
    in_val = events.event_split[events.taus.event] == 1
    assert val[0].efficiency.total == int((in_val & (vis >= 5.0) & (vis < 60.0)).sum())


@pytest.mark.slow
def test_scan_clue_needs_taus_and_zero_bias(events: TauEvents) -> None:
    grid = ClueScanConfig(dc=(0.2,), rhoc=(5.0,), dm=(0.4,))
    with pytest.raises(DataFormatError, match="need both"):
        scan_clue(events, grid, split=7)


def _assert_same(a: TauDataset, b: TauDataset) -> None:
    """Every array of *a* equals *b*'s (NaN equal to NaN), nested inputs, targets and taus included."""
    assert (a.method, a.samples) == (b.method, b.samples)
    for f in fields(TauDataset):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        elif f.name in ("transformer", "targets", "taus"):
            for g in fields(x):
                u, v = getattr(x, g.name), getattr(y, g.name)
                if u is None or v is None:
                    assert u is None, f"{f.name}.{g.name}"
                    assert v is None, f"{f.name}.{g.name}"
                    continue
                assert u.dtype == v.dtype, f"{f.name}.{g.name}"
                np.testing.assert_array_equal(u, v, err_msg=f"{f.name}.{g.name}")


@pytest.mark.slow
def test_streamed_datasets_equal_the_all_at_once_ones(files: Files, events: TauEvents) -> None:
    assert all(len(files[name]) == 2 for name in ("minbias", SIGNAL))  # crosses file boundaries
    cfg = CandidatesConfig()
    methods = ("clue", "ak4", "nnpuppitau")
    streamed = load_tau_datasets(
        files["minbias"],
        {SIGNAL: files[SIGNAL]},
        methods,
        cfg,
        splits=SPLITS,
        zero_bias_name="minbias",
    )
    assert tuple(streamed) == methods
    for m in methods:
        whole = build_tau_dataset(events, m, cfg)
        assert whole.is_tau.sum() > 0
        _assert_same(streamed[m], whole)
    with pytest.raises(ConfigError, match="method: expected one of"):
        load_tau_datasets(files["minbias"], {SIGNAL: files[SIGNAL]}, ["anti-kt"])


def _first_events(ds: TauDataset, n: int) -> TauDataset:
    """The first *n* events of *ds* as a dataset of its own (hand-sliced)."""
    c = int(ds.event_offsets[n])
    t = int(ds.taus.offsets[n])
    taus = ds.taus
    head = type(taus)(
        offsets=taus.offsets[: n + 1],
        **{g.name: getattr(taus, g.name)[:t] for g in fields(taus)[1:]},
    )
    return TauDataset(
        method=ds.method,
        samples=ds.samples,
        event_offsets=ds.event_offsets[: n + 1],
        event_sample=ds.event_sample[:n],
        event_split=ds.event_split[:n],
        pt=ds.pt[:c],
        eta=ds.eta[:c],
        phi=ds.phi[:c],
        event=ds.event[:c],
        sample=ds.sample[:c],
        split=ds.split[:c],
        n_constituents=ds.n_constituents[:c],
        tau=ds.tau[:c],
        nnpuppitau=ds.nnpuppitau[:c],
        transformer=ds.transformer.subset(np.arange(c)),
        targets=ds.targets.subset(np.arange(c)),
        taus=head,
        tau_candidate=ds.tau_candidate[:t],
    )


def _last_events(ds: TauDataset, n: int) -> TauDataset:
    """Events *n*.. of *ds*, indices counted from their first event, candidate and tau."""
    c = int(ds.event_offsets[n])
    t = int(ds.taus.offsets[n])
    taus = ds.taus
    tail = type(taus)(
        offsets=taus.offsets[n:] - t,
        **{g.name: getattr(taus, g.name)[t:] for g in fields(taus)[1:]},
    )
    return TauDataset(
        method=ds.method,
        samples=ds.samples,
        event_offsets=ds.event_offsets[n:] - c,
        event_sample=ds.event_sample[n:],
        event_split=ds.event_split[n:],
        pt=ds.pt[c:],
        eta=ds.eta[c:],
        phi=ds.phi[c:],
        event=ds.event[c:] - n,
        sample=ds.sample[c:],
        split=ds.split[c:],
        n_constituents=ds.n_constituents[c:],
        tau=np.where(ds.tau[c:] >= 0, ds.tau[c:] - t, -1),
        nnpuppitau=ds.nnpuppitau[c:],
        transformer=ds.transformer.subset(np.arange(c, len(ds))),
        targets=ds.targets.subset(np.arange(c, len(ds))),
        taus=tail,
        tau_candidate=np.where(ds.tau_candidate[t:] >= 0, ds.tau_candidate[t:] - c, -1),
    )


@pytest.mark.slow
def test_concatenating_two_halves_gives_the_dataset(events: TauEvents) -> None:
    whole = build_tau_dataset(events, "clue")
    # the cut falls after the zero bias (first 20 events): the second half holds the taus
    for cut in (10, 25):
        first, second = _first_events(whole, cut), _last_events(whole, cut)
        assert len(first) + len(second) == len(whole)
        # the halves are datasets of their own: indices start at 0 in each
        assert (second.event < events.n_events - cut).all()
        assert second.tau.max() < len(second.taus)
        _assert_same(TauDataset.concatenate([first, second]), whole)
    assert (whole.tau_candidate >= 0).any()
    assert (_last_events(whole, 25).tau >= 0).any()  # the shifted indices are exercised
    with pytest.raises(DataFormatError, match="expected datasets of 'clue'"):
        TauDataset.concatenate([whole, build_tau_dataset(events, "ak4")])
