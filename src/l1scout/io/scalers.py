"""Input scalers that an FPGA can apply, with their constants saved as JSON.

:class:`PowerOfTwoRobustScaler` is the preprocessing of the CMS anomaly-detection
trigger AXOL1TL (``docs/physics/l1-algorithms.md``, "Input scaling"): per feature, the 5-95th
percentile range is mapped into [-2, 2] with an offset rounded to a fixed-point
step and a scale that is a power of two, so that the firmware applies it as
subtract-and-shift (no multiplier, no DSP). :class:`StandardScaler` is the
usual (x - mean) / std.

Both work on arrays of shape (..., F) (F features, any leading dimensions:
(n, 57) trigger inputs, (n, k, F) particle sets) and can leave entries out of
the fit:

* ``ignore`` (to ``fit``, ``transform``, ``inverse_transform``): a
  bool array of the shape of ``x``, or of ``x.shape[:-1]`` for whole rows (for
  a particle set, ``ignore=~mask``); True entries are not used by the fit.
* ``object_size`` (setting): the features are objects of ``object_size``
  features whose first is pT, as the 57 trigger inputs (``object_size=3``); an
  object with pT == 0 is padding and all its features are ignored
  (:func:`zero_pt_mask`).

What becomes of ignored entries in ``transform`` is the ``pad_value``
setting. The default ``None`` applies the same subtract-and-shift to every
entry, padded or not: that is what a firmware that scales every input without
a comparator does, so training sees exactly what the trigger computes, and a
padded object stays recognisable (its pT becomes the image of pT = 0, which no
real object has). ``pad_value=0.0`` writes exactly 0 into ignored entries
instead (the padding then looks like it did before scaling; in firmware this
costs a comparator on pT and a multiplexer per object). The public facts in
the reference do not say which of the two the AXOL1TL firmware does.

Example:
    >>> x = np.array([[10.0, 0.5], [30.0, -0.5], [50.0, 1.5], [0.0, 0.0]])
    >>> s = PowerOfTwoRobustScaler(quantiles=(0.0, 100.0)).fit(x, ignore=x[:, 0] == 0)
    >>> s.offset.tolist(), s.shift.tolist()
    ([30.0, 0.0], [-4, 0])
    >>> s.transform(x[:3]).tolist()
    [[-1.25, 0.5], [0.0, -0.5], [1.25, 1.5]]
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from l1scout._datafile import format_validation_error
from l1scout._files import atomic_write_bytes
from l1scout._types import F32, F64, I64, B
from l1scout.errors import ConfigError

__all__ = [
    "PowerOfTwoRobustScaler",
    "ScalerSettings",
    "StandardScaler",
    "power_of_two_shift",
    "zero_pt_mask",
]

_FORMAT_VERSION = 1
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def zero_pt_mask(x: npt.ArrayLike, object_size: int) -> B:
    """True for every feature of an object whose pT (its first feature) is 0.

    Args:
        x: array of shape (..., F), F a multiple of *object_size*.
        object_size: features per object (3 for the (pT, eta, phi) trigger inputs).

    Raises:
        ConfigError: F is not a multiple of *object_size*.

    >>> zero_pt_mask(np.array([[5.0, 1.0, 2.0, 0.0, 0.0, 0.0]]), 3).tolist()
    [[False, False, False, True, True, True]]
    """
    arr = np.asarray(x)
    n_feat = arr.shape[-1]
    if object_size < 1 or n_feat % object_size:
        msg = f"object_size: {n_feat} features are not objects of {object_size} features"
        raise ConfigError(msg)
    objects = arr.reshape(*arr.shape[:-1], n_feat // object_size, object_size)
    return np.repeat(objects[..., 0] == 0, object_size, axis=-1)


def power_of_two_shift(half_range: float, target: float = 2.0) -> int:
    """The largest n with ``half_range * 2**n <= target`` (0 for a zero range).

    The scale 2**n is the reciprocal of the divisor ``half_range / target``
    rounded up to a power of two, so ``half_range * 2**n`` lies in
    (target / 2, target].

    >>> power_of_two_shift(100.0), power_of_two_shift(1.0), power_of_two_shift(0.3)
    (-6, 1, 2)
    """
    if not half_range > 0:
        return 0
    shift = math.floor(math.log2(target / half_range))
    while math.ldexp(half_range, shift) > target:  # guard against log2 rounding
        shift -= 1
    while math.ldexp(half_range, shift + 1) <= target:
        shift += 1
    return shift


def _is_power_of_two(value: float) -> bool:
    mantissa, _ = math.frexp(value)
    return value > 0 and mantissa == 0.5


class ScalerSettings(BaseModel):
    """Settings shared by the scalers (see the module docstring).

    Attributes:
        object_size: features per object whose first is pT; pT == 0 objects are ignored.
        pad_value: the value of ignored entries after ``transform``
            (None: transformed like the others).
        feature_names: names of the F features, checked against the data's F.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    object_size: Annotated[int, Field(ge=1)] | None = None
    pad_value: FiniteFloat | None = None
    feature_names: tuple[str, ...] | None = None


