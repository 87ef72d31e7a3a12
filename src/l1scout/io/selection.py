"""Selection: which processes and which canonical columns a dataset reads.

The selections of :func:`l1scout.io.dataset.open_dataset` (and of
:class:`l1scout.io.hub.HubDataset`):

* ``processes``: a file belongs to a process named by its ``process``
  metadata, its ``<process>-NEVENT<n>-RS<seed>`` file name, or its folder
  (:func:`select_processes`).
* ``views``: detector views (``FullReco``, ``L1T``, a user's); the columns
  of other views are dropped, truth and event columns are kept.
* ``collections``: ``PUPPIPart`` (in every selected view), ``L1T_PUPPIPart``,
  ``Gen_Part``, ``Vertex``, ``Event``.
* ``columns``: canonical names or fnmatch globs (``L1T_MuonTight_*``); legacy
  names are translated.

With ``collections`` or ``columns`` the result is the union of both; without
them every column that all inputs have (:func:`common_columns`). An unknown
name is a :class:`~l1scout.errors.ConfigError` with the closest names
(:func:`did_you_mean`); a requested column that only some inputs have is a
:class:`~l1scout.errors.DataFormatError` naming them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.aliases import canonical_name, closest_names, column_collection, column_view
from l1scout.io.footer import DataFile

__all__ = [
    "common_columns",
    "did_you_mean",
    "name_list",
    "select_columns",
    "select_processes",
]


def name_list(value: str | Iterable[str] | None, what: str) -> list[str] | None:
    """*value* as a list of names (one str is one name); None stays None.

    Raises:
        ConfigError: an item that is not a str; the message starts with *what*.

    >>> name_list("L1T", "views"), name_list(("a", "b"), "columns"), name_list(None, "views")
    (['L1T'], ['a', 'b'], None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    out = list(value)
    for item in out:
        if not isinstance(item, str):
            msg = f"{what}: expected names (str), got {item!r}"
            raise ConfigError(msg)
    return out


def did_you_mean(suggestions: Sequence[str]) -> str:
    """The tail of an error message that offers *suggestions* (empty without any).

    >>> did_you_mean(["minbias"])
    "; did you mean 'minbias'?"
    """
    return f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""


def common_columns(
    members: Sequence[tuple[str, Mapping[str, str]]],
) -> tuple[list[str], dict[str, list[str]]]:
    """The columns every member has (first-seen order), and the others -> the members lacking them.

    A member is (label, canonical -> physical name): a file, or a hub process.
    """
    order = list(dict.fromkeys(c for _, cols in members for c in cols))
    lacking = {c: [label for label, cols in members if c not in cols] for c in order}
    common = [c for c in order if not lacking[c]]
    return common, {c: labels for c, labels in lacking.items() if labels}


def select_processes(files: list[DataFile], processes: Sequence[str]) -> list[DataFile]:
    """The *files* of the *processes* (a file's ``process`` or its folder name), in file order.

    Raises:
        ConfigError: a process that no file has (with the closest names).
    """
    known = list(dict.fromkeys(name for f in files for name in (f.process, f.folder)))
    for name in processes:
        if name not in known:
            msg = f"unknown process {name!r}{did_you_mean(closest_names(name, known))}"
            raise ConfigError(msg)
    wanted = set(processes)
    return [f for f in files if f.process in wanted or f.folder in wanted]


def _missing_from(name: str, partial: Mapping[str, Sequence[str]]) -> None:
    if name in partial:
        lacking = partial[name]
        shown = ", ".join(lacking[:5]) + (
            f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
        )
        msg = f"column {name!r} is missing from {len(lacking)} of the inputs: {shown}"
        raise DataFormatError(msg)


def select_columns(
    common: Sequence[str],
    *,
    views: Sequence[str] | None = None,
    collections: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    partial: Mapping[str, Sequence[str]] | None = None,
) -> tuple[str, ...]:
    """The canonical columns that a selection picks (see the module notes).

    Args:
        common: canonical columns that every file has, in file order.
        views: detector views to keep (truth/event columns stay).
        collections: collections, bare (``PUPPIPart``) or with view (``L1T_PUPPIPart``).
        columns: canonical or legacy names, fnmatch globs allowed.
        partial: columns that only some files have -> the files that lack them.

    Raises:
        ConfigError: an unknown view, collection or column (with the closest
            names), or a selection that leaves nothing.
        DataFormatError: a requested column that some files lack.

    >>> cols = ["Gen_Part_PT", "L1T_MuonTight_PT", "FullReco_MuonTight_PT", "Event_Number"]
    >>> select_columns(cols, views=["L1T"])
    ('Gen_Part_PT', 'L1T_MuonTight_PT', 'Event_Number')
    >>> select_columns(cols, collections=["MuonTight"], columns=["Event_*"])
    ('L1T_MuonTight_PT', 'FullReco_MuonTight_PT', 'Event_Number')
    """
    partial = partial or {}
    present_views = list(dict.fromkeys(v for c in common if (v := column_view(c)) is not None))
    if views is not None:
        for view in views:
            if view not in present_views:
                msg = (
                    f"unknown view {view!r}; the files have {present_views}"
                    f"{did_you_mean(closest_names(view, present_views))}"
                )
                raise ConfigError(msg)
    keep = [c for c in common if views is None or column_view(c) in (None, *views)]
    if collections is None and columns is None:
        chosen = set(keep)
    else:
        chosen = set()
        for coll in collections or ():
            chosen |= _pick(common, keep, coll, _in_collection(coll), "collection", partial)
        for pattern in columns or ():
            canon = canonical_name(pattern)
            chosen |= _pick(common, keep, pattern, _glob_test(canon), "column", partial)
    out = tuple(c for c in common if c in chosen)
    if not out:
        msg = "the selection leaves no column to read"
        raise ConfigError(msg)
    return out


def _glob_test(pattern: str) -> Callable[[str], bool]:
    def test(col: str) -> bool:
        return fnmatch.fnmatchcase(col, pattern)

    return test


def _in_collection(coll: str) -> Callable[[str], bool]:
    def test(col: str) -> bool:
        full = column_collection(col)
        view = column_view(col)
        return full == coll or (view is not None and full == f"{view}_{coll}")

    return test


def _pick(
    common: Sequence[str],
    keep: Sequence[str],
    name: str,
    test: Callable[[str], bool],
    what: str,
    partial: Mapping[str, Sequence[str]],
) -> set[str]:
    matches = [c for c in common if test(c)]
    if not matches:
        for col in partial:
            if test(col):
                _missing_from(col, partial)
        if what == "collection":
            pool = list(dict.fromkeys(column_collection(c) for c in common))
            pool += [column_collection(c).split("_", 1)[1] for c in common if column_view(c)]
        else:
            pool = list(common)
        msg = f"unknown {what} {name!r}{did_you_mean(closest_names(name, pool))}"
        raise ConfigError(msg)
    kept = {c for c in matches if c in keep}
    if not kept:
        msg = f"{what} {name!r} belongs to a view that the views selection leaves out"
        raise ConfigError(msg)
    return kept
