"""Orbits from events: the Phase-2 filling scheme, zero bias in the filled crossings, injected signals, truth.

**Filling scheme** (:func:`filling_scheme`). An LHC orbit has 3564 slots of
25 ns (BX 0 ... 3563). The HL-LHC baseline fills 2760 of them per beam
(HL-LHC Technical Design Report, CERN-2020-010, table of parameters: 2760
bunches at 25 ns; its standard scheme ``25ns_2760b`` is made of 13 LHC
injections, a short first batch then SPS batches of two to four PS trains of
72 bunches). l1scout's ``"phase2"`` scheme has the same building blocks with
the gaps of the LHC Design Report (CERN-2004-003, vol. 1, ch. 2: 8 empty
slots between PS trains in an SPS batch, the SPS injection kicker's rise
time; 38 between LHC injections, the LHC injection kicker's; an abort gap of
at least 3 us, 120 slots, for the dump kicker's rise):

* BX 0-23: a 24-bunch first injection, then 38 empty slots;
* 12 SPS injections of 4, 3, 3, 3, 3, 3, 4, 3, 3, 3, 3, 3 trains of 72
  bunches (38 trains, 2736 bunches), trains 8 slots apart inside an
  injection, injections 38 slots apart;
* the abort gap: the last 140 slots, BX 3424-3563 (3.5 us).

So 24 + 2736 = **2760** filled BXs, all colliding at CMS, as the Phase-2 rate
normalisation counts them (31,038.96 kHz = 2760 x 11.246 kHz, CMS-TDR-021;
the machine's baseline leaves its 12-bunch first batch out of collisions at
IP1/5, 2748 colliding: the 24-bunch first batch here keeps the 2760).

**Injection** (:func:`plan_orbits`). Every filled BX holds a zero-bias event
(minimum bias at pileup 200) unless a signal is injected there. A signal of
cross section sigma is expected ``mu = sigma x L / f`` times per filled
crossing (:func:`expected_per_crossing`; ``L`` the instantaneous luminosity,
default 7.5e34 cm^-2 s^-1, the HL-LHC ultimate levelled value of the TDR;
``f`` the rate of filled crossings, 31,038.96 kHz); sigma is the
generator's, times the catalog's ``branching_fraction`` where it has one.
Each signal is placed in a filled BX with probability ``p = min(1, mu x
boost)``: one uniform draw per filled BX picks at most one signal (the
probabilities must add up to at most 1), so each signal fires with exactly
its ``p``. Each signal event is used at most once (a random order of the
sample; too few events is an error, never a silent reuse). Zero bias fills the
rest: a random order of the sample, again and again when an orbit needs more
crossings than the sample has events (2760 per orbit), so every event is used
as evenly as possible; the plan records how many distinct zero-bias events it
used and the reuse factor (crossings / distinct events). A rate measured on
the stream must count distinct events (the truth's ``event`` column), or the
reuse would fake statistics.

**Truth** (:func:`write_orbit_files`): beside every orbit file
``<stem>.l1sorb`` a Parquet sidecar ``<stem>.truth.parquet``, one row per filled
BX: ``orbit`` (int64), ``bx`` (int16), ``sample`` (the process), ``event``
(int64, the event's index in its sample's events: a distinct-event id),
``injected`` (bool, a signal placed by the builder).

Example:
    >>> filled = filling_scheme()
    >>> int(filled.sum()), bool(filled[0]), bool(filled[-1])
    (2760, True, False)
    >>> round(expected_per_crossing(0.18) * 1e10, 3)  # 0.18 pb at 7.5e34
    4.349
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from l1scout._files import atomic_write
from l1scout._jagged import offsets_from_counts
from l1scout._types import I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import segment_arange
from l1scout.tasks.rates import CROSSING_RATE_KHZ
from l1scout.tasks.scouting.encode import EncodedEvents
from l1scout.tasks.scouting.orbit_file import ORBIT_FILE_SUFFIX, OrbitWriter
from l1scout.tasks.scouting.words import FILLED_BX, MAX_ORBIT, ORBIT_BX, STREAMS, pack_stream

__all__ = [
    "DEFAULT_LUMI_CM2S",
    "FILLING_SCHEMES",
    "TRUTH_SUFFIX",
    "InjectedSignal",
    "OrbitPlan",
    "build_orbit",
    "expected_per_crossing",
    "filling_scheme",
    "plan_orbits",
    "read_truth",
    "truth_path",
    "write_orbit_files",
]

_log = logging.getLogger(__name__)

#: The default instantaneous luminosity (cm^-2 s^-1): HL-LHC ultimate levelled (CERN-2020-010).
DEFAULT_LUMI_CM2S = 7.5e34
#: The truth sidecar's suffix: ``<stem>.truth.parquet`` beside ``<stem>.l1sorb``.
TRUTH_SUFFIX = ".truth.parquet"
#: The filling schemes by name (module docstring).
FILLING_SCHEMES: tuple[str, ...] = ("phase2",)

_FIRST_BATCH = 24
_TRAIN = 72
_TRAINS_PER_INJECTION = (4, 3, 3, 3, 3, 3, 4, 3, 3, 3, 3, 3)
_TRAIN_GAP = 8
_INJECTION_GAP = 38
_MIN_ABORT_GAP = 120
_CM2_PER_PB = 1e-36
_TRUTH_SCHEMA = pa.schema(
    [
        ("orbit", pa.int64()),
        ("bx", pa.int16()),
        ("sample", pa.string()),
        ("event", pa.int64()),
        ("injected", pa.bool_()),
    ]
)


def filling_scheme(name: str = "phase2") -> npt.NDArray[np.bool_]:
    """The filled (colliding) BXs of an orbit: bool array of 3564 (module docstring).

    Raises:
        ConfigError: an unknown scheme.

    >>> f = filling_scheme()
    >>> int(f[:24].sum()), int(f[24:62].sum()), int(f[62:134].sum()), int((~f[-140:]).sum())
    (24, 0, 72, 140)
    """
    if name not in FILLING_SCHEMES:
        msg = f"filling scheme {name!r}: expected one of {', '.join(FILLING_SCHEMES)}"
        raise ConfigError(msg)
    filled = np.zeros(ORBIT_BX, dtype=bool)
    filled[:_FIRST_BATCH] = True
    at = _FIRST_BATCH
    for trains in _TRAINS_PER_INJECTION:
        at += _INJECTION_GAP
        for t in range(trains):
            at += _TRAIN_GAP if t else 0
            filled[at : at + _TRAIN] = True
            at += _TRAIN
    if int(filled.sum()) != FILLED_BX or ORBIT_BX - at < _MIN_ABORT_GAP:  # pragma: no cover
        msg = f"filling scheme {name!r}: {int(filled.sum())} bunches, abort gap {ORBIT_BX - at}"
        raise ConfigError(msg)
    return filled


def expected_per_crossing(
    sigma_pb: float,
    lumi_cm2s: float = DEFAULT_LUMI_CM2S,
    crossing_rate_khz: float = CROSSING_RATE_KHZ,
) -> float:
    """Expected signal events per filled crossing: ``sigma x L / f``.

    Args:
        sigma_pb: the cross section (pb; 1 pb = 1e-36 cm^2).
        lumi_cm2s: instantaneous luminosity (cm^-2 s^-1).
        crossing_rate_khz: filled crossings per second (kHz; default Phase-2's
            31,038.96, :data:`~l1scout.tasks.rates.CROSSING_RATE_KHZ`).

    Raises:
        ConfigError: a negative or non-finite cross section, a non-positive
            luminosity or crossing rate.

    >>> round(expected_per_crossing(1e9 * 80.0), 1)  # 80 mb of inelastic pp: about 193 per crossing
    193.3
    """
    values = {"sigma_pb": sigma_pb, "lumi_cm2s": lumi_cm2s, "crossing_rate_khz": crossing_rate_khz}
    for key, value in values.items():
        low_ok = value >= 0 if key == "sigma_pb" else value > 0
        if not (np.isfinite(value) and low_ok):
            msg = f"{key}: expected a finite {'non-negative' if key == 'sigma_pb' else 'positive'} number, got {value!r}"
            raise ConfigError(msg)
    return float(sigma_pb * _CM2_PER_PB * lumi_cm2s / (crossing_rate_khz * 1e3))


@dataclass(frozen=True)
class InjectedSignal:
    """A signal to inject: its sample size, cross section and boost.

    Attributes:
        process: the catalog process.
        n_events: events in its sample (each used at most once).
        sigma_pb: cross section (pb, branching fraction included).
        boost: factor over the physical injection rate.
    """

    process: str
    n_events: int
    sigma_pb: float
    boost: float = 1.0

    @classmethod
    def of(cls, events: EncodedEvents, boost: float = 1.0) -> InjectedSignal:
        """The signal of an encoded sample."""
        return cls(events.process, events.n_events, events.cross_section_pb, boost)


@dataclass(frozen=True, eq=False)
class OrbitPlan:
    """Which event goes in which BX of which orbit (module docstring).

    Attributes:
        first_orbit: the first orbit's number (orbits are numbered on from it).
        samples: the samples, zero bias first then the signals; ``source``
            indexes it.
        source: int8 (n_orbits, 3564): the sample of each BX, -1 empty.
        event: int32 (n_orbits, 3564): the event (index in its sample), -1 empty.
        filled: bool (3564): the filling scheme.
        probability: per signal, the injection probability per filled BX.
        expected: per signal, ``mu`` per filled crossing at the luminosity (no boost).
        zero_bias_events: events in the zero-bias sample.
        lumi_cm2s: the luminosity (cm^-2 s^-1).
        seed: the seed of the draws.
    """

    first_orbit: int
    samples: tuple[str, ...]
    source: npt.NDArray[np.int8]
    event: npt.NDArray[np.int32]
    filled: npt.NDArray[np.bool_]
    probability: tuple[float, ...]
    expected: tuple[float, ...]
    zero_bias_events: int
    lumi_cm2s: float
    seed: int

    @property
    def n_orbits(self) -> int:
        """Orbits of the plan."""
        return int(self.source.shape[0])

    @property
    def orbits(self) -> I64:
        """The orbit numbers."""
        return np.arange(self.first_orbit, self.first_orbit + self.n_orbits, dtype=np.int64)

    @property
    def injected(self) -> npt.NDArray[np.bool_]:
        """(n_orbits, 3564): a signal was placed there."""
        return self.source > 0

    @property
    def zero_bias_crossings(self) -> int:
        """Filled BXs holding zero bias, over all orbits."""
        return int((self.source == 0).sum())

    @property
    def distinct_zero_bias(self) -> int:
        """Distinct zero-bias events used."""
        return int(np.unique(self.event[self.source == 0]).size)

    @property
    def zero_bias_reuse(self) -> float:
        """Zero-bias crossings per distinct zero-bias event used (1.0: no reuse)."""
        distinct = self.distinct_zero_bias
        return self.zero_bias_crossings / distinct if distinct else 1.0

    def injections(self) -> dict[str, int]:
        """Signal BXs over all orbits, per signal."""
        return {name: int((self.source == k).sum()) for k, name in enumerate(self.samples) if k}

    def summary(self) -> dict[str, object]:
        """The plan's numbers for a report (JSON-serialisable)."""
        return {
            "n_orbits": self.n_orbits,
            "first_orbit": self.first_orbit,
            "lumi_cm2s": self.lumi_cm2s,
            "seed": self.seed,
            "zero_bias": self.samples[0],
            "zero_bias_events": self.zero_bias_events,
            "zero_bias_crossings": self.zero_bias_crossings,
            "distinct_zero_bias": self.distinct_zero_bias,
            "zero_bias_reuse": self.zero_bias_reuse,
            "signals": {
                name: {
                    "expected_per_crossing": self.expected[k - 1],
                    "probability": self.probability[k - 1],
                    "injected": int((self.source == k).sum()),
                }
                for k, name in enumerate(self.samples)
                if k
            },
        }


