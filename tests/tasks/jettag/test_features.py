"""The jet tagger's 16 x 21 constituent inputs against a slow per-jet reference on hand-made events."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.jettag.features import (
    CONSTITUENT_FEATURES,
    N_CONSTITUENTS,
    jet_tag_columns,
    jet_tag_inputs,
)
from l1scout.tasks.jettag.labels import jet_truth_from_chunk

_PART = "L1T_PUPPIPart"
_JET = "L1T_JetPuppiAK4"
# (PID, charge) of the candidate kinds the views write
_KINDS = [(22, 0), (0, 0), (211, 1), (-211, -1), (11, -1), (-11, 1), (13, -1), (-321, -1)]
_MASSES = {22: 0.0, 0: 0.0, 211: 0.13957, 11: 0.000511, 13: 0.10566, 321: 0.49368}


def _events(seed: int, n_events: int = 30) -> dict[str, ak.Array]:
    """Random events: candidates (pT ties included) and jets with index lists (some out of range)."""
    rng = np.random.default_rng(seed)
    part: dict[str, list[list[float]]] = {
        f: []
        for f in (
            *("PID", "Charge", "PT", "Eta", "Phi", "E", "Mass"),
            *("D0", "DZ", "ErrorD0", "ErrorDZ", "PuppiW", "IsPU"),
        )
    }
    jets: dict[str, list[list[float]]] = {
        f: []
        for f in ("PT", "Eta", "Phi", "Mass", "Charge", "NCharged", "NNeutrals", "BTag", "Flavor")
    }
    idx: list[list[list[int]]] = []
    for _ in range(n_events):
        n = int(rng.integers(0, 40))
        kinds = [_KINDS[k] for k in rng.integers(0, len(_KINDS), n)]
        pt = rng.choice([1.0, 2.5, 7.0], n) if rng.random() < 0.3 else rng.uniform(0.5, 60, n)
        eta = rng.uniform(-2.8, 2.8, n)
        charged = np.array([c != 0 for _, c in kinds], dtype=bool)
        err = np.where(charged, rng.uniform(0.01, 0.5, n), 0.0)
        row = {
            "PID": [p for p, _ in kinds],
            "Charge": [c for _, c in kinds],
            "PT": pt.tolist(),
            "Eta": eta.tolist(),
            "Phi": rng.uniform(-math.pi, math.pi, n).tolist(),
            "E": (pt * np.cosh(eta)).tolist(),
            "Mass": [_MASSES[abs(p)] for p, _ in kinds],
            "D0": np.where(charged, rng.normal(0, 0.3, n), 0.0).tolist(),
            "DZ": np.where(charged, rng.normal(0, 40.0, n), 0.0).tolist(),
            "ErrorD0": err.tolist(),
            "ErrorDZ": (2 * err).tolist(),
            "PuppiW": np.where(charged, 1.0, rng.uniform(0, 1, n)).tolist(),
            "IsPU": rng.integers(0, 2, n).tolist(),
        }
        for f, v in row.items():
            part[f].append(v)
        n_jets = int(rng.integers(0, 7))
        ev_idx = []
        for _ in range(n_jets):
            k = int(rng.integers(0, min(n, 24) + 1))
            chosen = rng.choice(n, k, replace=False).tolist() if n else []
            if rng.random() < 0.1:
                chosen.append(n + 3)  # outside the particle list: skipped
            ev_idx.append(chosen)
        idx.append(ev_idx)
        jet_pt = (
            rng.choice([20.0, 30.0], n_jets) if rng.random() < 0.3 else rng.uniform(5, 150, n_jets)
        )
        jet_row = {
            "PT": jet_pt.tolist(),  # in no particular order
            "Eta": rng.uniform(-3.0, 3.0, n_jets).tolist(),
            "Phi": rng.uniform(-math.pi, math.pi, n_jets).tolist(),
            "Mass": rng.uniform(0, 20, n_jets).tolist(),
            "Charge": rng.integers(-2, 3, n_jets).tolist(),
            "NCharged": rng.integers(0, 10, n_jets).tolist(),
            "NNeutrals": rng.integers(0, 10, n_jets).tolist(),
            "BTag": rng.integers(0, 8, n_jets).tolist(),
            "Flavor": rng.integers(0, 6, n_jets).tolist(),
        }
        for f, v in jet_row.items():
            jets[f].append(v)
    cols = {f"{_PART}_{f}": ak.Array(v) for f, v in part.items()}
    cols.update({f"{_JET}_{f}": ak.Array(v) for f, v in jets.items()})
    cols[f"{_JET}_ConstituentsIdx"] = ak.Array(idx)
    # float16 as in the files: the reference reads the same rounded values
    for f in ("PT", "Eta", "Phi", "E", "PuppiW"):
        cols[f"{_PART}_{f}"] = ak.values_astype(cols[f"{_PART}_{f}"], np.float16)
    return cols


def _one_hot(pid: int, charge: int) -> list[float]:
    """Photon, electron, muon, charged hadron, neutral hadron."""
    a = abs(pid)
    if charge == 0:
        return [1.0, 0, 0, 0, 0] if a == 22 else [0, 0, 0, 0, 1.0]
    return [0, float(a == 11), float(a == 13), float(a not in (11, 13)), 0]


def _reference(
    cols: dict[str, ak.Array], n_constituents: int, pt_min: float, eta_max: float
) -> list[tuple[int, int, list[list[float]]]]:
    """Slow: per event, per kept jet by decreasing pT, its constituents' 21 features."""
    out = []
    f32 = np.float32
    p = {f[len(_PART) + 1 :]: ak.to_list(v) for f, v in cols.items() if f.startswith(_PART)}
    j = {f[len(_JET) + 1 :]: ak.to_list(v) for f, v in cols.items() if f.startswith(_JET)}
    for e in range(len(j["PT"])):
        jpt = [float(f32(v)) for v in j["PT"][e]]
        order = sorted(range(len(jpt)), key=lambda i: -jpt[i])
        n_part = len(p["PT"][e])
        for i in order:
            jeta, jphi = float(f32(j["Eta"][e][i])), float(f32(j["Phi"][e][i]))
            if not (jpt[i] >= pt_min and abs(jeta) <= eta_max):
                continue
            const = [k for k in j["ConstituentsIdx"][e][i] if 0 <= k < n_part]
            const = sorted(const, key=lambda k: -float(f32(p["PT"][e][k])))[:n_constituents]
            rows = []
            for k in const:
                q = {f: float(f32(p[f][e][k])) for f in p}
                deta = q["Eta"] - jeta
                dphi = (q["Phi"] - jphi + math.pi) % (2 * math.pi) - math.pi
                row = [
                    q["PT"],
                    q["PT"] / jpt[i],
                    math.log(q["PT"]),
                    q["E"],
                    deta,
                    dphi,
                    math.hypot(deta, dphi),
                    q["Eta"],
                    q["Phi"],
                    q["Mass"],
                    q["Charge"],
                    q["D0"],
                    q["DZ"],
                    q["D0"] / q["ErrorD0"] if q["ErrorD0"] > 0 else 0.0,
                    q["DZ"] / q["ErrorDZ"] if q["ErrorDZ"] > 0 else 0.0,
                    q["PuppiW"],
                    *_one_hot(int(q["PID"]), int(q["Charge"])),
                ]
                rows.append(row)
            out.append((e, i, rows))
    return out


