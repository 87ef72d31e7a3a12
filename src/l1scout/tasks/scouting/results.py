"""What a menu run measured: per-orbit outcomes, merged exactly into a :class:`MenuResult`.

:class:`OrbitOutcome` is one orbit through the menu
(:func:`l1scout.tasks.scouting.menu.run_menu_on_orbit`): per evaluated BX the
decision of every selection and the BX's truth (sample, event, injected), plus
each selection's flat table. :meth:`MenuResult.from_outcomes` accumulates
orbits, :meth:`MenuResult.combine` merges the results of several files; the
merge is exact and independent of how the files were split between processes:
counts add, tables are concatenated in file order, and the distinct events are
a sorted table whose flags are OR-ed (so the same event seen by two workers is
one event).

**Rates** (kHz, :class:`l1scout.tasks.rates.MeasuredRate`, Clopper-Pearson at
68.27 %):

* *zero-bias rate* of a selection: ``k / n`` x 2760 x orbit rate (= the Phase-2
  crossing rate, 31,038.96 kHz), ``n`` the **distinct** zero-bias events of
  the run (the truth's ``(sample, event)`` with ``sample`` the zero-bias
  sample and not injected), ``k`` those the selection accepted. An orbit
  reuses zero-bias events (2,760 crossings drawn from a finite sample): an
  event in many BXs counts once, so reuse never fakes statistics. A
  selection's decision depends on the event only, so every copy agrees;
* *raw rate*: passing BXs / evaluated BXs x 3564 x orbit rate, every BX
  (filled or empty, zero bias or injected signal): what the stream would
  write; with no skipped BX it is passing BXs per orbit x orbit rate. It has
  no interval: reused crossings are not independent trials;
* *overlap* of two selections: distinct zero-bias events both accept;
  *pure rate*: events this selection accepts and no other of the menu;
* *efficiency* of a selection on a signal: distinct injected events of that
  sample it accepts / all of them (:class:`~l1scout.tasks.rates.Efficiency`).

BXs without a truth row (the empty crossings, or a file without its truth
sidecar) count in the raw rates only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._files import atomic_write, atomic_write_bytes
from l1scout._types import I64, B
from l1scout.errors import DataFormatError
from l1scout.tasks.rates import (
    DEFAULT_CL,
    Efficiency,
    MeasuredRate,
    efficiency,
    measured_rate,
)
from l1scout.tasks.scouting.words import FILLED_BX, ORBIT_BX, ORBIT_RATE_KHZ

__all__ = ["MAX_SELECTIONS", "EventFlags", "MenuResult", "OrbitOutcome"]

#: At most this many selections in one menu (their decisions are bits of a uint64).
MAX_SELECTIONS = 64


@dataclass(frozen=True, eq=False)
class OrbitOutcome:
    """One orbit through a menu.

    Attributes:
        orbit: the orbit number.
        bx: int16, the evaluated BXs (kept by the unpacker in every stream the menu reads).
        passed: selection name -> bool per evaluated BX.
        tables: selection name -> its flat table (``orbit``, ``bx`` and its quantities).
        sample: per evaluated BX its truth sample ("" without a truth row).
        event: per evaluated BX its event index in the sample (-1 without a truth row).
        injected: per evaluated BX, a signal placed by the orbit builder.
        problems: the unpacker's counters, summed over the streams read.
        seconds: stage -> seconds (``unpack`` and one per selection).
    """

    orbit: int
    bx: npt.NDArray[np.int16]
    passed: Mapping[str, B]
    tables: Mapping[str, Mapping[str, np.ndarray]]
    sample: npt.NDArray[np.str_]
    event: I64
    injected: B
    problems: Mapping[str, int]
    seconds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class EventFlags:
    """Distinct truth events, sorted by (sample, event), with the selections that accepted each.

    Attributes:
        sample: the sample of each event.
        event: its index in the sample.
        injected: a signal injected by the orbit builder.
        bits: bit ``i`` set when selection ``i`` accepted the event.
    """

    sample: npt.NDArray[np.str_]
    event: I64
    injected: B
    bits: npt.NDArray[np.uint64]

    @classmethod
    def empty(cls) -> EventFlags:
        """No event."""
        return cls(
            np.zeros(0, dtype="<U1"),
            np.zeros(0, np.int64),
            np.zeros(0, np.bool_),
            np.zeros(0, np.uint64),
        )

    @classmethod
    def merged(cls, parts: Sequence[EventFlags]) -> EventFlags:
        """The distinct events of *parts*: flags OR-ed, sorted by (sample, event)."""
        if not parts:
            return cls.empty()
        sample = np.concatenate([p.sample for p in parts]).astype(str)
        event = np.concatenate([p.event for p in parts]).astype(np.int64)
        injected = np.concatenate([p.injected for p in parts]).astype(np.bool_)
        bits = np.concatenate([p.bits for p in parts]).astype(np.uint64)
        if event.size == 0:
            return cls.empty()
        order = np.lexsort((event, sample))
        sample, event, injected, bits = sample[order], event[order], injected[order], bits[order]
        new = np.ones(event.size, dtype=np.bool_)
        new[1:] = (sample[1:] != sample[:-1]) | (event[1:] != event[:-1])
        starts = np.flatnonzero(new)
        return cls(
            sample[starts],
            event[starts],
            np.logical_or.reduceat(injected, starts),
            np.bitwise_or.reduceat(bits, starts),
        )

    def equal(self, other: EventFlags) -> bool:
        """Same events with the same flags."""
        return all(
            np.array_equal(getattr(self, k), getattr(other, k))
            for k in ("sample", "event", "injected", "bits")
        )


def _concat_tables(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _tables_equal(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    return list(a) == list(b) and all(
        a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a
    )


def _rate_dict(r: MeasuredRate | None) -> dict[str, float] | None:
    if r is None:
        return None
    return {
        "n_pass": r.n_pass,
        "n_total": r.n_total,
        "rate_khz": r.rate_khz,
        "low_khz": r.low_khz,
        "high_khz": r.high_khz,
    }


def _eff_dict(e: Efficiency) -> dict[str, float]:
    return {"passed": e.passed, "total": e.total, "value": e.value, "low": e.low, "high": e.high}


@dataclass(frozen=True, eq=False)
class MenuResult:
    """The merged outcome of a menu over orbit files (module docstring).

    Attributes:
        selections: the selection names, in menu order (bit ``i`` of the event flags).
        zero_bias: the zero-bias sample's name in the truth.
        files: the orbit files run, in order.
        bad_files: (file, reason) of each file that could not be run (skipped).
        n_orbits: orbits run.
        n_bx: BXs evaluated (kept in every stream the menu reads).
        problems: the unpacker's counters summed over streams and orbits.
        raw_pass: selection -> passing BXs (every evaluated BX).
        events: the distinct truth events and which selections accepted them.
        selected: the BXs some selection accepted: ``orbit``, ``bx``, ``sample``,
            ``event``, ``injected`` and one bool column per selection, in file,
            orbit and BX order.
        tables: selection -> its flat table (``orbit``, ``bx`` and its quantities).
        seconds: stage -> seconds (``unpack`` and one per selection); not part of
            the exact merge (timings differ from run to run).
        menu: the menu, as its configuration dictionary (for ``menu.json``).
        cl: confidence level of the intervals.
    """

    selections: tuple[str, ...]
    zero_bias: str
    files: tuple[str, ...]
    bad_files: tuple[tuple[str, str], ...]
    n_orbits: int
    n_bx: int
    problems: Mapping[str, int]
    raw_pass: Mapping[str, int]
    events: EventFlags
    selected: Mapping[str, np.ndarray]
    tables: Mapping[str, Mapping[str, np.ndarray]]
    seconds: Mapping[str, float] = field(default_factory=dict)
    menu: Mapping[str, Any] = field(default_factory=dict)
    cl: float = DEFAULT_CL

    # ------------------------------------------------------------ building

    @classmethod
    def from_outcomes(
        cls,
        selections: Sequence[str],
        outcomes: Sequence[OrbitOutcome],
        *,
        zero_bias: str = "minbias",
        files: Sequence[str] = (),
        bad_files: Sequence[tuple[str, str]] = (),
        menu: Mapping[str, Any] | None = None,
    ) -> MenuResult:
        """Accumulate orbit outcomes (in the order given).

        Raises:
            DataFormatError: more than :data:`MAX_SELECTIONS` selections, or an
                outcome without a selection's decisions.
        """
        names = tuple(selections)
        if len(names) > MAX_SELECTIONS:
            msg = f"selections: at most {MAX_SELECTIONS} in one menu, got {len(names)}"
            raise DataFormatError(msg)
        problems: dict[str, int] = {}
        seconds: dict[str, float] = {}
        raw = dict.fromkeys(names, 0)
        flags, selected, tables = [], [], {n: [] for n in names}  # type: ignore[var-annotated]
        n_bx = 0
        for o in outcomes:
            missing = [n for n in names if n not in o.passed]
            if missing:
                msg = f"orbit {o.orbit}: no decisions of selection {missing[0]!r}"
                raise DataFormatError(msg)
            n_bx += int(o.bx.size)
            for k, v in o.problems.items():
                problems[k] = problems.get(k, 0) + int(v)
            for k, s in o.seconds.items():
                seconds[k] = seconds.get(k, 0.0) + float(s)
            bits = np.zeros(o.bx.size, dtype=np.uint64)
            for i, n in enumerate(names):
                p = np.asarray(o.passed[n], dtype=np.bool_)
                raw[n] += int(p.sum())
                bits |= p.astype(np.uint64) << np.uint64(i)
                tables[n].append(o.tables[n])
            truth = o.event >= 0
            flags.append(
                EventFlags(o.sample[truth], o.event[truth], o.injected[truth], bits[truth])
            )
            any_pass = bits != 0
            sel = {
                "orbit": np.full(int(any_pass.sum()), o.orbit, dtype=np.int64),
                "bx": o.bx[any_pass].astype(np.int16),
                "sample": o.sample[any_pass].astype(str).astype(object),
                "event": o.event[any_pass].astype(np.int64),
                "injected": o.injected[any_pass].astype(np.bool_),
            }
            for n in names:
                sel[n] = np.asarray(o.passed[n], dtype=np.bool_)[any_pass]
            selected.append(sel)
        return cls(
            selections=names,
            zero_bias=zero_bias,
            files=tuple(str(f) for f in files),
            bad_files=tuple((str(f), str(r)) for f, r in bad_files),
            n_orbits=len(outcomes),
            n_bx=n_bx,
            problems=problems,
            raw_pass=raw,
            events=EventFlags.merged(flags),
            selected=_concat_tables(selected) or _empty_selected(names),
            tables={n: _concat_tables(tables[n]) for n in names},
            seconds=seconds,
            menu=dict(menu or {}),
        )

    @classmethod
    def combine(cls, parts: Sequence[MenuResult]) -> MenuResult:
        """The results of several runs (files) in the order given, merged exactly.

        Raises:
            DataFormatError: no part, or parts of other selections or zero-bias samples.
        """
        if not parts:
            msg = "MenuResult.combine: expected at least one result"
            raise DataFormatError(msg)
        first = parts[0]
        for p in parts[1:]:
            if (p.selections, p.zero_bias) != (first.selections, first.zero_bias):
                msg = (
                    f"MenuResult.combine: expected results of {first.selections} on "
                    f"{first.zero_bias!r}, got {p.selections} on {p.zero_bias!r}"
                )
                raise DataFormatError(msg)
        problems: dict[str, int] = {}
        seconds: dict[str, float] = {}
        for p in parts:
            for k, v in p.problems.items():
                problems[k] = problems.get(k, 0) + v
            for k, s in p.seconds.items():
                seconds[k] = seconds.get(k, 0.0) + s
        names = first.selections
        non_empty = [p.selected for p in parts if len(p.selected["orbit"])]
        return cls(
            selections=names,
            zero_bias=first.zero_bias,
            files=tuple(f for p in parts for f in p.files),
            bad_files=tuple(b for p in parts for b in p.bad_files),
            n_orbits=sum(p.n_orbits for p in parts),
            n_bx=sum(p.n_bx for p in parts),
            problems=problems,
            raw_pass={n: sum(p.raw_pass[n] for p in parts) for n in names},
            events=EventFlags.merged([p.events for p in parts]),
            selected=_concat_tables(non_empty) if non_empty else first.selected,
            tables={
                n: _concat_tables([p.tables[n] for p in parts if _rows(p.tables[n])])
                or first.tables[n]
                for n in names
            },
            seconds=seconds,
            menu=first.menu,
            cl=first.cl,
        )

    def equal(self, other: MenuResult) -> bool:
        """Every field but :attr:`seconds` equal, arrays element for element and dtype for dtype."""
        return (
            (self.selections, self.zero_bias, self.files, self.bad_files)
            == (other.selections, other.zero_bias, other.files, other.bad_files)
            and (self.n_orbits, self.n_bx, self.cl) == (other.n_orbits, other.n_bx, other.cl)
            and dict(self.problems) == dict(other.problems)
            and dict(self.raw_pass) == dict(other.raw_pass)
            and self.events.equal(other.events)
            and _tables_equal(self.selected, other.selected)
            and list(self.tables) == list(other.tables)
            and all(_tables_equal(self.tables[n], other.tables[n]) for n in self.tables)
            and dict(self.menu) == dict(other.menu)
        )

    # ------------------------------------------------------------ rates

    @property
    def skipped_bx(self) -> int:
        """BXs of the orbits run that were not evaluated (3564 per orbit minus :attr:`n_bx`)."""
        return ORBIT_BX * self.n_orbits - self.n_bx

    @property
    def signals(self) -> tuple[str, ...]:
        """The injected samples seen, sorted."""
        ev = self.events
        return tuple(sorted({str(s) for s in ev.sample[ev.injected]}))

    def _bit(self, name: str) -> np.uint64:
        return np.uint64(1) << np.uint64(self.selections.index(name))

    def _zb(self) -> npt.NDArray[np.uint64]:
        ev = self.events
        out: npt.NDArray[np.uint64] = ev.bits[(ev.sample == self.zero_bias) & ~ev.injected]
        return out

    def _zb_rate(self, k: int, n: int) -> MeasuredRate | None:
        if n == 0:
            return None
        crossing = FILLED_BX * ORBIT_RATE_KHZ
        return measured_rate(k, n, crossing_rate_khz=crossing, cl=self.cl)

    @property
    def n_zero_bias(self) -> int:
        """Distinct zero-bias events evaluated."""
        return int(self._zb().size)

    def zero_bias_rates(self) -> dict[str, MeasuredRate | None]:
        """Selection -> its rate on the distinct zero-bias events (None: no zero-bias event)."""
        zb = self._zb()
        return {
            n: self._zb_rate(int(np.count_nonzero(zb & self._bit(n))), zb.size)
            for n in self.selections
        }

    def raw_rates(self) -> dict[str, float | None]:
        """Selection -> passing BXs / evaluated BXs x 3564 x orbit rate, kHz (None: no BX).

        No interval: a reused zero-bias event is counted once per crossing it
        fills, so the crossings are not independent trials (the zero-bias rate
        carries the interval).
        """
        if self.n_bx == 0:
            return dict.fromkeys(self.selections)
        crossing = ORBIT_BX * ORBIT_RATE_KHZ
        return {n: self.raw_pass[n] / self.n_bx * crossing for n in self.selections}

    def overlaps(self) -> dict[tuple[str, str], MeasuredRate | None]:
        """(a, b) -> the rate of zero-bias events both accept, every pair a before b in menu order."""
        zb = self._zb()
        out = {}
        for i, a in enumerate(self.selections):
            for b in self.selections[i + 1 :]:
                both = self._bit(a) | self._bit(b)
                out[a, b] = self._zb_rate(int(np.count_nonzero((zb & both) == both)), zb.size)
        return out

    def pure_rates(self) -> dict[str, MeasuredRate | None]:
        """Selection -> the rate of zero-bias events it accepts and no other selection does."""
        zb = self._zb()
        return {
            n: self._zb_rate(int(np.count_nonzero(zb == self._bit(n))), zb.size)
            for n in self.selections
        }

    def efficiencies(self) -> dict[tuple[str, str], Efficiency]:
        """(selection, signal) -> accepted / injected distinct events of that signal."""
        ev = self.events
        out = {}
        for s in self.signals:
            bits = ev.bits[(ev.sample == s) & ev.injected]
            for n in self.selections:
                k = int(np.count_nonzero(bits & self._bit(n)))
                out[n, s] = efficiency(k, bits.size, self.cl)
        return out

    # ------------------------------------------------------------ output

    def summary(self) -> dict[str, Any]:
        """Every figure as plain JSON-able values (rates in kHz, intervals at :attr:`cl`)."""
        zb, raw, pure = self.zero_bias_rates(), self.raw_rates(), self.pure_rates()
        effs = self.efficiencies()
        per_orbit = self.n_orbits or 1
        return {
            "n_orbits": self.n_orbits,
            "n_bx": self.n_bx,
            "skipped_bx": self.skipped_bx,
            "n_zero_bias_events": self.n_zero_bias,
            "zero_bias": self.zero_bias,
            "cl": self.cl,
            "files": list(self.files),
            "bad_files": [{"file": f, "reason": r} for f, r in self.bad_files],
            "problems": dict(self.problems),
            "seconds_per_orbit": {k: v / per_orbit for k, v in self.seconds.items()},
            "selections": {
                n: {
                    "zero_bias_rate": _rate_dict(zb[n]),
                    "raw_rate_khz": raw[n],
                    "pure_rate": _rate_dict(pure[n]),
                    "raw_pass": self.raw_pass[n],
                    "efficiency": {s: _eff_dict(e) for (m, s), e in effs.items() if m == n},
                }
                for n in self.selections
            },
            "overlaps": [
                {"a": a, "b": b, "rate": _rate_dict(r)} for (a, b), r in self.overlaps().items()
            ],
            "menu": dict(self.menu),
        }

    def write(self, folder: Path | str) -> Path:
        """Write the result into *folder* (created) and return it.

        Files: ``menu.json`` (:meth:`summary`), ``selected.parquet``,
        ``events.parquet`` (the distinct truth events, one bool column per
        selection) and ``table_<selection>.parquet``.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)

        def parquet(name: str, columns: Mapping[str, np.ndarray]) -> None:
            table = pa.table({k: pa.array(v) for k, v in columns.items()})
            atomic_write(out / name, lambda f: pq.write_table(table, f))

        parquet("selected.parquet", self.selected)
        ev = self.events
        events = {"sample": ev.sample.astype(object), "event": ev.event, "injected": ev.injected}
        for i, n in enumerate(self.selections):
            events[n] = (ev.bits >> np.uint64(i)) & np.uint64(1) == 1
        parquet("events.parquet", events)
        for n, t in self.tables.items():
            parquet(f"table_{n}.parquet", t)
        text = json.dumps(self.summary(), indent=2, sort_keys=False, default=_json_default)
        atomic_write_bytes(out / "menu.json", (text + "\n").encode())
        return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


def _rows(table: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(table.values()))) if table else 0


def _empty_selected(names: Sequence[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {
        "orbit": np.zeros(0, np.int64),
        "bx": np.zeros(0, np.int16),
        "sample": np.zeros(0, object),
        "event": np.zeros(0, np.int64),
        "injected": np.zeros(0, np.bool_),
    }
    for n in names:
        out[n] = np.zeros(0, np.bool_)
    return out
