"""Pythia 8 as a source of event batches in flat numpy arrays.

:class:`PythiaSource` wraps one ``pythia8mc.Pythia`` instance configured from
the catalog (beams, tune, process settings) or from an LHE file, seeded for
reproducibility. Events come out through Pythia's awkward-array batch interface
(``Pythia.nextBatch``), one event per call so that the process code of every
event is recorded, and are flattened into :class:`RawEvents`.

Units are Pythia's: GeV for momenta and masses, mm for positions and mm/c for
times, mb for cross sections (converted to pb on output).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import F64, I32, I64
from l1scout.errors import ConfigError, GenerationError
from l1scout.processes.catalog import Catalog, ProcessSpec

__all__ = [
    "MAX_SEED",
    "PythiaSource",
    "RawEvents",
    "check_seed",
    "derive_seed",
    "lhe_settings",
    "process_settings",
]

_log = logging.getLogger(__name__)

#: Pythia's ``Random:seed`` accepts 1 ... 900,000,000 (0 means "seed from the clock").
MAX_SEED = 900_000_000

_QUIET = (
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Init:showProcesses = off",
    "Print:quiet = on",
)

MB_TO_PB = 1.0e9


def check_seed(seed: int, what: str = "seed") -> int:
    """Return *seed* if Pythia accepts it, else raise :class:`ConfigError`.

    >>> check_seed(42)
    42
    >>> check_seed(0)
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: seed must be an integer in [1, 900000000] (Pythia's range), got 0
    """
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 1 <= seed <= MAX_SEED
    ):
        msg = f"{what} must be an integer in [1, {MAX_SEED}] (Pythia's range), got {seed!r}"
        raise ConfigError(msg)
    return int(seed)


def derive_seed(seed: int, *stream: int) -> int:
    """A Pythia seed for a sub-stream of *seed*, deterministic and well mixed.

    Uses numpy's :class:`~numpy.random.SeedSequence` so that different streams
    (the pileup pool, its chunks) give unrelated random sequences.

    >>> derive_seed(7, 1) == derive_seed(7, 1) != derive_seed(7, 2)
    True
    """
    state = np.random.SeedSequence([seed, *stream]).generate_state(1, dtype=np.uint64)[0]
    return int(state % np.uint64(MAX_SEED)) + 1


def process_settings(
    catalog: Catalog, spec: ProcessSpec, tune: str | None = None
) -> tuple[str, ...]:
    """The full ordered Pythia settings of a catalog process: beams, tune, process."""
    return (*catalog.beams, *catalog.tune(tune).settings, *spec.settings)


def lhe_settings(catalog: Catalog, lhe: Path, tune: str | None = None) -> tuple[str, ...]:
    """Pythia settings to shower the events of a Les Houches Event file with the tune."""
    lhe = Path(lhe)
    if not lhe.is_file():
        msg = f"LHE file {str(lhe)!r} does not exist or is not a file"
        raise ConfigError(msg)
    beams = tuple(s for s in catalog.beams if not s.startswith("Beams:eCM"))
    return (
        *beams,
        "Beams:frameType = 4",
        f"Beams:LHEF = {lhe.resolve()}",
        *catalog.tune(tune).settings,
    )


@dataclass(frozen=True)
class RawEvents:
    """A batch of complete Pythia event records, flattened.

    Particle arrays hold every entry of every event's record except Pythia's
    entry 0 (the "system"); ``offsets[i]:offsets[i+1]`` is event i. Mother and
    daughter indices are Pythia's, shifted by one so they point into the same
    event's slice (``-1``: none), as Delphes stores them.
    """

    offsets: I64
    pid: I32
    status: I32
    mother1: I32
    mother2: I32
    daughter1: I32
    daughter2: I32
    px: F64
    py: F64
    pz: F64
    e: F64
    mass: F64
    vx: F64
    vy: F64
    vz: F64
    vt: F64
    # per event
    process_code: I32
    weight: F64
    id1: I32
    id2: I32
    x1: F64
    x2: F64
    pdf1: F64
    pdf2: F64
    alpha_s: F64
    alpha_em: F64
    q_ren: F64
    q_fac: F64
    sigma_pb: F64
    sigma_err_pb: F64

    @property
    def n_events(self) -> int:
        """Number of events in the batch."""
        return len(self.offsets) - 1


class PythiaSource:
    """One seeded, initialised Pythia instance that yields :class:`RawEvents`.

    Args:
        settings: Pythia ``readString`` lines, applied in order.
        seed: the random seed, 1 ... 900,000,000.
        label: a name for messages (the process).

    Raises:
        GenerationError: Pythia rejects a setting (the message names it) or fails
            to initialise.
    """

    _MAX_FAILURES = 100

    def __init__(self, settings: Sequence[str], seed: int, label: str = "process") -> None:
        import pythia8mc  # heavy import, deferred

        check_seed(seed)
        self.label = label
        self._pythia = pythia8mc.Pythia("", False)
        for line in (*_QUIET, *settings, "Random:setSeed = on", f"Random:seed = {seed}"):
            if not self._pythia.readString(line):
                msg = f"{label}: Pythia 8 does not accept the setting {line!r}"
                raise GenerationError(msg)
        if not self._pythia.init():
            msg = f"{label}: Pythia 8 failed to initialise (rerun with logging at DEBUG for its output)"
            raise GenerationError(msg)
        self.exhausted = False

    def charge_of(self, pids: npt.NDArray[np.int32]) -> npt.NDArray[np.int8]:
        """Electric charge (units of e) of each PDG id, from Pythia's particle table."""
        uniq, inverse = np.unique(pids, return_inverse=True)
        table = np.array(
            [round(self._pythia.particleData.charge(int(p))) for p in uniq], dtype=np.int8
        )
        return table[inverse].reshape(pids.shape)

    def cross_section_pb(self) -> tuple[float, float]:
        """Pythia's running estimate of the generated cross section and its error, in pb."""
        info = self._pythia.infoPython()  # a snapshot: fetch it anew each time
        return float(info.sigmaGen()) * MB_TO_PB, float(info.sigmaErr()) * MB_TO_PB

    def _one_batch(self, n: int) -> tuple[list[ak.Array], list[int], list[tuple[float, float]]]:
        batch = self._pythia.nextBatch(n)
        if len(batch) < n and self._pythia.infoPython().atEndOfFile():
            self.exhausted = True
        if len(batch) == 0:
            return [], [], []
        return [batch], [0] * len(batch), [self.cross_section_pb()] * len(batch)

    def _event_by_event(
        self, n: int
    ) -> tuple[list[ak.Array], list[int], list[tuple[float, float]]]:
        batches: list[ak.Array] = []
        codes: list[int] = []
        sigma: list[tuple[float, float]] = []
        failures = 0
        while len(batches) < n:
            batch = self._pythia.nextBatch(1)
            if len(batch) == 0:
                if self._pythia.infoPython().atEndOfFile():
                    self.exhausted = True
                    break
                failures += 1
                if failures > self._MAX_FAILURES:
                    msg = f"{self.label}: Pythia failed {failures} times in a row to make an event"
                    raise GenerationError(msg)
                continue
            failures = 0
            batches.append(batch)
            codes.append(int(self._pythia.infoPython().code()))
            sigma.append(self.cross_section_pb())
        return batches, codes, sigma

    def generate(self, n: int, per_event_info: bool = True) -> RawEvents:
        """Generate up to *n* events (fewer only when an LHE file runs out).

        With *per_event_info* (the default) Pythia is called once per event so
        that each event's process code and running cross section are recorded;
        without it, one batch call makes all *n* events (about twice as fast for
        minimum bias) and the process code is 0.
        """
        fetch = self._event_by_event if per_event_info else self._one_batch
        batches, codes, sigma = fetch(n)
        if not batches:
            return _empty_raw()
        arr = batches[0] if len(batches) == 1 else ak.concatenate(batches)
        prt = arr.prt[:, 1:]  # drop the "system" entry 0
        counts = ak.to_numpy(ak.num(prt)).astype(np.int64)
        offsets = offsets_from_counts(counts)

        def flat(x: ak.Array, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
            return np.asarray(ak.to_numpy(ak.flatten(x)), dtype=dtype)

        vprod = prt.vProd
        info = arr.info
        weights = info.weights
        weight = np.asarray(ak.to_numpy(ak.fill_none(ak.firsts(weights), 1.0)), dtype=np.float64)
        sig = np.asarray(sigma, dtype=np.float64).reshape(-1, 2)
        return RawEvents(
            offsets=offsets,
            pid=flat(prt.id, np.int32),
            status=flat(prt.status, np.int32),
            mother1=flat(prt.mother1, np.int32) - 1,
            mother2=flat(prt.mother2, np.int32) - 1,
            daughter1=flat(prt.daughter1, np.int32) - 1,
            daughter2=flat(prt.daughter2, np.int32) - 1,
            px=flat(prt.p.px, np.float64),
            py=flat(prt.p.py, np.float64),
            pz=flat(prt.p.pz, np.float64),
            e=flat(prt.p.e, np.float64),
            mass=flat(prt.m, np.float64),
            vx=flat(ak.fill_none(vprod.px, 0.0), np.float64),
            vy=flat(ak.fill_none(vprod.py, 0.0), np.float64),
            vz=flat(ak.fill_none(vprod.pz, 0.0), np.float64),
            vt=flat(ak.fill_none(vprod.e, 0.0), np.float64),
            process_code=np.asarray(codes, dtype=np.int32),
            weight=weight,
            id1=np.asarray(ak.to_numpy(info.id1), dtype=np.int32),
            id2=np.asarray(ak.to_numpy(info.id2), dtype=np.int32),
            x1=np.asarray(ak.to_numpy(info.x1), dtype=np.float64),
            x2=np.asarray(ak.to_numpy(info.x2), dtype=np.float64),
            pdf1=np.asarray(ak.to_numpy(info.pdf1), dtype=np.float64),
            pdf2=np.asarray(ak.to_numpy(info.pdf2), dtype=np.float64),
            alpha_s=np.asarray(ak.to_numpy(info.alphaS), dtype=np.float64),
            alpha_em=np.asarray(ak.to_numpy(info.alphaEM), dtype=np.float64),
            q_ren=np.sqrt(np.asarray(ak.to_numpy(info.Q2Ren), dtype=np.float64)),
            q_fac=np.sqrt(np.asarray(ak.to_numpy(info.Q2Fac), dtype=np.float64)),
            sigma_pb=sig[:, 0].copy(),
            sigma_err_pb=sig[:, 1].copy(),
        )


def _empty_raw() -> RawEvents:
    empty = {
        f.name: np.zeros(1 if f.name == "offsets" else 0, dtype=_EMPTY_DTYPES[str(f.type)])
        for f in dataclasses.fields(RawEvents)
    }
    return RawEvents(**empty)


_EMPTY_DTYPES = {"I64": np.int64, "I32": np.int32, "F64": np.float64}
