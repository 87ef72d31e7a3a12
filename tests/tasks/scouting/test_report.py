"""The scouting report on a hand-made menu result: the numbers it prints are the ones counted by hand."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from l1scout.tasks.rates import clopper_pearson
from l1scout.tasks.scouting.pipeline import run_metrics
from l1scout.tasks.scouting.pipeline_results import StreamFacts
from l1scout.tasks.scouting.report import rate_text, write_scouting_report
from l1scout.tasks.scouting.results import MenuResult, OrbitOutcome
from l1scout.tasks.scouting.words import FILLED_BX, ORBIT_BX, ORBIT_RATE_KHZ

CROSSING = FILLED_BX * ORBIT_RATE_KHZ


def _orbit(orbit: int) -> OrbitOutcome:
    """Ten BXs: zero-bias events 0-7 (event 3 in two BXs), then two injected signal events.

    ``a<b>`` accepts zero-bias events 1 and 3 and signal event 0; ``mu`` accepts zero-bias
    event 3 only and no signal.
    """
    sample = np.array(["minbias"] * 9 + ["sig"] * 2)
    event = np.array([0, 1, 2, 3, 3, 4, 5, 6, 7, 0, 1])
    injected = sample == "sig"
    a = np.isin(event, [1, 3]) & ~injected | (injected & (event == 0))
    mu = (event == 3) & ~injected
    n = sample.size
    empty = {"orbit": np.zeros(0, np.int64), "bx": np.zeros(0, np.int16)}
    return OrbitOutcome(
        orbit=orbit,
        bx=np.arange(n, dtype=np.int16),
        passed={"a<b>": a, "mu": mu},
        tables={"a<b>": empty, "mu": empty},
        sample=sample,
        event=event,
        injected=injected,
        problems={"bad_flag": 0},
        seconds={"unpack": 0.01, "a<b>": 0.02, "mu": 0.0},
    )


def test_the_report_prints_the_rates_overlaps_and_efficiencies_counted_by_hand(
    tmp_path: Path,
) -> None:
    menu = MenuResult.from_outcomes(["a<b>", "mu"], [_orbit(1), _orbit(2)], zero_bias="minbias")
    stream = StreamFacts(
        n_orbits=2,
        files=(tmp_path / "o.l1sorb",),
        words={"puppi": 2 * 350_000, "sums": 2 * 6324},
        distinct_zero_bias=8,
        zero_bias_crossings=18,
        injections={"sig": 4},
        filling="phase2",
        lumi_cm2s=7.5e34,
        candidates=128,
    )
    path = write_scouting_report(menu, stream, tmp_path / "report", timings={"menu": 0.5})
    page = html.unescape(path.read_text())
    # 8 distinct zero-bias events (event 3 seen four times counts once): a<b> accepts 2, mu 1
    zb = menu.zero_bias_rates()
    assert zb["a<b>"].n_pass == 2
    assert zb["a<b>"].n_total == 8
    low, high = clopper_pearson(2, 8)
    want = f"{2 / 8 * CROSSING:.3g} [{low * CROSSING:.3g}, {high * CROSSING:.3g}]"
    assert rate_text(zb["a<b>"]) == want
    assert want in page
    # the overlap of a<b> and mu is event 3; the pure rate of a<b> is event 1 only
    assert rate_text(menu.overlaps()["a<b>", "mu"]) in page
    assert menu.pure_rates()["a<b>"].n_pass == 1
    assert menu.pure_rates()["mu"].n_pass == 0
    # the signal: 2 distinct injected events, a<b> takes one of them
    assert "50.0 [" in page
    assert "% (1/2)" in page
    assert "% (0/2)" in page
    # raw rate: 8 passing BXs of 22 evaluated x 3564 x orbit rate (no interval: reused
    # crossings are not independent), and 4 passing BXs per orbit
    assert menu.raw_pass["a<b>"] == 8
    raw = f"{8 / 22 * ORBIT_BX * ORBIT_RATE_KHZ:.3g}"
    assert f"<td class=num>{raw}</td>" in path.read_text()
    assert f"{raw} [" not in page
    assert "4.00" in page
    # the setup and the escaped selection name
    assert "reuse factor 2.25" in page
    assert "2.851 MB" in page  # (350,000 + 6,324) words x 8 bytes
    assert "&lt;b&gt;" in path.read_text()
    assert "4 orbits/s" in page  # 2 orbits in 0.5 s
    metrics = run_metrics(menu, stream, {"menu": 0.5})
    assert metrics["a<b>.rate_khz"] == zb["a<b>"].rate_khz
    assert metrics["mu.eff.sig"] == 0.0
    assert metrics["menu.orbits_per_second"] == 4.0
    assert metrics["stream.zero_bias_reuse"] == 2.25