def _ignore_mask(ignore: npt.ArrayLike, shape: tuple[int, ...]) -> B:
    """*ignore* (of *shape*, or of ``shape[:-1]`` for whole rows) as a bool array of *shape*.

    Raises:
        ConfigError: *ignore* has neither shape.
    """
    ign = np.asarray(ignore, dtype=np.bool_)
    if ign.shape == shape[:-1]:
        return np.broadcast_to(ign[..., None], shape)
    if ign.shape != shape:
        msg = f"ignore: expected shape {shape} or {shape[:-1]}, got {ign.shape}"
        raise ConfigError(msg)
    return ign


class _Scaler:
    """Shared machinery: the ignore mask, checks, JSON files."""

    kind: ClassVar[str]
    _file_model: ClassVar[type[BaseModel]]

    def __init__(
        self,
        *,
        object_size: int | None,
        pad_value: float | None,
        feature_names: tuple[str, ...] | None,
    ) -> None:
        try:
            self.settings = ScalerSettings(
                object_size=object_size,
                pad_value=pad_value,
                feature_names=None if feature_names is None else tuple(feature_names),
            )
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, type(self).__name__)) from exc
        except TypeError as exc:
            raise ConfigError(f"{type(self).__name__}: {exc}") from exc
        self._n_features: int | None = None

    # -- masks and shapes ----------------------------------------------------------------------

    def _rows(self, x: npt.ArrayLike, what: str) -> F64:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim < 1 or arr.shape[-1] < 1:
            msg = f"{what}: expected an array of shape (..., n_features), got shape {arr.shape}"
            raise ConfigError(msg)
        names = self.settings.feature_names
        if names is not None and arr.shape[-1] != len(names):
            msg = f"{what}: expected {len(names)} features ({names[0]}, ...), got {arr.shape[-1]}"
            raise ConfigError(msg)
        if self._n_features is not None and arr.shape[-1] != self._n_features:
            msg = (
                f"{what}: the scaler was fitted on {self._n_features} features, got {arr.shape[-1]}"
            )
            raise ConfigError(msg)
        return arr.reshape(-1, arr.shape[-1])

    def ignored(self, x: npt.ArrayLike, ignore: npt.ArrayLike | None = None) -> B:
        """The entries of *x* that the fit leaves out: *ignore* or'ed with the zero-pT rule.

        Returns:
            bool array of the shape of *x*.

        Raises:
            ConfigError: *ignore* has neither the shape of *x* nor ``x.shape[:-1]``.
        """
        arr = np.asarray(x)
        out = np.zeros(arr.shape, dtype=np.bool_)
        if ignore is not None:
            out |= _ignore_mask(ignore, arr.shape)
        if self.settings.object_size is not None:
            out |= zero_pt_mask(arr, self.settings.object_size)
        return out

    def _forward(self, x: F64) -> F64:
        raise NotImplementedError

    def _backward(self, y: F64) -> F64:
        raise NotImplementedError

    def _fit_rows(self, rows: F64, ignored: B) -> None:
        raise NotImplementedError

    def _require_fit(self, what: str) -> None:
        if self._n_features is None:
            msg = f"{type(self).__name__}.{what}: the scaler is not fitted; call fit() or load()"
            raise ConfigError(msg)

    # -- the scaler interface ------------------------------------------------------------------

    def fit(self, x: npt.ArrayLike, ignore: npt.ArrayLike | None = None) -> Self:
        """Fit the constants on *x* (shape (..., F)), leaving out the ignored entries.

        Returns:
            self.

        Raises:
            ConfigError: the shapes of *x* and *ignore* do not fit the settings.
        """
        self._n_features = None
        rows = self._rows(x, "fit")
        ignored = self.ignored(np.asarray(x), ignore).reshape(rows.shape)
        ignored |= ~np.isfinite(rows)
        self._fit_rows(rows, ignored)
        self._n_features = rows.shape[1]
        return self

    def transform(self, x: npt.ArrayLike, ignore: npt.ArrayLike | None = None) -> F32:
        """Scaled float32 copy of *x*; ignored entries become ``pad_value`` if it is set.

        Raises:
            ConfigError: not fitted, or the number of features differs.
        """
        self._require_fit("transform")
        arr = np.asarray(x)
        rows = self._rows(arr, "transform")
        out = self._forward(rows).reshape(arr.shape)
        if self.settings.pad_value is not None:
            out[self.ignored(arr, ignore)] = self.settings.pad_value
        return out.astype(np.float32)

    def inverse_transform(self, y: npt.ArrayLike, ignore: npt.ArrayLike | None = None) -> F32:
        """The inverse map as float32; the entries in *ignore* become 0 (the padding value).

        The zero-pT rule cannot be applied to scaled values: pass the mask of the
        original data (e.g. ``scaler.ignored(x)``) to get padded zeros back.

        Raises:
            ConfigError: not fitted, or the number of features differs.
        """
        self._require_fit("inverse_transform")
        arr = np.asarray(y)
        rows = self._rows(arr, "inverse_transform")
        out = self._backward(rows).reshape(arr.shape)
        if ignore is not None:
            out[_ignore_mask(ignore, arr.shape)] = 0.0
        return out.astype(np.float32)

    # -- files ---------------------------------------------------------------------------------

    def _constants(self) -> dict[str, Any]:
        raise NotImplementedError

    def _set_constants(self, data: Any) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The settings and constants as plain JSON-able data (what :meth:`save` writes)."""
        self._require_fit("save")
        return {
            "kind": self.kind,
            "version": _FORMAT_VERSION,
            **self.settings.model_dump(),
            **self._constants(),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the settings and constants to the JSON file *path*, atomically.

        Returns:
            The path written.

        Raises:
            ConfigError: not fitted.
        """
        text = json.dumps(self.to_dict(), indent=1) + "\n"
        return atomic_write_bytes(Path(path), text.encode())

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Self:
        """A fitted scaler from the data :meth:`to_dict` gives.

        Raises:
            ConfigError: the data does not validate; the message names each bad field.
        """
        try:
            model = cls._file_model.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, source)) from exc
        settings = {name: getattr(model, name) for name in ScalerSettings.model_fields}
        scaler = cls(**settings, **cls._file_options(model))
        scaler._set_constants(model)
        return scaler

    @classmethod
    def _file_options(cls, model: Any) -> dict[str, Any]:
        """The constructor arguments, other than the settings, stored in a file's *model*."""
        del model
        return {}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Read a scaler written by :meth:`save`.

        Raises:
            ConfigError: the file cannot be read, is not JSON, is another kind of
                scaler, or a field is malformed; the message names the file and field.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"{p}: cannot read the scaler file ({exc})"
            raise ConfigError(msg) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"{p}: not a valid JSON file: {exc}"
            raise ConfigError(msg) from exc
        return cls.from_dict(data, str(p))


