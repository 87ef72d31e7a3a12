"""What a compression run measured: one point per codec setting, the measures, the run's result.

Also the run's flat MLflow metrics (:func:`run_metrics`) and the content of
its ``summary.json`` (:func:`summary_of`).

Kept apart from :mod:`l1scout.tasks.compress.pipeline` so that the report
(:mod:`l1scout.tasks.compress.report`) reads them without importing the
pipeline (the project's import contract forbids the cycle).

**The measures** (:data:`MEASURES`) are what the rate-distortion plots and
the best-codec tables are drawn from, each a number per codec setting over
the test events:

* ``resolution/<q>`` for HT, MET and the leading jet's pT: the **worst**
  (largest) over the processes of :func:`~l1scout.tasks.compress.fidelity.response_resolution`'s
  resolution (half the 16-84 % width of decoded / original over its median), so "5 %" holds
  for every process;
* ``distance/<field>``: the worst over the processes of the 1D Wasserstein
  distance of each PUPPI field (:func:`~l1scout.tasks.compress.fidelity.particle_distances`);
* ``downstream/<name>``: a downstream measure on the stored form relative to
  the original events (an AUC ratio, an efficiency ratio at the fixed rate),
  the worst over the signals.

Example:
    >>> p = CodecPoint("q8", "quantized", {}, False, 1000, 10, {"minbias": 100.0},
    ...                0.1, 0.1, {"minbias": {"resolution/ht": 0.02}}, {}, {})
    >>> p.bytes_per_event, p.aggregate()["resolution/ht"]
    (100.0, 0.02)
    >>> p.fidelity["minbias"]["events/ht"] = 3.0
    >>> p.min_events = 20
    >>> p.aggregate()["resolution/ht"]  # 3 events above the floor: left out
    nan
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from l1scout.tasks.compress.frontier import Better, CodecRow, GoalCheck, Loss, RDPoint

if TYPE_CHECKING:
    from l1scout.tasks.compress.config import CompressConfig

__all__ = [
    "MEASURES",
    "CodecPoint",
    "CompressResult",
    "Measure",
    "measure_better",
    "run_metrics",
    "summary_of",
]


@dataclass(frozen=True)
class Measure:
    """A fidelity measure of the rate-distortion picture.

    Attributes:
        key: its name in :meth:`CodecPoint.aggregate` (and MLflow).
        title: the plot's axis label.
        better: ``"lower"``, ``"higher"`` or ``"one"`` (:func:`~l1scout.tasks.compress.frontier.badness`).
    """

    key: str
    title: str
    better: Better


#: The measures of the plots and tables, in order; ``downstream/*`` are added as measured.
MEASURES: tuple[Measure, ...] = (
    Measure("resolution/ht", "HT resolution (worst process)", "lower"),
    Measure("resolution/met", "MET resolution (worst process)", "lower"),
    Measure("resolution/jet1_pt", "leading-jet pT resolution (worst process)", "lower"),
    Measure("distance/pt", "pT Wasserstein distance [GeV] (worst process)", "lower"),
    Measure("distance/eta", "eta Wasserstein distance (worst process)", "lower"),
    Measure("distance/phi", "phi Wasserstein distance [rad] (worst process)", "lower"),
    Measure("distance/dz", "z0 Wasserstein distance [mm] (worst process)", "lower"),
    Measure("distance/puppi_w", "PUPPI weight Wasserstein distance (worst process)", "lower"),
    Measure("distance/type", "particle-type total variation (worst process)", "lower"),
    Measure("distance/multiplicity", "multiplicity Wasserstein distance (worst process)", "lower"),
)


def measure_better(key: str) -> Better:
    """Which way the measure *key* is better: the table's, else ``higher`` for downstream ratios.

    >>> measure_better("resolution/met"), measure_better("downstream/anomaly_auc_ratio")
    ('lower', 'higher')
    """
    for m in MEASURES:
        if m.key == key:
            return m.better
    return "higher" if key.startswith("downstream/") else "lower"


def _worst(values: list[float], better: Better) -> float:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    if better == "higher":
        return min(finite)
    if better == "one":
        return max(finite, key=lambda v: abs(v - 1.0))
    return max(finite)


@dataclass
class CodecPoint:
    """One codec setting measured on every test event (bytes from the files written).

    Attributes:
        label, family, params: the codec's.
        lossless: exact on the values it stores.
        n_bytes: the payload files' bytes on disk, every process.
        n_events: test events encoded, every process.
        bytes_by_process: process -> bytes per event of its file.
        seconds_encode, seconds_decode: wall time over every process (s).
        fidelity: process -> :func:`~l1scout.tasks.compress.fidelity.fidelity_metrics`
            (empty for an embedding-only codec).
        downstream: ``downstream/<name>`` -> the worst ratio over the signals,
            and the per-signal numbers under longer names.
        files: process -> the payload file.
        min_events: a process's ``response/<q>`` and ``resolution/<q>`` enter
            :meth:`aggregate` only with at least this many events above the
            floor (its ``events/<q>``).
    """

    label: str
    family: str
    params: dict[str, Any]
    lossless: bool
    n_bytes: int
    n_events: int
    bytes_by_process: dict[str, float]
    seconds_encode: float
    seconds_decode: float
    fidelity: dict[str, dict[str, float]]
    downstream: dict[str, float]
    files: dict[str, Path] = field(default_factory=dict)
    min_events: int = 1

    @property
    def bytes_per_event(self) -> float:
        """Stored bytes per event over every test event of every process (files on disk)."""
        return self.n_bytes / self.n_events if self.n_events else math.nan

    def aggregate(self) -> dict[str, float]:
        """The measures of the plots: each fidelity metric's worst over the processes, the downstream ones.

        Per-process metrics whose name starts with ``resolution/``, ``response/``
        or ``distance/`` are combined (:func:`measure_better` gives "worst");
        a response or resolution of fewer than :attr:`min_events` events is left out.
        """
        out: dict[str, float] = {}
        keys = {k for metrics in self.fidelity.values() for k in metrics}
        for key in sorted(keys):
            if not key.startswith(("resolution/", "response/", "distance/")):
                continue
            better: Better = "one" if key.startswith("response/") else measure_better(key)
            values = [m.get(key, math.nan) for m in self.fidelity.values() if self._enough(m, key)]
            out[key] = _worst(values, better)
        out.update({k: v for k, v in self.downstream.items() if k.count("/") == 1})
        return out

    def _enough(self, metrics: Mapping[str, float], key: str) -> bool:
        if not key.startswith(("resolution/", "response/")):
            return True
        quantity = key.split("/", 1)[1]
        return metrics.get(f"events/{quantity}", math.inf) >= self.min_events

    def row(self) -> CodecRow:
        """The frontier's row of this point."""
        return CodecRow(self.label, self.family, self.bytes_per_event, self.aggregate())


