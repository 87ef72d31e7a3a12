"""The soft-tau HTML report, written from evaluations of the synthetic events of ``test_study.py``.

The evaluations come from :func:`~l1scout.tasks.taus.study.evaluate_scores`
with constructed scores (no training): noisy ones that separate taus from
fakes imperfectly for the main page, and exact or constant ones that fix the
verdict. The page is read back with :mod:`html.parser`, so every check is on
the text a reader sees.
"""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from l1scout._files import atomic_write_bytes
from l1scout.errors import ConfigError
from l1scout.tasks.taus import report as report_module
from l1scout.tasks.taus.config import TauConfig
from l1scout.tasks.taus.dataset import TauDataset
from l1scout.tasks.taus.report import REPORT_NAME, write_tau_report
from l1scout.tasks.taus.results import NOT_RESOLVED, CandidateScores, TauEvaluation
from l1scout.tasks.taus.study import evaluate_scores

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """The text of a page: its title, its tables (rows of cell texts), its image sources."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.title = ""
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.chunks: list[str] = []
        self._cell: list[str] | None = None
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._in_title:
            self.title += data

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def table_starting(self, first: str) -> list[list[str]]:
        return next(t for t in self.tables if t and t[0] and t[0][0] == first)


def _lines(table: list[list[str]]) -> dict[str, str]:
    """A two-column table as name -> value."""
    return {r[0]: r[1] for r in table}


def _read(path: Path) -> _Page:
    return _Page(path.read_text(encoding="utf-8"))


def _noisy_scores(ds: TauDataset, seed: int) -> CandidateScores:
    """Scores that separate taus from fakes imperfectly, a charge mostly right, a smeared pT."""
    rng = np.random.default_rng(seed)
    t, n = ds.targets, len(ds)
    tau = t.is_tau
    score = np.where(tau, rng.uniform(0.3, 1.0, n), rng.uniform(0.0, 0.7, n))
    right = rng.random(n) < 0.9
    positive = np.where(right, t.charge > 0, t.charge < 0)
    q = np.where(tau, np.where(positive, 0.8, 0.2), 0.5)
    vz = np.where(tau, t.vz + rng.normal(0.0, 0.5, n), rng.normal(0.0, 30.0, n))
    return CandidateScores("toy ID", score, q, vz, ds.pt * rng.uniform(0.9, 1.1, n))


@pytest.fixture(scope="module")
def evaluation(
    synthetic_tau_datasets: dict[str, TauDataset], synthetic_tau_config: TauConfig
) -> TauEvaluation:
    scores = {m: _noisy_scores(ds, i) for i, (m, ds) in enumerate(synthetic_tau_datasets.items())}
    return evaluate_scores(synthetic_tau_datasets, scores, synthetic_tau_config)


@pytest.fixture(scope="module")
def written(evaluation: TauEvaluation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    header = {"config": "taus-demo", "data": "synthetic events of test_study.py"}
    return write_tau_report(
        evaluation,
        tmp_path_factory.mktemp("report"),
        header=header,
        timings={"data": 1.0, "training": 2.5},
    )


@pytest.fixture
def quick_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests of the page alone: each plot a stub PNG at its path (drawing one takes ~0.3 s)."""

    def stub(_: object, path: Path) -> Path:
        return atomic_write_bytes(path, PNG_MAGIC)

    for name in ("plot_ditau", "plot_efficiency", "plot_response"):
        monkeypatch.setattr(report_module, name, stub)


def _percent(text: str) -> tuple[float, float, float]:
    """``"45.2 +1.3 -1.2 %"`` -> (45.2, 1.3, 1.2)."""
    m = re.fullmatch(r"(\S+) \+(\S+) -(\S+) %", text)
    assert m is not None, text
    return float(m[1]), float(m[2]), float(m[3])


def test_the_page_and_its_plots_are_written(written: Path, evaluation: TauEvaluation) -> None:
    assert written.name == REPORT_NAME
    assert written.is_file()
    page = _read(written)
    folder = written.parent
    expected = {"ditau.png"} | {
        f"{kind}_{m}.png" for m in evaluation.methods for kind in ("efficiency", "response")
    }
    assert set(page.images) == expected
    for name in expected:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        # a valid PNG: the IHDR chunk gives a non-empty image
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 100
        assert height > 50
    import matplotlib.image

    assert matplotlib.image.imread(folder / "efficiency_clue.png").ndim == 3
    # nothing temporary is left beside them
    assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name]