def _same_lengths(model: BaseModel, fields: tuple[str, ...]) -> int:
    lengths = {f: len(getattr(model, f)) for f in fields}
    names = getattr(model, "feature_names", None)
    if names is not None:
        lengths["feature_names"] = len(names)
    if len(set(lengths.values())) != 1 or next(iter(lengths.values())) < 1:
        msg = (
            f"expected one value per feature in each of {', '.join(lengths)}, got lengths {lengths}"
        )
        raise ValueError(msg)
    n = next(iter(lengths.values()))
    size = getattr(model, "object_size", None)
    if size is not None and n % size:
        msg = f"object_size: {n} features are not objects of {size} features"
        raise ValueError(msg)
    return n


class _RobustFile(ScalerSettings):
    kind: Literal["PowerOfTwoRobustScaler"]
    version: Literal[1]
    quantiles: tuple[FiniteFloat, FiniteFloat]
    target: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    offset_lsb: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    offset: list[FiniteFloat]
    shift: list[Annotated[int, Field(ge=-1074, le=1023)]]
    low: list[FiniteFloat]
    high: list[FiniteFloat]
    counts: list[Annotated[int, Field(ge=0)]]

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_robust(self.quantiles, self.offset_lsb)
        _same_lengths(self, ("offset", "shift", "low", "high", "counts"))
        for i, off in enumerate(self.offset):
            if not (off / self.offset_lsb).is_integer():
                msg = f"offset[{i}] = {off!r} is not a multiple of offset_lsb = {self.offset_lsb!r}"
                raise ValueError(msg)
        return self


