"""Reading the 57 trigger inputs from files, with the stable splits of the anomaly task.

The arrays of :mod:`l1scout.tasks.anomaly.data` come from here: every event
of a set of files (l1scout files or COLLIDE-2V files, local) as the (n, 57)
float32 AXOL1TL inputs of a view (:func:`l1scout.io.trigger_inputs.trigger_inputs`),
in file order, with

* the zero-bias split (train / validation / test, default 65 / 20 / 15 %,
  :data:`DEFAULT_FRACTIONS`): :func:`l1scout.io.torchdata.split_of`, a stable
  hash of (file identity, ``Event_Number``), the row position where a file has
  no event number;
* the signal split (validation / test, default 50 / 50 %,
  :data:`DEFAULT_SIGNAL_FRACTIONS`): :func:`signal_split`, the same hash on
  the file identity salted with a seed.

Neither depends on the file order, the number of files or the machine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import awkward as ak
import numpy as np
import numpy.typing as npt

from l1scout._types import F32
from l1scout.errors import ConfigError
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.footer import DataFile
from l1scout.io.paths import Source
from l1scout.io.trigger_inputs import N_TRIGGER_INPUTS, trigger_input_columns, trigger_inputs

__all__ = [
    "DEFAULT_FRACTIONS",
    "DEFAULT_SIGNAL_FRACTIONS",
    "load_inputs",
    "load_split_inputs",
    "open_inputs",
    "signal_inputs",
    "signal_split",
    "split_inputs",
    "whole_inputs",
]

_log = logging.getLogger(__name__)

#: Train, validation and test fractions of the zero-bias sample.
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.65, 0.20, 0.15)
#: Validation and test fractions of every signal sample.
DEFAULT_SIGNAL_FRACTIONS: tuple[float, float] = (0.5, 0.5)

_EVENT_NUMBER = "Event_Number"


def open_inputs(source: Source, view: str) -> Dataset:
    """The local dataset of *source* with the trigger-input columns of *view* (and ``Event_Number``).

    Raises:
        ConfigError: no file found, the files lack a column, or *source* is not local.
    """
    ds = open_dataset(source, columns=list(trigger_input_columns(view)), hub=False)
    if not isinstance(ds, Dataset):  # hub=False: never a HubDataset
        msg = f"{source!r}: expected local files"
        raise ConfigError(msg)
    if all(_EVENT_NUMBER in f.physical for f in ds.files):
        ds = ds.with_columns([*ds.columns, _EVENT_NUMBER])
    else:
        _log.info("no %s in every file: splits use row positions", _EVENT_NUMBER)
    return ds


def _event_numbers(chunk: ak.Array, first: int) -> npt.NDArray[np.int64]:
    """``Event_Number`` of each event of *chunk*, else (or where empty) its row in the file."""
    rows = np.arange(first, first + len(chunk), dtype=np.int64)
    if _EVENT_NUMBER not in ak.fields(chunk):
        return rows
    numbers = ak.to_numpy(ak.fill_none(ak.firsts(chunk[_EVENT_NUMBER]), -1)).astype(np.int64)
    return np.where(numbers >= 0, numbers, rows)


def _chunks(ds: Dataset) -> Iterator[tuple[DataFile, int, ak.Array]]:
    """(file, row of the chunk's first event in the file, chunk) over the dataset, in file order."""
    for f in ds.files:
        first = 0
        for chunk in ds.iter_file(f):
            yield f, first, chunk
            first += len(chunk)


def _stack(parts: list[F32]) -> F32:
    return np.concatenate(parts) if parts else np.zeros((0, N_TRIGGER_INPUTS), np.float32)


def whole_inputs(ds: Dataset, view: str) -> F32:
    """The trigger inputs (n, 57) of every event of *ds*, in file order."""
    return _stack([trigger_inputs(chunk, view) for _, _, chunk in _chunks(ds)])


def split_inputs(
    ds: Dataset, view: str, fractions: Sequence[float]
) -> tuple[F32, npt.NDArray[np.int8]]:
    """The trigger inputs of every event of *ds* (file order) and each one's split (0, 1, 2)."""
    from l1scout.io.torchdata import split_of  # imports torch: on demand

    parts: list[F32] = []
    codes: list[npt.NDArray[np.int8]] = []
    for f, first, chunk in _chunks(ds):
        parts.append(trigger_inputs(chunk, view))
        codes.append(split_of(f.identity, _event_numbers(chunk, first), fractions))
    return _stack(parts), np.concatenate(codes) if codes else np.zeros(0, np.int8)


def signal_split(
    identity: str,
    numbers: npt.ArrayLike,
    fractions: Sequence[float] = DEFAULT_SIGNAL_FRACTIONS,
    seed: int = 0,
) -> npt.NDArray[np.bool_]:
    """True for the signal events of the validation part, False for the test part.

    :func:`l1scout.io.torchdata.split_of` with fractions ``(0, validation,
    test)`` on the file identity salted with the seed,
    ``"<identity>|signal-split|<seed>"``: a stable hash of (file, event
    number), the same on every machine and in every run, independent of the
    zero-bias split's.

    Args:
        identity: the file's identity (:attr:`l1scout.io.footer.DataFile.identity`).
        numbers: event numbers (or row positions) in the file.
        fractions: validation and test fractions, adding up to 1.
        seed: the salt.

    >>> part = signal_split("HH_4b:RS7", np.arange(10_000))
    >>> part.dtype.name, round(float(part.mean()), 1)
    ('bool', 0.5)
    >>> bool((part == signal_split("HH_4b:RS7", np.arange(10_000), seed=1)).all())
    False
    """
    from l1scout.io.torchdata import split_of  # imports torch: on demand

    val, test = (float(f) for f in fractions)
    codes = split_of(f"{identity}|signal-split|{int(seed)}", numbers, (0.0, val, test))
    return np.asarray(codes == 1)


def signal_inputs(
    ds: Dataset, view: str, fractions: Sequence[float], seed: int
) -> tuple[F32, npt.NDArray[np.bool_]]:
    """The trigger inputs of every event of a signal (file order) and whether each is validation."""
    parts: list[F32] = []
    flags: list[npt.NDArray[np.bool_]] = []
    for f, first, chunk in _chunks(ds):
        parts.append(trigger_inputs(chunk, view))
        flags.append(signal_split(f.identity, _event_numbers(chunk, first), fractions, seed))
    return _stack(parts), np.concatenate(flags) if flags else np.zeros(0, bool)


def load_inputs(source: Source, *, view: str = "L1T") -> F32:
    """The (n, 57) float32 trigger inputs of every event of existing files, in file order.

    Args:
        source: a file, a folder (searched recursively), a glob or a list of
            them: l1scout files, COLLIDE-2V files (local; no hub streaming).
        view: the view whose objects are read (its name, the column prefix).

    Raises:
        ConfigError: no file found, or the files lack a trigger-input column.
        DataFormatError: a file is corrupt, or only some files have a column.
    """
    return whole_inputs(open_inputs(source, view), view)


def load_split_inputs(
    source: Source, *, fractions: Sequence[float] = DEFAULT_FRACTIONS, view: str = "L1T"
) -> tuple[F32, F32, F32]:
    """Train, validation and test trigger inputs of existing files (the stable split of the module).

    Raises:
        ConfigError: bad *fractions*, or files as :func:`load_inputs`.
    """
    x, codes = split_inputs(open_inputs(source, view), view, fractions)
    return x[codes == 0], x[codes == 1], x[codes == 2]