def test_the_header_says_rate_target_and_splits(written: Path) -> None:
    page = _read(written)
    assert page.title == "l1scout soft-tau study: taus-demo"
    lines = _lines(page.table_starting("config"))
    assert lines["data"] == "synthetic events of test_study.py"
    assert lines["crossing rate (rate normalisation)"].startswith("1,000 kHz")
    assert lines["target zero-bias rate of the working points"] == "50 kHz"
    # 96 zero-bias events in each of validation and test (test_study.py's splits)
    assert lines["zero-bias events (validation / test)"] == "96 / 96"
    assert "chosen on the validation split" in lines["splits"]
    assert "quoted on the test split" in lines["splits"]


def test_every_method_is_in_the_table_with_the_helpers_numbers(
    written: Path, evaluation: TauEvaluation
) -> None:
    table = _read(written).table_starting("method")
    header, body = table[0], table[1:]
    assert header[1] == "di-tau efficiency at 50 kHz (test)"
    assert header[2] == "di-tau efficiency, taus of 20-60 GeV (test)"
    printed = evaluation.table()
    assert [r[0] for r in body] == [str(r["method"]) for r in printed]
    assert len(body) == 4  # three working points and the menu seed
    for row, want in zip(body, printed, strict=True):
        assert row[1] == want["di-tau eff."]
        assert row[3] == want["rate"]
        assert row[4:7] == [want["class >"], want["OS charge >"], want["|dvz| < (mm)"]]
    for row, d in zip(body, evaluation.ditau.values(), strict=False):
        e = d.test_beats_range.efficiency
        value, up, down = _percent(row[2])
        assert value == pytest.approx(100 * e.value, abs=0.051)
        assert up == pytest.approx(100 * (e.high - e.value), abs=0.051)
        assert down == pytest.approx(100 * (e.value - e.low), abs=0.051)
        assert row[7] == f"{d.search.best.rate.n_pass} / 4"  # floor(96 x 50 / 1000)
        assert row[8] == "yes"
    assert body[-1][2] == "–"  # the menu seed is not split by visible pT


@pytest.mark.usefixtures("quick_plots")
def test_unmeasurable_working_points_are_flagged(
    synthetic_tau_datasets: dict[str, TauDataset],
    synthetic_tau_config: TauConfig,
    tmp_path: Path,
) -> None:
    # 96 validation zero-bias events expect 4.8 passing at 50 kHz: below min_pass = 10
    cfg = synthetic_tau_config.model_copy(
        update={"rate": synthetic_tau_config.rate.model_copy(update={"min_pass": 10})}
    )
    scores = {m: _noisy_scores(ds, 0) for m, ds in synthetic_tau_datasets.items()}
    ev = evaluate_scores(synthetic_tau_datasets, scores, cfg)
    assert not any(d.search.measurable for d in ev.ditau.values())
    body = _read(write_tau_report(ev, tmp_path)).table_starting("method")[1:]
    for row in body[:3]:
        assert row[8].startswith("not measurable: 4.8 zero-bias events expected at 50 kHz in 96")
        assert "rate not measurable" in row[9]


@pytest.mark.usefixtures("quick_plots")
@pytest.mark.parametrize("answer", ["yes", "no", NOT_RESOLVED])
def test_the_verdict_sentence_is_the_evaluations(
    answer: str,
    tau_builders: SimpleNamespace,
    synthetic_tau_datasets: dict[str, TauDataset],
    synthetic_tau_config: TauConfig,
    tmp_path: Path,
) -> None:
    datasets = synthetic_tau_datasets
    # exact scores beat constant ones; exact scores everywhere are not resolved (test_study.py)
    perfect = {
        "yes": {"clue", "ak4"},
        "no": {"nnpuppitau"},
        NOT_RESOLVED: {"clue", "ak4", "nnpuppitau"},
    }[answer]
    scores = {m: tau_builders.truth_scores(ds, m in perfect) for m, ds in datasets.items()}
    ev = evaluate_scores(datasets, scores, synthetic_tau_config)
    assert ev.verdict is not None
    assert ev.verdict.answer == answer
    text = _read(write_tau_report(ev, tmp_path)).text
    for other in ("yes", "no", NOT_RESOLVED):
        sentence = f"The transformer beats NNPuppiTau for 20-60 GeV taus: {other}."
        assert (sentence in text) == (other == answer)
    assert ev.verdict.text in text


@pytest.mark.usefixtures("quick_plots")
def test_a_study_without_nnpuppitau_says_there_is_no_verdict(
    evaluation: TauEvaluation, tmp_path: Path
) -> None:
    ev = dataclasses.replace(evaluation, verdict=None)
    text = _read(write_tau_report(ev, tmp_path)).text
    assert "No verdict: the study needs NNPuppiTau" in text
    assert "The transformer beats" not in text