def _check_int(name: str, value: int, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        msg = f"{name}: expected an integer in [{lo:,}, {hi:,}], got {value!r}"
        raise ConfigError(msg)
    return int(value)


def plan_orbits(
    n_orbits: int,
    zero_bias_events: int,
    signals: Sequence[InjectedSignal] = (),
    *,
    seed: int,
    lumi_cm2s: float = DEFAULT_LUMI_CM2S,
    first_orbit: int = 1,
    filling: str = "phase2",
    zero_bias: str = "minbias",
) -> OrbitPlan:
    """Draw the events of *n_orbits* orbits (module docstring: injection and zero-bias reuse).

    Args:
        n_orbits: orbits to plan.
        zero_bias_events: events in the zero-bias sample (reused as needed).
        signals: the signals to inject, in order (their sample index is 1, 2, ...).
        seed: seed of ``numpy.random.default_rng``: the same arguments give the same plan.
        lumi_cm2s: instantaneous luminosity (cm^-2 s^-1).
        first_orbit: the first orbit's number (>= 1).
        filling: the filling scheme (:func:`filling_scheme`).
        zero_bias: the zero-bias process's name (the truth's ``sample``).

    Raises:
        ConfigError: bad numbers, injection probabilities adding up to more
            than 1, or a signal injected more often than its sample has events
            (the message names it: more events or a smaller boost).
    """
    n_orbits = _check_int("n_orbits", n_orbits, 1, MAX_ORBIT)
    first_orbit = _check_int("first_orbit", first_orbit, 1, MAX_ORBIT - n_orbits + 1)
    n_zb = _check_int("zero_bias_events", zero_bias_events, 1, 2**31 - 1)
    if len(signals) > 126:
        msg = f"signals: at most 126 signals, got {len(signals)}"
        raise ConfigError(msg)
    filled = filling_scheme(filling)
    expected = tuple(expected_per_crossing(s.sigma_pb, lumi_cm2s) for s in signals)
    prob = tuple(min(1.0, mu * s.boost) for mu, s in zip(expected, signals, strict=True))
    if sum(prob) > 1.0 + 1e-12:
        listing = ", ".join(f"{s.process} {p:.3g}" for s, p in zip(signals, prob, strict=True))
        msg = f"signals: injection probabilities per crossing add up to {sum(prob):.3g} > 1 ({listing}); lower the boosts"
        raise ConfigError(msg)
    rng = np.random.default_rng(seed)
    n_filled = int(filled.sum())
    u = rng.random((n_orbits, n_filled))
    kind = np.searchsorted(np.cumsum(prob), u, side="right") + 1  # 1..S: signal, S+1: none
    kind[kind > len(signals)] = 0
    src = np.full((n_orbits, ORBIT_BX), -1, dtype=np.int8)
    evt = np.full((n_orbits, ORBIT_BX), -1, dtype=np.int32)
    src[:, filled] = kind
    picked = np.zeros((n_orbits, n_filled), dtype=np.int64)
    for k, sig in enumerate(signals, start=1):
        where = kind == k
        need = int(where.sum())
        if need > sig.n_events:
            msg = (
                f"signal {sig.process}: {n_orbits:,} orbits inject it {need:,} times "
                f"(p = {prob[k - 1]:.3g} per filled crossing) but its sample has {sig.n_events:,} "
                "events, each used at most once: more events or a smaller boost"
            )
            raise ConfigError(msg)
        picked[where] = rng.permutation(sig.n_events)[:need]
    where = kind == 0
    need = int(where.sum())
    passes = -(-need // n_zb)
    order = [rng.permutation(n_zb) for _ in range(passes)]
    picked[where] = np.concatenate([np.zeros(0, np.int64), *order])[:need]
    evt[:, filled] = picked.astype(np.int32)
    names = (zero_bias, *(s.process for s in signals))
    if len(set(names)) != len(names):
        msg = f"samples {list(names)}: expected distinct names"
        raise ConfigError(msg)
    plan = OrbitPlan(
        first_orbit=first_orbit,
        samples=names,
        source=src,
        event=evt,
        filled=filled,
        probability=prob,
        expected=expected,
        zero_bias_events=n_zb,
        lumi_cm2s=float(lumi_cm2s),
        seed=int(seed),
    )
    _log.info(
        "orbit plan: %d orbits, %d zero-bias crossings from %d distinct events (reuse x%.2f), "
        "injected %s",
        n_orbits,
        plan.zero_bias_crossings,
        plan.distinct_zero_bias,
        plan.zero_bias_reuse,
        plan.injections(),
    )
    return plan


def _check_encoded(plan: OrbitPlan, encoded: Sequence[EncodedEvents]) -> None:
    names = tuple(e.process for e in encoded)
    if names != plan.samples:
        msg = f"encoded samples {list(names)}: expected the plan's {list(plan.samples)}, in order"
        raise ConfigError(msg)
    for k, enc in enumerate(encoded):
        used = plan.event[plan.source == k]
        if used.size and int(used.max()) >= enc.n_events:
            msg = f"sample {enc.process}: the plan uses event {int(used.max())}, the sample has {enc.n_events}"
            raise ConfigError(msg)


def build_orbit(
    plan: OrbitPlan, i: int, encoded: Sequence[EncodedEvents], run: int
) -> dict[str, npt.NDArray[np.uint64]]:
    """The words of orbit *i* of *plan* (0-based), stream by stream: every BX a header, then its words.

    Args:
        plan: the plan.
        i: the orbit's index in the plan (its number is ``plan.first_orbit + i``).
        encoded: the samples' words, in the plan's sample order.
        run: the run number in the headers.

    Raises:
        ConfigError: *i* out of range, or samples that are not the plan's.
    """
    _check_int("orbit index", i, 0, plan.n_orbits - 1)
    _check_encoded(plan, encoded)
    return _build_orbit(plan, i, encoded, run)


def _build_orbit(
    plan: OrbitPlan, i: int, encoded: Sequence[EncodedEvents], run: int
) -> dict[str, npt.NDArray[np.uint64]]:
    """:func:`build_orbit` without its checks (the caller made them once for every orbit)."""
    src, evt = plan.source[i], plan.event[i]
    orbit = plan.first_orbit + i
    # the BXs each sample fills (the same for every stream)
    filled = [(np.flatnonzero(src == k), enc) for k, enc in enumerate(encoded)]
    filled = [(bx, enc) for bx, enc in filled if bx.size]
    out: dict[str, npt.NDArray[np.uint64]] = {}
    for stream in STREAMS:
        counts = np.zeros(ORBIT_BX, dtype=np.int64)
        for bx, enc in filled:
            counts[bx] = enc.counts(stream)[evt[bx]]
        starts = offsets_from_counts(counts)[:-1]
        payload = np.empty(int(counts.sum()), dtype=np.uint64)
        for bx, enc in filled:
            c = counts[bx]
            dest = segment_arange(starts[bx], c)
            off = enc.offsets[stream]
            payload[dest] = enc.words[stream][segment_arange(off[evt[bx].astype(np.int64)], c)]
        out[stream] = pack_stream(counts, payload, orbit, run)
    return out


def truth_path(orbit_file: Path | str) -> Path:
    """The truth sidecar of an orbit file: ``<stem>.truth.parquet`` beside it.

    >>> truth_path("out/orbits-000001.l1sorb").as_posix()
    'out/orbits-000001.truth.parquet'
    """
    p = Path(orbit_file)
    return p.with_name(p.name.removesuffix(ORBIT_FILE_SUFFIX) + TRUTH_SUFFIX)


def _truth_table(plan: OrbitPlan, orbits: range) -> pa.Table:
    idx = np.asarray(orbits, dtype=np.int64)
    src = plan.source[idx]
    o, bx = np.nonzero(src >= 0)
    k = src[o, bx]
    names = pa.array(plan.samples, type=pa.string())
    return pa.table(
        {
            "orbit": pa.array(plan.first_orbit + idx[o], type=pa.int64()),
            "bx": pa.array(bx.astype(np.int16), type=pa.int16()),
            "sample": names.take(pa.array(k.astype(np.int64))),
            "event": pa.array(plan.event[idx[o], bx].astype(np.int64), type=pa.int64()),
            "injected": pa.array(k > 0, type=pa.bool_()),
        },
        schema=_TRUTH_SCHEMA,
    )


def _write_truth(path: Path, table: pa.Table) -> None:
    """*table* as Parquet at *path*, atomically (a killed run leaves no sidecar)."""

    def write(fh: BinaryIO) -> None:
        pq.write_table(table, fh)

    atomic_write(path, write)


def write_orbit_files(
    plan: OrbitPlan,
    encoded: Sequence[EncodedEvents],
    folder: Path | str,
    orbits_per_file: int,
    run: int,
    *,
    stem: str = "orbits",
    meta: Mapping[str, object] | None = None,
) -> list[Path]:
    """Write the plan's orbits as ``<stem>-<first orbit, 6 digits>.l1sorb`` files, each with its truth sidecar.

    Each file holds *orbits_per_file* consecutive orbits (the last fewer), is
    written through :class:`~l1scout.tasks.scouting.orbit_file.OrbitWriter`
    (atomic) with the plan's summary and *meta* in its trailer; its sidecar
    (:func:`truth_path`) is written atomically after it.

    Returns:
        The orbit files, in orbit order.

    Raises:
        ConfigError: bad numbers, or samples that are not the plan's.
    """
    _check_int("orbits_per_file", orbits_per_file, 1, MAX_ORBIT)
    _check_encoded(plan, encoded)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    trailer = {"plan": plan.summary(), **dict(meta or {})}
    paths: list[Path] = []
    for first in range(0, plan.n_orbits, orbits_per_file):
        chunk = range(first, min(first + orbits_per_file, plan.n_orbits))
        path = folder / f"{stem}-{plan.first_orbit + first:06d}{ORBIT_FILE_SUFFIX}"
        with OrbitWriter(path, run=run, meta=trailer) as writer:
            for i in chunk:
                writer.write_orbit(plan.first_orbit + i, _build_orbit(plan, i, encoded, run))
        _write_truth(truth_path(path), _truth_table(plan, chunk))
        paths.append(path)
    _log.info("%d orbits in %d files in %s", plan.n_orbits, len(paths), folder)
    return paths


def read_truth(path: Path | str) -> pa.Table:
    """The truth sidecar of an orbit file (give either the ``.l1sorb`` or the ``.truth.parquet`` path).

    Raises:
        DataFormatError: no sidecar, or not one (columns or types differ from the module docstring's).
    """
    p = Path(path)
    if p.name.endswith(ORBIT_FILE_SUFFIX):
        p = truth_path(p)
    if not p.is_file():
        msg = f"{p}: no truth sidecar (expected beside the orbit file)"
        raise DataFormatError(msg)
    try:
        table = pq.read_table(p)
    except (OSError, pa.ArrowInvalid) as exc:
        msg = f"{p}: not a Parquet truth sidecar ({exc})"
        raise DataFormatError(msg) from None
    if not table.schema.equals(_TRUTH_SCHEMA, check_metadata=False):
        msg = f"{p}: truth columns {table.schema.names} ({', '.join(str(t) for t in table.schema.types)}): expected orbit int64, bx int16, sample string, event int64, injected bool"
        raise DataFormatError(msg)
    return table
