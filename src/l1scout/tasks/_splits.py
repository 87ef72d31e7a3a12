"""The check that every sample leaves at least one expected event in each split (shared by the task configs).

>>> check_split_sizes([200, 3], (0.6, 0.2, 0.2), "data.samples", "splits.fractions")
Traceback (most recent call last):
    ...
ValueError: data.samples[1].events: 3 events leave fewer than one expected in a split (splits.fractions [0.6, 0.2, 0.2])
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["check_split_sizes"]


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