def test_per_method_numbers_are_the_evaluations(
    written: Path,
    evaluation: TauEvaluation,
    synthetic_tau_datasets: dict[str, TauDataset],
) -> None:
    page = _read(written)
    summaries = [t for t in page.tables if t and t[0][0] == "identification"]
    bins = [t for t in page.tables if t and t[0][0] == "visible pT (GeV)"]
    assert len(summaries) == len(bins) == len(evaluation.methods) == 3
    for (method, me), summary, binned in zip(
        evaluation.methods.items(), summaries, bins, strict=True
    ):
        lines = _lines(summary)
        ds = synthetic_tau_datasets[method]
        # the true taus of the test events, counted here from the events
        n_test = int(np.sum(ds.event_split[ds.taus.event] == 2))
        assert lines["true taus (test)"] == str(n_test)
        assert lines["identification"] == "toy ID, ID score > 0.5"
        value, _, _ = (
            float(x.strip("[],")) for x in lines["fakes per zero-bias event, ID"].split()
        )
        assert value == pytest.approx(me.fakes_id.per_event[0], rel=5.1e-3)  # 3 digits
        assert me.charge is not None
        charge, _, _ = _percent(lines["charge accuracy, matched taus"])
        assert charge == pytest.approx(100 * me.charge.overall.value, abs=0.051)
        # per bin: RECO passed / total, the response before and after
        reco = me.efficiency.reco
        assert me.response is not None
        for k, row in enumerate(binned[1:]):
            assert row[0] == f"{reco.edges[k]:g}-{reco.edges[k + 1]:g}"
            assert row[1].endswith(f"({reco.passed[k]}/{reco.total[k]})")
            before, after = (float(x) for x in row[3].split(" / "))
            assert before == pytest.approx(me.response.before.median[k], abs=5e-4)
            assert after == pytest.approx(me.response.after.median[k], abs=5e-4)


def test_timings_are_listed_with_their_total(written: Path) -> None:
    lines = _lines(_read(written).table_starting("data"))
    assert lines == {"data": "1.0 s", "training": "2.5 s", "total": "3.5 s"}


@pytest.mark.usefixtures("quick_plots")
def test_names_from_the_caller_are_escaped(evaluation: TauEvaluation, tmp_path: Path) -> None:
    label = "transformer <b>CLUE</b> & co"
    first = next(iter(evaluation.ditau))
    ditau = {
        (label if k == first else k): (dataclasses.replace(d, label=label) if k == first else d)
        for k, d in evaluation.ditau.items()
    }
    methods = {("clue<script>" if k == "clue" else k): m for k, m in evaluation.methods.items()}
    ev = dataclasses.replace(evaluation, ditau=ditau, methods=methods)
    path = write_tau_report(ev, tmp_path, header={"config": "cfg <i>x</i>"})
    raw = path.read_text(encoding="utf-8")
    for bad in ("<b>CLUE", "<script>", "<i>x"):
        assert bad not in raw
    page = _read(path)
    assert page.title == "l1scout soft-tau study: cfg <i>x</i>"
    assert page.table_starting("method")[1][0] == label
    assert "clue<script> candidates, toy ID" in page.text
    assert (tmp_path / "efficiency_clue_script.png").is_file()


@pytest.mark.usefixtures("quick_plots")
def test_a_failure_leaves_no_partial_page(
    evaluation: TauEvaluation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("plot failed")

    monkeypatch.setattr(report_module, "plot_response", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_tau_report(evaluation, tmp_path / "new")
    assert not (tmp_path / "new" / REPORT_NAME).exists()
    assert not [p for p in (tmp_path / "new").iterdir() if p.name.startswith(".")]
    # an earlier complete page stays as it was
    monkeypatch.setattr(report_module, "plot_response", lambda _, path: None)
    old = write_tau_report(evaluation, tmp_path / "old")
    before = old.read_bytes()
    monkeypatch.setattr(report_module, "plot_response", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_tau_report(evaluation, tmp_path / "old", header={"config": "another"})
    assert old.read_bytes() == before


def test_an_unwritable_folder_is_a_config_error(evaluation: TauEvaluation, tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"cannot write the soft-tau report into .*a file"):
        write_tau_report(evaluation, blocker / "out")


def test_a_method_without_matches_or_working_points_still_reports(
    evaluation: TauEvaluation, tmp_path: Path
) -> None:
    me = dataclasses.replace(evaluation.methods["clue"], response=None, charge=None)
    ev = dataclasses.replace(
        evaluation, methods={"clue": me}, ditau={}, menu_seed=None, verdict=None
    )
    page = _read(write_tau_report(ev, tmp_path))
    assert page.images == ["efficiency_clue.png"]  # no response, no di-tau summary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["efficiency_clue.png", REPORT_NAME]
    assert page.table_starting("method")[1:] == []
    summary = _lines(next(t for t in page.tables if t and t[0][0] == "identification"))
    assert summary["charge accuracy, matched taus"] == "– (no matched tau)"