def _check_robust(quantiles: tuple[float, float], offset_lsb: float) -> None:
    lo, hi = quantiles
    if not 0 <= lo < hi <= 100:
        msg = f"quantiles: expected 0 <= low < high <= 100 (percent), got {quantiles!r}"
        raise ValueError(msg)
    if not _is_power_of_two(offset_lsb):
        msg = f"offset_lsb: expected a power of two (a fixed-point step), got {offset_lsb!r}"
        raise ValueError(msg)


class PowerOfTwoRobustScaler(_Scaler):
    """The AXOL1TL robust scaler: ``y = (x - offset) * 2**shift``, per feature.

    Fit, per feature, on the entries that are not ignored (nor NaN or infinite):

    1. ``low``, ``high`` = the ``quantiles`` percentiles (default 5 and 95,
       ``np.percentile``'s linear interpolation);
    2. ``offset`` = their midpoint rounded to the nearest multiple of
       ``offset_lsb`` (default 1: the nearest integer; halves to even), the
       fixed-point step of the firmware's inputs;
    3. ``shift`` = the largest integer n with
       ``max(high - offset, offset - low) * 2**n <= target`` (default 2): the
       divisor is rounded *up* to a power of two, so ``low`` and ``high`` map
       into [-target, target] and the farther of them beyond target / 2 (the
       tightest power of two: one more step would leave the range).

    The firmware applies it as subtract ``offset`` and shift by ``shift`` bits
    (left for n > 0, right for n < 0). A feature without entries, or with
    ``low == high``, gets ``shift = 0`` (and offset 0 without entries).

    Args:
        quantiles: the percentile range (percent) that maps into [-target, target].
        target: the half width of the image of the range (2 for [-2, 2]).
        offset_lsb: the rounding step of the offset, a power of two.
        object_size: see :class:`ScalerSettings`.
        pad_value: see :class:`ScalerSettings`.
        feature_names: see :class:`ScalerSettings`.

    Raises:
        ConfigError: a setting is invalid (the message names it).

    Attributes (after :meth:`fit` or :meth:`load`), float64 / int64 arrays of length F:
        offset, shift, scale (``2.0**shift``), low, high, counts (entries used).
    """

    kind: ClassVar[str] = "PowerOfTwoRobustScaler"
    _file_model: ClassVar[type[BaseModel]] = _RobustFile

    def __init__(
        self,
        *,
        quantiles: tuple[float, float] = (5.0, 95.0),
        target: float = 2.0,
        offset_lsb: float = 1.0,
        object_size: int | None = None,
        pad_value: float | None = None,
        feature_names: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(object_size=object_size, pad_value=pad_value, feature_names=feature_names)
        try:
            _check_robust((float(quantiles[0]), float(quantiles[1])), float(offset_lsb))
        except (ValueError, TypeError, IndexError) as exc:
            raise ConfigError(f"{type(self).__name__}: {exc}") from exc
        if not (math.isfinite(target) and target > 0):
            msg = f"{type(self).__name__}: target: expected a positive number, got {target!r}"
            raise ConfigError(msg)
        self.quantiles = (float(quantiles[0]), float(quantiles[1]))
        self.target = float(target)
        self.offset_lsb = float(offset_lsb)
        self.offset: F64 = np.zeros(0)
        self.shift: I64 = np.zeros(0, dtype=np.int64)
        self.low: F64 = np.zeros(0)
        self.high: F64 = np.zeros(0)
        self.counts: I64 = np.zeros(0, dtype=np.int64)

    @property
    def scale(self) -> F64:
        """The multiplier ``2.0**shift`` of every feature."""
        return np.ldexp(1.0, self.shift)

    def _fit_rows(self, rows: F64, ignored: B) -> None:
        n_feat = rows.shape[1]
        self.offset = np.zeros(n_feat)
        self.shift = np.zeros(n_feat, dtype=np.int64)
        self.low = np.zeros(n_feat)
        self.high = np.zeros(n_feat)
        self.counts = (~ignored).sum(axis=0).astype(np.int64)
        for j in range(n_feat):  # a loop over the features, not the events
            values = rows[~ignored[:, j], j]
            if values.size == 0:
                continue
            low, high = np.percentile(values, self.quantiles)
            offset = float(np.round((low + high) / 2 / self.offset_lsb)) * self.offset_lsb
            half = max(high - offset, offset - low)
            self.low[j], self.high[j], self.offset[j] = low, high, offset
            self.shift[j] = power_of_two_shift(float(half), self.target)

    def _forward(self, x: F64) -> F64:
        return np.ldexp(x - self.offset, self.shift)

    def _backward(self, y: F64) -> F64:
        return np.ldexp(y, -self.shift) + self.offset

    def _constants(self) -> dict[str, Any]:
        return {
            "quantiles": list(self.quantiles),
            "target": self.target,
            "offset_lsb": self.offset_lsb,
            "offset": self.offset.tolist(),
            "shift": self.shift.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "counts": self.counts.tolist(),
        }

    @classmethod
    def _file_options(cls, model: _RobustFile) -> dict[str, Any]:
        return {
            "quantiles": model.quantiles,
            "target": model.target,
            "offset_lsb": model.offset_lsb,
        }

    def _set_constants(self, data: _RobustFile) -> None:
        self.offset = np.asarray(data.offset, dtype=np.float64)
        self.shift = np.asarray(data.shift, dtype=np.int64)
        self.low = np.asarray(data.low, dtype=np.float64)
        self.high = np.asarray(data.high, dtype=np.float64)
        self.counts = np.asarray(data.counts, dtype=np.int64)
        self._n_features = len(self.offset)


class _StandardFile(ScalerSettings):
    kind: Literal["StandardScaler"]
    version: Literal[1]
    mean: list[FiniteFloat]
    std: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]]
    counts: list[Annotated[int, Field(ge=0)]]

    @model_validator(mode="after")
    def _check(self) -> Self:
        _same_lengths(self, ("mean", "std", "counts"))
        return self