@dataclass
class CompressResult:
    """What :func:`~l1scout.tasks.compress.pipeline.run_compress` made.

    Attributes:
        report: the HTML report.
        summary: ``summary.json``.
        points: every codec setting, baselines first.
        goal: the goal check.
        best: measure -> the best codec at each budget (budget, point or None).
        fronts: measure -> its Pareto frontier.
        losses: where a learned codec loses to plain quantization.
        deploy: per encoder its ONNX parity, throughput and operation count.
        training: per trained model its history facts (epochs, seconds, best epoch).
        counts: process -> part -> events.
        downstream_original: the downstream measures on the original test events.
        stage_seconds: wall time of each stage (s).
        run_id: the MLflow run's id.
        dataset_hash: the samples' hash.
    """

    report: Path
    summary: Path
    points: list[CodecPoint]
    goal: GoalCheck
    best: dict[str, list[tuple[float, RDPoint | None]]]
    fronts: dict[str, list[RDPoint]]
    losses: list[Loss]
    deploy: list[dict[str, Any]] = field(default_factory=list)
    training: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    downstream_original: Mapping[str, float] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    dataset_hash: str = ""


def run_metrics(result: CompressResult) -> dict[str, float]:
    """The run's MLflow metrics (non-finite values left out).

    Per codec setting ``<label>/bytes_per_event``, ``<label>/bytes_per_event/<process>``
    and every measure of :meth:`CodecPoint.aggregate` as ``<label>/<measure>``;
    ``goal.met``, ``goal.reference_bytes``, ``goal.cheapest_bytes``,
    ``goal.reduction``; ``deploy/<encoder>/<fact>`` for numeric deployment facts;
    ``stage.<name>.seconds``.
    """
    out: dict[str, float] = {}
    for p in result.points:
        out[f"{p.label}/bytes_per_event"] = p.bytes_per_event
        out |= {f"{p.label}/bytes_per_event/{k}": v for k, v in p.bytes_by_process.items()}
        out |= {f"{p.label}/{k}": v for k, v in p.aggregate().items()}
    g = result.goal
    out |= {
        "goal.met": float(g.met),
        "goal.reference_bytes": g.reference_bytes,
        "goal.cheapest_bytes": g.cheapest_bytes,
        "goal.reduction": g.reduction,
    }
    for d in result.deploy:
        name = str(d.get("encoder", "encoder"))
        out |= {
            f"deploy/{name}/{k}": float(v)
            for k, v in d.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
    out |= {f"stage.{k}.seconds": v for k, v in result.stage_seconds.items()}
    return {k: float(v) for k, v in out.items() if math.isfinite(v)}


def summary_of(result: CompressResult, cfg: CompressConfig) -> dict[str, object]:
    """Every number of a run for ``summary.json`` (paths as text; the caller makes it JSON-safe)."""
    g = result.goal
    return {
        "name": cfg.name,
        "run_id": result.run_id,
        "dataset_hash": result.dataset_hash,
        "report": str(result.report),
        "events": result.counts,
        "goal": {
            "met": g.met,
            "text": g.text(),
            "reference_bytes": g.reference_bytes,
            "budget": g.budget,
            "resolution_goal": g.goal,
            "factor": g.factor,
            "passing": list(g.passing),
            "cheapest": g.cheapest,
            "cheapest_bytes": g.cheapest_bytes,
            "reduction": g.reduction,
        },
        "codecs": [
            {
                "label": p.label,
                "family": p.family,
                "params": p.params,
                "lossless": p.lossless,
                "bytes_per_event": p.bytes_per_event,
                "n_bytes": p.n_bytes,
                "n_events": p.n_events,
                "bytes_by_process": p.bytes_by_process,
                "seconds_encode": p.seconds_encode,
                "seconds_decode": p.seconds_decode,
                "measures": p.aggregate(),
                "fidelity": p.fidelity,
                "downstream": p.downstream,
                "files": {k: str(v) for k, v in p.files.items()},
            }
            for p in result.points
        ],
        "best_per_budget": {
            k: [[b, None if p is None else p.label] for b, p in rows]
            for k, rows in result.best.items()
        },
        "fronts": {k: [p.label for p in front] for k, front in result.fronts.items()},
        "learned_losses": [vars(x) for x in result.losses],
        "downstream_original": dict(result.downstream_original),
        "deploy": result.deploy,
        "training": result.training,
        "stage_seconds": result.stage_seconds,
    }