@pytest.mark.parametrize(
    ("seed", "n_constituents", "pt_min", "eta_max"),
    [(0, N_CONSTITUENTS, 0.0, 2.4), (1, N_CONSTITUENTS, 25.0, 1.5), (2, 4, 0.0, 5.0)],
)
def test_matches_a_slow_per_jet_reference(
    seed: int, n_constituents: int, pt_min: float, eta_max: float
) -> None:
    cols = _events(seed)
    x = jet_tag_inputs(
        cols, n_constituents=n_constituents, pt_min=pt_min, eta_max=eta_max, labels=False
    )
    ref = _reference(cols, n_constituents, pt_min, eta_max)
    assert x.n_jets == len(ref) > 20
    assert x.constituents.shape == (len(ref), n_constituents, len(CONSTITUENT_FEATURES))
    assert x.constituents.dtype == np.float32
    assert x.mask.dtype == np.bool_
    assert x.mask.any(axis=1).sum() < x.n_jets  # some jets without constituents
    assert (x.mask.sum(axis=1) == n_constituents).any()  # some cut at n_constituents
    assert x.event.tolist() == [e for e, _, _ in ref]
    assert x.jet.tolist() == [i for _, i, _ in ref]
    jet_pt = ak.to_list(cols[f"{_JET}_PT"])
    btag = ak.to_list(cols[f"{_JET}_BTag"])
    np.testing.assert_array_equal(x.jet_pt, np.float32([jet_pt[e][i] for e, i, _ in ref]))
    assert x.btag.tolist() == [btag[e][i] for e, i, _ in ref]
    for n, (_, _, rows) in enumerate(ref):
        expected = np.zeros((n_constituents, len(CONSTITUENT_FEATURES)))
        if rows:
            expected[: len(rows)] = rows
        assert x.mask[n].tolist() == [k < len(rows) for k in range(n_constituents)]
        np.testing.assert_allclose(x.constituents[n], expected, rtol=2e-6, atol=2e-5)
    assert (x.label == -1).all()
    assert np.isnan(x.gen_pt).all()


