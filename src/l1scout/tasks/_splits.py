"""The task configs' ``[splits]`` table and the check that every sample leaves an event in each split.

>>> check_split_sizes([200, 3], (0.6, 0.2, 0.2), "data.samples", "splits.fractions")
Traceback (most recent call last):
    ...
ValueError: data.samples[1].events: 3 events leave fewer than one expected in a split (splits.fractions [0.6, 0.2, 0.2])
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["SplitsConfig", "check_split_sizes"]


class SplitsConfig(BaseModel):
    """Train / validation / test fractions, by a stable hash of (file identity, ``Event_Number``).

    :func:`l1scout.io.torchdata.split_of`: the same event is in the same split
    in every run, whatever the file order, and in every view of the same files.

    Attributes:
        fractions: train, validation and test fractions, positive, adding up to 1.

    >>> SplitsConfig(fractions=(0.6, 0.2, 0.2)).fractions
    (0.6, 0.2, 0.2)
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(f <= 0 for f in value) or abs(sum(value) - 1.0) > 1e-9:
            msg = f"expected three positive numbers (train, val, test) adding up to 1, got {list(value)}"
            raise ValueError(msg)
        return value


def check_split_sizes(
    events: Sequence[int], fractions: Sequence[float], field: str, fractions_field: str
) -> None:
    """Refuse a sample whose events times some split fraction is below one.

    Args:
        events: the events of each sample, in the order of the config list *field*.
        fractions: the split fractions (train, validation, test).
        field: the dotted path of the sample list, for the message.
        fractions_field: the dotted path of the fractions, for the message.

    Raises:
        ValueError: naming the first such sample (pydantic adds the file).
    """
    for i, n in enumerate(events):
        if any(n * f < 1 for f in fractions):
            msg = (
                f"{field}[{i}].events: {n} events leave fewer than one expected "
                f"in a split ({fractions_field} {list(fractions)})"
            )
            raise ValueError(msg)
