"""What a scouting run made: the stream's facts and the pipeline's result (plain containers).

Kept apart from :mod:`l1scout.tasks.scouting.pipeline` so that the report
(:mod:`l1scout.tasks.scouting.report`) reads them without importing the
pipeline (the project's import contract forbids the cycle).

Example:
    >>> s = StreamFacts(n_orbits=2, files=(), words={"puppi": 700_000, "sums": 7128},
    ...                 distinct_zero_bias=1000, zero_bias_crossings=5520, injections={"WTo3Pi": 3},
    ...                 filling="phase2", lumi_cm2s=7.5e34, candidates=128)
    >>> s.words_per_orbit, round(s.mb_per_orbit, 3), s.zero_bias_reuse
    (353564.0, 2.829, 5.52)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from l1scout.tasks.scouting.models import ModelsResult
    from l1scout.tasks.scouting.results import MenuResult

__all__ = ["ScoutingResult", "StreamFacts"]


@dataclass(frozen=True)
class StreamFacts:
    """The orbits a run built.

    Attributes:
        n_orbits: orbits written.
        files: the ``.l1sorb`` files, in orbit order.
        words: stream -> 64-bit words over every orbit (headers included).
        distinct_zero_bias: distinct zero-bias events in the orbits.
        zero_bias_crossings: filled BXs holding zero bias, over every orbit.
        injections: signal -> injected BXs over every orbit.
        filling: the filling scheme.
        lumi_cm2s: the luminosity of the injection (cm^-2 s^-1).
        candidates: PUPPI candidates per crossing (the highest pT).
        plan: the orbit plan's summary (:meth:`~l1scout.tasks.scouting.orbits.OrbitPlan.summary`).
    """

    n_orbits: int
    files: tuple[Path, ...]
    words: dict[str, int]
    distinct_zero_bias: int
    zero_bias_crossings: int
    injections: dict[str, int]
    filling: str
    lumi_cm2s: float
    candidates: int
    plan: dict[str, object] = field(default_factory=dict)

    @property
    def words_per_orbit(self) -> float:
        """Words of one orbit, every stream (mean over the orbits)."""
        return sum(self.words.values()) / max(self.n_orbits, 1)

    @property
    def mb_per_orbit(self) -> float:
        """Megabytes (10^6 bytes) of one orbit, every stream: 8 bytes a word."""
        return 8.0 * self.words_per_orbit / 1e6

    @property
    def zero_bias_reuse(self) -> float:
        """Zero-bias crossings per distinct zero-bias event (1.0: no reuse)."""
        return (
            self.zero_bias_crossings / self.distinct_zero_bias if self.distinct_zero_bias else 1.0
        )


@dataclass
class ScoutingResult:
    """What :func:`~l1scout.tasks.scouting.pipeline.run_scouting` made.

    Attributes:
        report: the HTML report.
        summary: ``summary.json``.
        menu: the menu's merged result.
        menu_file: the menu that ran (with the working points of a models stage).
        menu_folder: where :meth:`MenuResult.write` put the Parquet tables and ``menu.json``.
        stream: the orbits.
        models: the models stage (None: ``[models] train = false``).
        stage_seconds: wall time of each stage (s).
        run_id: the MLflow run's id.
        dataset_hash: the samples' hash.
    """

    report: Path
    summary: Path
    menu: MenuResult
    menu_file: Path
    menu_folder: Path
    stream: StreamFacts
    models: ModelsResult | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    dataset_hash: str = ""

    @property
    def orbits_per_second(self) -> float:
        """Orbits through the menu (unpacking and every selection, files read) per second of the menu stage."""
        seconds = self.stage_seconds.get("menu", 0.0)
        return self.menu.n_orbits / seconds if seconds > 0 else float("nan")