def test_labels_are_those_of_the_jets_in_the_full_list() -> None:
    cols = _events(3)
    rng = np.random.default_rng(3)
    n_jets = ak.num(cols[f"{_JET}_PT"])
    # generator jets at the jets' directions, pT = 1000 + jet pT; gluons on half of them
    for f in ("PT", "Eta", "Phi"):
        cols[f"Gen_JetAK4_{f}"] = cols[f"{_JET}_{f}"] + (1000.0 if f == "PT" else 0.0)
    glu = [rng.random(int(n)) < 0.5 for n in n_jets]
    eta, phi = ak.to_list(cols[f"{_JET}_Eta"]), ak.to_list(cols[f"{_JET}_Phi"])
    part = [
        [(e, p) for e, p, g in zip(a, b, c, strict=True) if g]
        for a, b, c in zip(eta, phi, glu, strict=True)
    ]
    gen = {
        "PID": [[21] * len(v) for v in part],
        "Status": [[23] * len(v) for v in part],
        "PT": [[50.0] * len(v) for v in part],
        "Eta": [[e for e, _ in v] for v in part],
        "Phi": [[p for _, p in v] for v in part],
        **{f: [[-1] * len(v) for v in part] for f in ("M1", "M2", "D1", "D2")},
        "IsPU": [[0] * len(v) for v in part],
    }
    cols.update({f"Gen_Part_{f}": ak.Array(v) for f, v in gen.items()})
    chunk = ak.Array(cols)
    assert set(jet_tag_columns()) <= set(chunk.fields)
    x = jet_tag_inputs(chunk, pt_min=10.0)
    truth = jet_truth_from_chunk(chunk)
    flat = np.asarray(ak.num(cols[f"{_JET}_PT"]))
    start = np.concatenate([[0], np.cumsum(flat)[:-1]])
    np.testing.assert_array_equal(x.label, truth.label[start[x.event] + x.jet])
    np.testing.assert_allclose(x.gen_pt, x.jet_pt + np.float32(1000.0), rtol=1e-6)
    assert set(x.label.tolist()) == {-1, 1}


def test_empty_chunk_and_bad_arguments() -> None:
    cols = _events(4, n_events=3)
    x = jet_tag_inputs(cols, pt_min=1e6, labels=False)
    assert x.n_jets == 0
    assert x.constituents.shape == (0, N_CONSTITUENTS, len(CONSTITUENT_FEATURES))
    with pytest.raises(ConfigError, match="n_constituents"):
        jet_tag_inputs(cols, n_constituents=0, labels=False)
    with pytest.raises(ConfigError, match="pt_min"):
        jet_tag_inputs(cols, pt_min=float("nan"), labels=False)
    del cols[f"{_PART}_ErrorDZ"]
    with pytest.raises(DataFormatError, match="L1T_PUPPIPart_ErrorDZ"):
        jet_tag_inputs(cols, labels=False)
    assert len(CONSTITUENT_FEATURES) == 21
