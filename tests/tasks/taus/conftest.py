"""Shared fixtures of the soft-tau tests: small synthetic events built by hand (no production).

300 signal events with two opposite-sign hadronic taus each (a leading charged
hadron of the tau's charge and a photon, both at the tau's vertex), 240
zero-bias events; every event has 30 soft pileup particles, and a zero-bias
event a hard spray of four particles (a fake tau) half the time. Splits are
assigned by event number. The crossing rate is set to 1,000 kHz so that 50 kHz
is 5 % of the zero-bias events (4 of the 96 events in each of validation and
test). The builders reach the tests as :func:`tau_builders`.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from l1scout._jagged import offsets_from_counts
from l1scout.tasks.taus.config import TauConfig
from l1scout.tasks.taus.dataset import TauDataset, TauEvents, build_tau_dataset
from l1scout.tasks.taus.results import CandidateScores
from l1scout.tasks.taus.truth import TruthTaus

N_SIGNAL, N_ZB, N_PU = 300, 240, 30
METHODS: tuple[str, ...] = ("clue", "ak4", "nnpuppitau")


def synthetic_config() -> TauConfig:
    return TauConfig.model_validate(
        {
            "data": {
                "zero_bias": {"process": "minbias", "events": N_ZB},
                "signals": [{"process": "light_scalar_tautau_m40", "events": N_SIGNAL}],
            },
            "rate": {"rate_khz": 50.0, "crossing_rate": 1000.0, "min_pass": 1},
            "nnpuppitau": {"epochs": 3, "batch_size": 64, "seed": 1, "threads": 1},
            "transformer": {
                "model": {"embed_dims": [8], "n_heads": 2, "ff_dim": 16, "head_hidden": 8},
                "train": {
                    "learning_rate": 3e-3,
                    "batch_size": 64,
                    "max_epochs": 2,
                    "seed": 1,
                    "threads": 1,
                },
            },
            "evaluation": {
                "charge_thresholds": [-math.inf, 0.5],
                "dvz_cuts": [5.0, math.inf],
            },
        }
    )


def _split(i: int, tenths: tuple[int, int, int]) -> int:
    u = i % 10
    return 0 if u < tenths[0] else (1 if u < tenths[0] + tenths[1] else 2)


def synthetic_events(seed: int = 7) -> TauEvents:
    rng = np.random.default_rng(seed)
    cols: dict[str, list[float]] = {k: [] for k in ("pt", "eta", "phi", "pid", "q", "dz", "pu")}
    counts, sample, split = [], [], []
    taus: dict[str, list[float]] = {k: [] for k in ("vis_pt", "eta", "phi", "q", "vz")}
    tau_counts = []

    def add(pt: float, eta: float, phi: float, pid: int, q: int, dz: float, pu: int) -> None:
        for k, v in zip(cols, (pt, eta, phi, pid, q, dz, pu), strict=True):
            cols[k].append(v)

    for i in range(N_SIGNAL + N_ZB):
        signal = i < N_SIGNAL
        n0 = len(cols["pt"])
        for _ in range(N_PU):
            kind = rng.integers(3)
            q = int(rng.choice([-1, 1])) if kind == 0 else 0
            add(
                0.5 + rng.exponential(1.0),
                rng.uniform(-2.4, 2.4),
                rng.uniform(-np.pi, np.pi),
                (211 * q) if kind == 0 else (22 if kind == 1 else 0),
                q,
                rng.normal(0, 50) if q else 0.0,
                1,
            )
        n_taus = 0
        if signal:
            vz = rng.normal(0, 30)
            eta0, phi0 = rng.uniform(-1.8, 1.8, 2), rng.uniform(-np.pi, np.pi)
            for k, q in enumerate((1, -1) if rng.random() < 0.5 else (-1, 1)):
                phi = float(np.mod(phi0 + k * np.pi + np.pi, 2 * np.pi) - np.pi)
                vis = rng.uniform(8.0, 60.0)
                add(0.65 * vis, eta0[k], phi, 211 * q, q, vz + rng.normal(0, 0.3), 0)
                add(0.35 * vis, eta0[k] + 0.02, phi + 0.02, 22, 0, 0.0, 0)
                for key, v in zip(taus, (vis, eta0[k], phi, q, vz), strict=True):
                    taus[key].append(v)
                n_taus += 1
        elif rng.random() < 0.5:  # a hard spray: a fake
            eta, phi = rng.uniform(-2.0, 2.0), rng.uniform(-3.0, 3.0)
            for _ in range(4):
                q = int(rng.choice([-1, 0, 1]))
                add(
                    rng.uniform(4, 12),
                    eta + rng.normal(0, 0.05),
                    phi + rng.normal(0, 0.05),
                    211 * q if q else 22,
                    q,
                    rng.normal(0, 50) if q else 0.0,
                    1,
                )
        counts.append(len(cols["pt"]) - n0)
        tau_counts.append(n_taus)
        sample.append(1 if signal else 0)
        split.append(_split(i, (5, 2, 3) if signal else (2, 4, 4)))
    nt = len(taus["vis_pt"])
    vis_pt = np.asarray(taus["vis_pt"])
    truth = TruthTaus(
        offsets=offsets_from_counts(np.asarray(tau_counts)),
        gen_index=np.arange(nt, dtype=np.int64),
        pt=vis_pt * 1.3,
        eta=np.asarray(taus["eta"]),
        phi=np.asarray(taus["phi"]),
        vis_pt=vis_pt,
        vis_eta=np.asarray(taus["eta"]) + 0.007,
        vis_phi=np.asarray(taus["phi"]) + 0.007,
        vis_mass=np.full(nt, 0.5),
        charge=np.asarray(taus["q"], dtype=np.int64),
        n_prong=np.ones(nt, np.int64),
        n_pi0=np.ones(nt, np.int64),
        decay_mode=np.ones(nt, np.int64),
        vz=np.asarray(taus["vz"]),
        is_leptonic=np.zeros(nt, bool),
        from_hadron=np.zeros(nt, bool),
    )
    n = N_SIGNAL + N_ZB
    return TauEvents(
        samples=("minbias", "light_scalar_tautau_m40"),
        event_sample=np.asarray(sample, np.int64),
        event_split=np.asarray(split, np.int8),
        event_number=np.arange(n, dtype=np.int64),
        offsets=offsets_from_counts(np.asarray(counts)),
        pt=np.asarray(cols["pt"]),
        eta=np.asarray(cols["eta"]),
        phi=np.asarray(cols["phi"]),
        pid=np.asarray(cols["pid"], np.int64),
        charge=np.asarray(cols["q"], np.int64),
        dz=np.asarray(cols["dz"]),
        puppi_w=np.ones(len(cols["pt"])),
        is_pu=np.asarray(cols["pu"], np.int8),
        taus=truth,
    )


def truth_scores(ds: TauDataset, perfect: bool) -> CandidateScores:
    t = ds.targets
    n = len(ds)
    if not perfect:  # a constant score: nothing is above the threshold the rate sets
        return CandidateScores("x", np.full(n, 0.5), np.full(n, 0.5), np.zeros(n), ds.pt)
    score = t.is_tau.astype(np.float64)
    q = np.where(t.is_tau, (t.charge > 0).astype(np.float64), 0.5)
    return CandidateScores("x", score, q, np.where(t.is_tau, t.vz, 0.0), ds.pt)


@pytest.fixture(scope="session")
def tau_builders() -> SimpleNamespace:
    """The builders: ``config()``, ``events(seed=7)``, ``truth_scores(ds, perfect)``, ``METHODS``."""
    return SimpleNamespace(
        config=synthetic_config,
        events=synthetic_events,
        truth_scores=truth_scores,
        METHODS=METHODS,
    )


@pytest.fixture(scope="session")
def synthetic_tau_config() -> TauConfig:
    """The study configuration of the synthetic events (crossing rate 1,000 kHz, 50 kHz target)."""
    return synthetic_config()


@pytest.fixture(scope="session")
def synthetic_tau_datasets(synthetic_tau_config: TauConfig) -> dict[str, TauDataset]:
    """One dataset per method (CLUE, AK4, NNPuppiTau) of the synthetic events."""
    events = synthetic_events()
    return {m: build_tau_dataset(events, m, synthetic_tau_config.candidates) for m in METHODS}
