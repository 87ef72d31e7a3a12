"""The HTML report and the CLI table: valid HTML holding the numbers, the plots and the caveats."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.anomaly.menu import calibrate_menu, load_menu, menu_decisions, menu_rates
from l1scout.tasks.anomaly.metrics import Evaluation, evaluate
from l1scout.tasks.anomaly.report import (
    efficiency_table_rich,
    efficiency_table_text,
    format_efficiency,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = "<script>alert(1)</script>"
VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Page(HTMLParser):
    """Collects tags, text, image sources and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.images: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert not page.errors, page.errors[:5]
    assert page.stack == [], page.stack
    return page


def _zero_bias_inputs(n: int, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros((n, 57), dtype=np.float32)
    x[:, 0] = rng.exponential(25.0, n)
    x[:, 15] = rng.exponential(4.0, n) * (rng.random(n) < 0.4)
    x[:, 3] = rng.exponential(6.0, n)
    x[:, 27] = rng.exponential(40.0, n)
    return x


@pytest.fixture(scope="module")
def evaluation() -> tuple[Evaluation, object, object]:
    rng = np.random.default_rng(21)
    n = 30_000
    x_zb = _zero_bias_inputs(n, rng)
    menu = calibrate_menu(load_menu(), x_zb)
    zb = rng.exponential(1.0, n)
    signals = {
        "ADC2021_A50_4l": rng.exponential(4.0, 2000),
        f"evil {HOSTILE}": rng.exponential(2.0, 1000),
    }
    sig_x = {k: _zero_bias_inputs(len(v), rng) * 1.5 for k, v in signals.items()}
    ev = evaluate(
        zb,
        signals,
        zb_menu=menu_decisions(menu, x_zb),
        signal_menu={k: menu_decisions(menu, v) for k, v in sig_x.items()},
    )
    return ev, menu, menu_rates(menu, x_zb)


@pytest.mark.slow
def test_report_is_valid_html_with_numbers_and_plots(tmp_path: Path, evaluation: tuple) -> None:
    ev, menu, rates = evaluation
    out = tmp_path / "report"
    index = write_report(
        ev,
        out,
        title=f"Report {HOSTILE}",
        extra={"model": "vae_57_32_16_8", HOSTILE: "value & more"},
        stage_times={"train": 12.25, "evaluate": 1.5},
        model_rows=[
            {"model": "vae", "FLOPs": 4321, "LUTs": None},
            {"model": "vicreg", "latency ns": 12.5},
        ],
        menu=menu,
        menu_rates=rates,
    )
    assert index == out / "index.html"
    page = _parse(index)
    text = " ".join(page.text)
    raw = index.read_text(encoding="utf-8")

    # user strings are escaped: shown as text, never as a tag
    assert "script" not in page.tags
    assert HOSTILE in text
    assert "value & more" in text

    # the plots exist, are PNGs and are on the page
    assert sorted(page.images) == ["efficiency.png", "roc.png", "scores.png"]
    for name in page.images:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left

    # measurable efficiencies are quoted with their intervals; unmeasurable rates are said plainly
    measurable = [i for i, t in enumerate(ev.thresholds) if t.measurable]
    assert measurable  # this sample measures 10 kHz and above
    for s in ev.signals.values():
        for i in measurable:
            e = s.efficiency[i]
            value, up, down = format_efficiency(e).removesuffix(" %").split(" ")
            assert f"{value}<sup>{up}</sup><sub>−{down[1:]}</sub>" in raw
            assert f"title='{e.passed} / {e.total}'" in raw
    bad = [t for t in ev.thresholds if not t.measurable]
    assert bad
    assert "Not measurable: " + ", ".join(f"{t.rate_khz:g} kHz" for t in bad) in text

    def section(title: str) -> str:
        start = raw.index(f"<h2>{title}")
        return raw[start : raw.index("<h2>", start + 4)]

    # no number in an unmeasurable column: one interval per signal and measurable rate, a greyed
    # "not measurable" cell per signal and unmeasurable rate
    n_sig = len(ev.signals)
    eff = section("Signal efficiency at fixed zero-bias rate")
    assert eff.count("<sup>") == n_sig * len(measurable)
    assert eff.count("<td class='nm'>not measurable</td>") == n_sig * len(bad)
    pure = section("Pure efficiency")
    assert pure.count("<sup>") == n_sig * (len(measurable) + 1)  # and the menu's own efficiency
    assert pure.count("<td class='nm'>not measurable</td>") == n_sig * len(bad)
    for s in ev.signals.values():
        assert s.pure_efficiency is not None
        for i in measurable:
            value = format_efficiency(s.pure_efficiency[i]).split(" ")[0]
            assert f"{value}<sup>" in pure

    # thresholds with their intervals, AUC, the ADC2021 point, menu, models, stage times
    for t in ev.thresholds:
        assert f"{t.threshold:.4g}" in text
        assert f"{t.rate_measured_khz:.3g} [{t.rate_low_khz:.3g}, {t.rate_high_khz:.3g}]" in text
    for s in ev.signals.values():
        assert f"{s.auc:.4f}" in text
    assert "efficiency at zero-bias efficiency 1e-05" in text
    assert "Pure efficiency" in text
    assert "SingleMu" in text
    assert "calibrated on 30000 zero-bias events" in text
    for number in ("4321", "12.5", "latency ns", "12.2 s", "13.8 s"):  # 13.8 s: total of the stages
        assert number in text
    assert "vae_57_32_16_8" in text

    # the metrics file is the MLflow metrics
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(ev.to_metrics())


@pytest.mark.slow
def test_report_without_menu_or_extras(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ev = evaluate(rng.normal(size=2000), {"S": rng.normal(1, 1, 300)}, rates_khz=(200.0, 1000.0))
    index = write_report(ev, tmp_path, title="plain")
    text = " ".join(_parse(index).text)
    assert "Every target rate here is measurable." in text
    assert "Pure efficiency" not in text
    assert "Wall time" not in text


def test_report_into_an_unwritable_place(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ev = evaluate(rng.normal(size=2000), {"S": rng.normal(1, 1, 300)}, rates_khz=(200.0,))
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write the report"):
        write_report(ev, blocker / "report", title="x")


def test_text_tables(evaluation: tuple) -> None:
    ev = evaluation[0]
    text = efficiency_table_text(ev)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["signal", "events", "AUC"]
    row = next(line for line in lines if line.startswith("ADC2021_A50_4l"))
    s = ev.signals["ADC2021_A50_4l"]
    for t, e in zip(ev.thresholds, s.efficiency, strict=True):
        if t.measurable:
            assert format_efficiency(e) in row
    assert row.count("n/m") == 1 + len(ev.unmeasurable_rates_khz)  # with eff @ bkg 1e-5
    assert "n/m = not measurable" in text

    from rich.console import Console

    console = Console(record=True, width=250)
    console.print(efficiency_table_rich(ev))
    shown = console.export_text()
    assert "ADC2021_A50_4l" in shown
    assert format_efficiency(s.efficiency[-1]) in shown
    assert "not measurable" in shown


def test_format_efficiency() -> None:
    from l1scout.tasks.rates import efficiency

    assert format_efficiency(efficiency(50, 100)) == "50.0 +5.5 -5.5 %"
    e = efficiency(5000, 1_000_000)
    assert format_efficiency(e) == "0.5000 +0.0072 -0.0071 %"  # two digits of the error


def test_importing_the_report_does_not_import_matplotlib() -> None:
    code = "import sys, l1scout.tasks.anomaly.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_report_states_the_normalisation_and_compares_scores(tmp_path: Path) -> None:
    from l1scout.tasks.rates import RUN3_CROSSING_RATE_KHZ

    rng = np.random.default_rng(4)
    zb = rng.normal(size=20_000)
    signals = {"S": rng.normal(2.0, 1.0, 500), "T": rng.normal(1.0, 1.0, 400)}
    rates = (1.0, 100.0, 1000.0)  # 1 kHz: 0.6 expected zero-bias events, not measurable
    phase2 = evaluate(zb, signals, rates_khz=rates)
    page = " ".join("".join(_parse(write_report(phase2, tmp_path / "p2", title="p2")).text).split())
    assert (
        "Rate normalisation: rates are fractions of zero-bias events accepted times 31,039 kHz "
        "(Phase-2: 2760 colliding bunch pairs x 11.246 kHz = 31,038.96 kHz)" in page
    )
    run3 = evaluate(zb, signals, rates_khz=rates, crossing_rate_khz=RUN3_CROSSING_RATE_KHZ)
    page = " ".join("".join(_parse(write_report(run3, tmp_path / "r3", title="r3")).text).split())
    assert "28,608.8 kHz (Run 3: 2544 colliding bunch pairs x 11.2456 kHz" in page

    # two scores of one model on the same events, side by side
    other = evaluate(zb * 2.0, {k: v * 3.0 for k, v in signals.items()}, rates_khz=rates)
    index = write_report(
        phase2,
        tmp_path / "cmp",
        title="cmp",
        comparisons=[("v5", {"autoencoder": phase2, "mahalanobis": other})],
    )
    raw = index.read_text(encoding="utf-8")
    start = raw.index("<h2>Scores of v5 side by side (validation split)</h2>")
    section = raw[start : raw.index("<h2>", start + 4)]
    for label in ("autoencoder", "mahalanobis"):
        assert f"<th>{label}: AUC</th>" in section
        assert f"<th>{label}: 100 kHz</th>" in section
        assert f"<th>{label}: 1 kHz</th>" not in section  # only rates both can measure
    for ev in (phase2, other):
        for name in ("S", "T"):
            s = ev.signals[name]
            assert f"{s.auc:.4f}" in section
            value = format_efficiency(s.efficiency_at(1000.0)).split(" ")[0]
            assert f"{value}<sup>" in section
    assert section.count("<sup>") == 2 * 2 * 2  # signals x scores x measurable rates
    assert "20000 zero-bias validation events" in section