class StandardScaler(_Scaler):
    """``y = (x - mean) / std`` per feature, fitted on the entries that are not ignored.

    ``std`` is the population standard deviation (ddof = 0); a feature without
    entries gets mean 0 and std 1, a constant feature std 1.

    Args:
        object_size: see :class:`ScalerSettings`.
        pad_value: see :class:`ScalerSettings`.
        feature_names: see :class:`ScalerSettings`.

    Attributes (after :meth:`fit` or :meth:`load`), arrays of length F:
        mean, std, counts (entries used).

    >>> s = StandardScaler().fit(np.array([[1.0], [3.0], [100.0]]), ignore=[False, False, True])
    >>> s.mean.tolist(), s.std.tolist(), s.transform(np.array([[5.0]])).tolist()
    ([2.0], [1.0], [[3.0]])
    """

    kind: ClassVar[str] = "StandardScaler"
    _file_model: ClassVar[type[BaseModel]] = _StandardFile

    def __init__(
        self,
        *,
        object_size: int | None = None,
        pad_value: float | None = None,
        feature_names: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(object_size=object_size, pad_value=pad_value, feature_names=feature_names)
        self.mean: F64 = np.zeros(0)
        self.std: F64 = np.ones(0)
        self.counts: I64 = np.zeros(0, dtype=np.int64)

    def _fit_rows(self, rows: F64, ignored: B) -> None:
        used = ~ignored
        self.counts = used.sum(axis=0).astype(np.int64)
        n = np.maximum(self.counts, 1)
        values = np.where(used, rows, 0.0)
        self.mean = values.sum(axis=0) / n
        dev = np.where(used, rows - self.mean, 0.0)
        std = np.sqrt((dev * dev).sum(axis=0) / n)
        self.std = np.where(std > 0, std, 1.0)

    def _forward(self, x: F64) -> F64:
        return np.asarray((x - self.mean) / self.std)

    def _backward(self, y: F64) -> F64:
        return np.asarray(y * self.std + self.mean)

    def _constants(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "counts": self.counts.tolist(),
        }

    def _set_constants(self, data: _StandardFile) -> None:
        self.mean = np.asarray(data.mean, dtype=np.float64)
        self.std = np.asarray(data.std, dtype=np.float64)
        self.counts = np.asarray(data.counts, dtype=np.int64)
        self._n_features = len(self.mean)
