"""Checks of array arguments: one home for the 1-D numeric inputs of the kernels and metrics.

:func:`flat_array` turns an argument into a contiguous 1-D array of a numeric
dtype, optionally of a given length, and refuses NaN and infinities unless told
otherwise. Every refusal is a one-line :class:`~l1scout.errors.DataFormatError`
that starts with the argument's name: ``"{name}: expected ..."`` for a wrong
type, shape or length, ``"{name}: {k} NaN ... values ..."`` for bad values.

Example:
    >>> flat_array([1, 2.5], "pt").tolist()
    [1.0, 2.5]
    >>> flat_array([0.0, float("nan")], "eta")
    Traceback (most recent call last):
    ...
    l1scout.errors.DataFormatError: eta: 1 NaN or infinite values (of 2, first at index 1); expected finite numbers
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout.errors import DataFormatError

__all__ = ["flat_array"]


def flat_array(
    values: npt.ArrayLike,
    name: str,
    n: int | None = None,
    *,
    dtype: type[np.floating[Any]] | type[np.integer[Any]] = np.float64,
    allow_nan: bool = False,
    allow_inf: bool = False,
) -> npt.NDArray[Any]:
    """*values* as a contiguous 1-D array of *dtype* (of length *n* if given), checked.

    Args:
        values: the argument (a sequence or an array of numbers).
        name: the argument's name, the first word of every message.
        n: the required length (for a column of a batch: the last offset); ``None``: any.
        dtype: a float dtype (the default ``float64``; integers are converted)
            or an integer dtype (then the input must hold integers, not floats).
        allow_nan: accept NaN (float dtypes); by default a NaN is refused.
        allow_inf: accept +-inf (float dtypes); by default an infinity is refused.

    Returns:
        A contiguous array of shape ``(n,)`` and *dtype* (no copy when *values*
        already is one).

    Raises:
        DataFormatError: not numbers (strings, booleans, complex, ragged
            sequences), not 1-D, not of length *n*, or holding refused NaN or
            infinite values; the message starts with *name* and is one line.

    Examples:
        >>> flat_array([1.0, float("inf")], "score", 2, allow_inf=True).tolist()
        [1.0, inf]
        >>> flat_array([3, 4], "index", dtype=np.int64).dtype
        dtype('int64')
        >>> flat_array([1.0, 2.0], "pt", 3)
        Traceback (most recent call last):
        ...
        l1scout.errors.DataFormatError: pt: expected 3 values, got shape (2,)
        >>> flat_array([[1.0]], "pt")
        Traceback (most recent call last):
        ...
        l1scout.errors.DataFormatError: pt: expected a 1-D array, got shape (1, 1)
        >>> flat_array([float("nan")], "score", allow_inf=True)
        Traceback (most recent call last):
        ...
        l1scout.errors.DataFormatError: score: 1 NaN values (of 1, first at index 0); expected numbers
    """
    integer = np.issubdtype(dtype, np.integer)
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        msg = f"{name}: expected a 1-D array of numbers ({exc})"
        raise DataFormatError(msg) from exc
    kinds = "iu" if integer else "iuf"
    if raw.dtype.kind == "O" and not integer:
        try:
            raw = raw.astype(np.float64)
        except (TypeError, ValueError) as exc:
            msg = f"{name}: expected a 1-D array of numbers ({exc})"
            raise DataFormatError(msg) from exc
    if raw.dtype.kind not in kinds and raw.size > 0:
        what = "integers" if integer else "numbers"
        msg = f"{name}: expected {what}, got dtype {raw.dtype}"
        raise DataFormatError(msg)
    if n is None and raw.ndim != 1:
        msg = f"{name}: expected a 1-D array, got shape {raw.shape}"
        raise DataFormatError(msg)
    if n is not None and raw.shape != (n,):
        msg = f"{name}: expected {n} values, got shape {raw.shape}"
        raise DataFormatError(msg)
    arr: npt.NDArray[Any] = np.ascontiguousarray(raw, dtype=dtype)
    if integer or (allow_nan and allow_inf):
        return arr
    if allow_inf:
        bad, kind, expected = np.isnan(arr), "NaN", "numbers"
    elif allow_nan:
        bad, kind, expected = np.isinf(arr), "infinite", "finite numbers or NaN"
    else:
        bad, kind, expected = ~np.isfinite(arr), "NaN or infinite", "finite numbers"
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"{name}: {n_bad} {kind} values (of {arr.size}, first at index {first}); "
            f"expected {expected}"
        )
        raise DataFormatError(msg)
    return arr
