"""Pythia 8 as a source of event batches in flat numpy arrays.

:class:`PythiaSource` wraps one ``pythia8mc.Pythia`` instance configured from
the catalog (beams, tune, process settings) or from an LHE file, seeded for
reproducibility. Events come out through Pythia's awkward-array batch interface
(``Pythia.nextBatch``), one event per call so that the process code of every
event is recorded, and are flattened into :class:`RawEvents`.

Units are Pythia's: GeV for momenta and masses, mm for positions and mm/c for
times, mb for cross sections (converted to pb on output).

**Initialisation.** Pythia's initialisation integrates the multiparton-interaction
(MPI) cross sections, 5 to 25 s per instance (minimum bias: four diffractive
systems). Pythia can write those tables and read them back
(``MultipartonInteractions:reuseInit``, Pythia 8 manual, "Multiparton
Interactions"); :class:`PythiaSource` makes the tables of a set of settings once,
caches them beside the pileup pools (:func:`mpi_init_file`) and initialises every
instance from them in a fraction of a second. Tables read back are rounded to
six digits, so events are not bit-identical to those of an instance that
integrated its own tables, but always the same for the same settings and seed:
every instance, first or not, reads the cached file. The cached file ends
with a comment line that Pythia skips, ``! l1scout: sha256 <hex> of <n> bytes``,
over the tables above it; a file whose line is missing (truncated, or written
by an older l1scout) or does not match is made again, with a warning.

**LHE input.** :func:`lhe_settings` checks the Les Houches Event file first
(:func:`check_lhe_file`: not empty, ``<LesHouchesEvents``, an ``<init>`` block,
an ``<event>``; plain or gzipped), so that a bad file is named with what is
wrong before any work. When Pythia still fails to initialise and the logger
is at DEBUG, Pythia's own output of a second, verbose initialisation is
logged at DEBUG before the error.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gzip
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from l1scout._files import atomic_write_bytes, temporary_name
from l1scout._jagged import offsets_from_counts
from l1scout._types import F64, I32, I64
from l1scout.errors import ConfigError, GenerationError
from l1scout.generate._cache import cache_dir
from l1scout.processes.catalog import Catalog, ProcessSpec

__all__ = [
    "MAX_SEED",
    "PythiaSource",
    "RawEvents",
    "check_lhe_file",
    "check_seed",
    "derive_seed",
    "lhe_settings",
    "mpi_init_file",
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
)

MB_TO_PB = 1.0e9

#: Version of the cached MPI tables' key (bump when the way they are made changes).
MPI_INIT_FORMAT = 1


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


#: The tags an LHE file must have, in this order, before its first event ends the scan.
_LHE_TAGS = (
    (
        re.compile(rb"<LesHouchesEvents[\s>]"),
        "has no <LesHouchesEvents> tag: not a Les Houches Event file",
    ),
    (re.compile(rb"<init[\s>]"), "has no <init> block"),
    (re.compile(rb"</init\s*>"), "has an <init> block that never ends"),
    (re.compile(rb"<event[\s>]"), "holds no <event>"),
)
_GZIP_MAGIC = b"\x1f\x8b"


def check_lhe_file(path: Path) -> Path:
    r"""Return *path* if it looks like a Les Houches Event file Pythia can read, else raise.

    Checked, reading only up to the first ``<event>`` (so a large file costs
    its header): the file exists and is not empty; plain or gzipped (by its
    first bytes), it starts as XML, has ``<LesHouchesEvents``, an ``<init>``
    block that ends, then at least one ``<event>``.

    Raises:
        ConfigError: ``LHE file '<path>' <what is wrong>``.

    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "bad.lhe"
    >>> _ = bad.write_text('<LesHouchesEvents version="3.0">\n<event>\n</event>\n')
    >>> check_lhe_file(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: LHE file '...bad.lhe' has no <init> block; expected a Les Houches Event file (<LesHouchesEvents>, an <init> block, <event> blocks)
    """
    path = Path(path)
    why = _lhe_problem(path)
    if why is not None:
        msg = (
            f"LHE file {str(path)!r} {why}; expected a Les Houches Event file "
            "(<LesHouchesEvents>, an <init> block, <event> blocks)"
        )
        raise ConfigError(msg)
    return path


def _lhe_problem(path: Path) -> str | None:
    """What is wrong with the LHE file *path*, or None (see :func:`check_lhe_file`)."""
    if not path.is_file():
        return "does not exist or is not a file"
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
        if not magic:
            return "is empty"
        gzipped = magic == _GZIP_MAGIC
        with gzip.open(path, "rb") if gzipped else path.open("rb") as fh:
            return _scan_lhe(fh.read, gzipped=gzipped)
    except (OSError, EOFError, zlib.error) as exc:
        return f"cannot be read ({exc})"


def _scan_lhe(read: Callable[[int], bytes], *, gzipped: bool) -> str | None:
    """Scan a binary stream for the tags of :data:`_LHE_TAGS`, in order, 64 KiB at a time."""
    start = read(1 << 16)
    if not start.strip():
        return "is empty" + (" once decompressed" if gzipped else "")
    if not start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "is not XML (it does not start with '<')"
    found, window, chunk = 0, b"", start
    while chunk:
        window += chunk
        while found < len(_LHE_TAGS):
            match = _LHE_TAGS[found][0].search(window)
            if match is None:
                break
            window = window[match.end() :]
            found += 1
        if found == len(_LHE_TAGS):
            return None
        window = window[-32:]  # a tag cut by the chunk boundary is found with the next chunk
        chunk = read(1 << 16)
    return _LHE_TAGS[found][1]


def lhe_settings(catalog: Catalog, lhe: Path, tune: str | None = None) -> tuple[str, ...]:
    """Pythia settings to shower the events of a Les Houches Event file with the tune.

    Raises:
        ConfigError: the file is not a readable LHE file (:func:`check_lhe_file`).
    """
    lhe = check_lhe_file(Path(lhe))
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


def _lhe_of(settings: Sequence[str]) -> str | None:
    """The LHE file that *settings* read (``Beams:LHEF``), if any."""
    for line in settings:
        name, _, value = line.partition("=")
        if name.strip().lower() == "beams:lhef":
            return value.strip()
    return None


def _cacheable(settings: Sequence[str]) -> bool:
    """MPI tables are cached for beams given in the settings, not for LHE files (beams read from the file)."""
    compact = [s.replace(" ", "").lower() for s in settings]
    return not any(c.startswith(("beams:lhef", "beams:frametype=4")) for c in compact)


def _new_pythia(settings: Sequence[str], seed: int, label: str, *, quiet: bool = True) -> Any:
    import pythia8mc  # heavy import, deferred

    pythia = pythia8mc.Pythia("", False)
    shush = (*_QUIET, "Print:quiet = on") if quiet else _QUIET
    for line in (*shush, *settings, "Random:setSeed = on", f"Random:seed = {seed}"):
        if not pythia.readString(line):
            msg = f"{label}: Pythia 8 does not accept the setting {line!r}"
            raise GenerationError(msg)
    return pythia


@contextmanager
def _stdout_to_debug_log(label: str) -> Iterator[None]:
    """Log at DEBUG what is written meanwhile to file descriptor 1 (Pythia's ``std::cout``)."""
    sys.stdout.flush()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(1)
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            ctypes.CDLL(None).fflush(None)  # C++ streams write through C stdio
            os.dup2(saved, 1)
            os.close(saved)
        sink.seek(0)
        for line in sink.read().decode(errors="replace").splitlines():
            if line.strip():
                _log.debug("%s: Pythia: %s", label, line.strip())


def _initialised(pythia: Any, settings: Sequence[str], seed: int, label: str) -> bool:
    """``pythia.init()``; on failure at DEBUG, log the output of a verbose instance's init too.

    Pythia runs quiet (``Print:quiet``), so its reason for a failure is
    printed by a second instance of the same settings without it, and logged.
    """
    if pythia.init():
        return True
    if _log.isEnabledFor(logging.DEBUG):
        verbose = _new_pythia(settings, seed, label, quiet=False)
        with _stdout_to_debug_log(label):
            verbose.init()
    return False


def _debug_hint() -> str:
    """Where Pythia's own reason for a failed initialisation is (see :func:`_initialised`)."""
    if _log.isEnabledFor(logging.DEBUG):
        return "Pythia's own output is logged above at DEBUG"
    return "rerun with logging at DEBUG, `l1scout --verbose`, for Pythia's own output"


#: How the checksum line that ends a cached MPI tables file starts (a comment to Pythia).
_TABLES_MARK = b"! l1scout: sha256 "


def _tables_check_line(body: bytes) -> bytes:
    """The checksum line that ends a cached MPI tables file of *body*."""
    digest = hashlib.sha256(body).hexdigest().encode()
    return b"%s%s of %d bytes\n" % (_TABLES_MARK, digest, len(body))


def _tables_problem(path: Path) -> str | None:
    """What is wrong with the cached MPI tables *path* (None: complete and intact)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not data:
        return "are empty"
    at = data.rfind(_TABLES_MARK)
    if at < 0:
        return "have no l1scout checksum line (truncated, or written by an older l1scout)"
    if data[at:] != _tables_check_line(data[:at]):
        return "fail their checksum (truncated or damaged)"
    return None


def mpi_init_file(settings: Sequence[str], directory: Path | None = None) -> Path:
    """The cached MPI tables of *settings*, made now (one full initialisation) if missing or damaged.

    The file is named by a hash of the settings and the Pythia version, and
    written atomically (:func:`l1scout._files.atomic_write_bytes`), so
    concurrent jobs never read half a file. It ends with a checksum line
    (``! l1scout: sha256 <hex> of <n> bytes``, a comment to Pythia); a cached
    file without it or that fails it is made again, with a warning.

    Args:
        settings: Pythia settings without the seed (the tables do not depend on it).
        directory: where to cache (None: :func:`l1scout.generate.pileup.cache_dir`).

    Raises:
        ConfigError: the cache directory cannot be written.
        GenerationError: Pythia rejects a setting or fails to initialise.
    """
    import pythia8mc  # heavy import, deferred

    version = getattr(pythia8mc, "__version__", "")
    payload = json.dumps({"settings": list(settings), "pythia": version, "format": MPI_INIT_FORMAT})
    key = hashlib.sha256(payload.encode()).hexdigest()[:16]
    directory = directory or cache_dir()
    path = directory / f"pythia-mpi-init-{key}.cmnd"
    if path.is_file():
        why = _tables_problem(path)
        if why is None:
            return path
        _log.warning("Pythia's MPI tables %s %s; making them again", path, why)
    raw = temporary_name(directory / f"{path.stem}.raw")  # what Pythia writes
    try:
        directory.mkdir(parents=True, exist_ok=True)
        raw.unlink(missing_ok=True)
    except OSError as exc:
        msg = f"cannot write Pythia's MPI tables to {directory} ({exc.strerror or exc}); set L1SCOUT_CACHE_DIR"
        raise ConfigError(msg) from exc
    _log.info("integrating Pythia's MPI tables once for %s", path.name)
    lines = (
        *settings,
        "MultipartonInteractions:reuseInit = 3",
        f"MultipartonInteractions:initFile = {raw}",
    )
    try:
        ok = _initialised(_new_pythia(lines, 1, "MPI tables"), lines, 1, "MPI tables")
        body = raw.read_bytes() if ok and raw.is_file() else b""
        if not body:
            msg = f"Pythia 8 failed to initialise while making its MPI tables ({_debug_hint()})"
            raise GenerationError(msg)
        body += b"" if body.endswith(b"\n") else b"\n"
        atomic_write_bytes(path, body + _tables_check_line(body))
    except OSError as exc:
        msg = f"cannot write Pythia's MPI tables to {directory} ({exc.strerror or exc}); set L1SCOUT_CACHE_DIR"
        raise ConfigError(msg) from exc
    finally:
        raw.unlink(missing_ok=True)
    return path


class PythiaSource:
    """One seeded, initialised Pythia instance that yields :class:`RawEvents`.

    Args:
        settings: Pythia ``readString`` lines, applied in order.
        seed: the random seed, 1 ... 900,000,000.
        label: a name for messages (the process).
        reuse_init: initialise from the cached MPI tables (:func:`mpi_init_file`);
            False integrates them anew (the events then differ in their digits).

    Raises:
        GenerationError: Pythia rejects a setting (the message names it) or fails
            to initialise (the message names the LHE file, if any; at DEBUG,
            Pythia's own output is logged first).
    """

    _MAX_FAILURES = 100

    def __init__(
        self,
        settings: Sequence[str],
        seed: int,
        label: str = "process",
        *,
        reuse_init: bool = True,
    ) -> None:
        check_seed(seed)
        self.label = label
        init: tuple[str, ...] = ()
        if reuse_init and _cacheable(settings):
            tables = mpi_init_file(settings)
            init = (
                "MultipartonInteractions:reuseInit = 2",
                f"MultipartonInteractions:initFile = {tables}",
            )
        lines = (*settings, *init)
        self._pythia = _new_pythia(lines, seed, label)
        if not _initialised(self._pythia, lines, seed, label):
            lhe = _lhe_of(settings)
            source = f" from the LHE file {lhe}" if lhe else ""
            msg = f"{label}: Pythia 8 failed to initialise{source} ({_debug_hint()})"
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
        sig = np.asarray(sigma, dtype=np.float64).reshape(-1, 2)
        code = np.asarray(codes, dtype=np.int32)
        try:
            return _from_layouts(batches, code, sig)
        except _UnexpectedLayout:  # pragma: no cover - another pythia8mc layout
            return _from_awkward(batches, code, sig)


class _UnexpectedLayout(Exception):  # noqa: N818 - internal signal, never raised to users
    """A batch's awkward layout is not the one :func:`_from_layouts` reads."""


def _expect(layout: Any, kind: type) -> Any:
    if not isinstance(layout, kind):
        raise _UnexpectedLayout(type(layout).__name__)
    return layout


def _from_layouts(batches: Sequence[ak.Array], code: I32, sig: F64) -> RawEvents:
    """:class:`RawEvents` read straight from the batches' buffers (no awkward operations).

    Same values as :func:`_from_awkward`, about ten times faster for
    one-event batches; raises :class:`_UnexpectedLayout` on any other layout.
    """
    from awkward.contents import IndexedOptionArray, ListOffsetArray, NumpyArray, RecordArray

    def data(rec: Any, *path: str) -> npt.NDArray[Any]:
        node = rec
        for name in path:
            node = _expect(node, RecordArray).content(name)
        return np.asarray(_expect(node, NumpyArray).data)

    cols: dict[str, list[npt.NDArray[Any]]] = {}
    counts: list[npt.NDArray[np.int64]] = []

    def put(name: str, values: npt.NDArray[Any]) -> None:
        cols.setdefault(name, []).append(values)

    for batch in batches:
        top = _expect(batch.layout, RecordArray)
        prt = _expect(top.content("prt"), ListOffsetArray)
        off = np.asarray(prt.offsets.data, dtype=np.int64)
        n_ev = len(off) - 1
        if np.any(np.diff(off) < 1):
            raise _UnexpectedLayout("an event without its system entry")
        keep = np.ones(int(off[-1] - off[0]), dtype=np.bool_)
        keep[off[:-1] - off[0]] = False  # drop the "system" entry 0 of every event
        sel = off[0] + np.flatnonzero(keep)
        counts.append(np.diff(off) - 1)
        rec = prt.content
        for name in ("id", "status", "mother1", "mother2", "daughter1", "daughter2"):
            put(name, data(rec, name)[sel])
        for name in ("px", "py", "pz", "e"):
            put(name, data(rec, "p", name)[sel])
        put("m", data(rec, "m")[sel])
        vprod = _expect(_expect(rec, RecordArray).content("vProd"), IndexedOptionArray)
        index = np.asarray(vprod.index.data, dtype=np.int64)[sel]
        present = index >= 0
        safe = np.where(present, index, 0)
        for name in ("px", "py", "pz", "e"):
            values = data(vprod.content, name)
            put(f"v{name}", np.where(present, values[safe] if len(values) else 0.0, 0.0))
        info = _expect(top.content("info"), RecordArray)
        for name in (
            "id1",
            "id2",
            "x1",
            "x2",
            "pdf1",
            "pdf2",
            "alphaS",
            "alphaEM",
            "Q2Fac",
            "Q2Ren",
        ):
            put(name, data(info, name)[:n_ev])
        weights = _expect(info.content("weights"), ListOffsetArray)
        w_off = np.asarray(weights.offsets.data, dtype=np.int64)[: n_ev + 1]
        w_data = np.asarray(_expect(weights.content, NumpyArray).data, dtype=np.float64)
        has = np.diff(w_off) > 0
        put(
            "weight",
            np.where(has, w_data[np.where(has, w_off[:-1], 0)] if len(w_data) else 1.0, 1.0),
        )

    def cat(name: str, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        parts = cols[name]
        return np.asarray(parts[0] if len(parts) == 1 else np.concatenate(parts), dtype=dtype)

    return RawEvents(
        offsets=offsets_from_counts(np.concatenate(counts)),
        pid=cat("id", np.int32),
        status=cat("status", np.int32),
        mother1=cat("mother1", np.int32) - 1,
        mother2=cat("mother2", np.int32) - 1,
        daughter1=cat("daughter1", np.int32) - 1,
        daughter2=cat("daughter2", np.int32) - 1,
        px=cat("px", np.float64),
        py=cat("py", np.float64),
        pz=cat("pz", np.float64),
        e=cat("e", np.float64),
        mass=cat("m", np.float64),
        vx=cat("vpx", np.float64),
        vy=cat("vpy", np.float64),
        vz=cat("vpz", np.float64),
        vt=cat("ve", np.float64),
        process_code=code,
        weight=cat("weight", np.float64),
        id1=cat("id1", np.int32),
        id2=cat("id2", np.int32),
        x1=cat("x1", np.float64),
        x2=cat("x2", np.float64),
        pdf1=cat("pdf1", np.float64),
        pdf2=cat("pdf2", np.float64),
        alpha_s=cat("alphaS", np.float64),
        alpha_em=cat("alphaEM", np.float64),
        q_ren=np.sqrt(cat("Q2Ren", np.float64)),
        q_fac=np.sqrt(cat("Q2Fac", np.float64)),
        sigma_pb=sig[:, 0].copy(),
        sigma_err_pb=sig[:, 1].copy(),
    )


def _from_awkward(batches: Sequence[ak.Array], code: I32, sig: F64) -> RawEvents:
    """:class:`RawEvents` of the batches through awkward operations (the reference of :func:`_from_layouts`)."""
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
        process_code=code,
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
