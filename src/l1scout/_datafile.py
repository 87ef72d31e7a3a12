"""Load a TOML data file into a closed pydantic model, with errors that name the field.

Data files (the process catalog, detector cards, plans, task configurations)
are parsed by :mod:`tomllib` and validated by pydantic models with
``extra="forbid"``; no value is ever evaluated as code. A validation failure
becomes the caller's error class with the file, the dotted path to the bad
field and what was expected (:func:`format_validation_error`).

Numbers and booleans are strict (:func:`validate_data`): pydantic's lax mode
would read ``pileup = "3.8"`` as 3.8 and ``firmware = "yes"`` as true, so a
value written as a string where the field holds a number or a boolean is
refused, naming the field; so is ``nan`` (TOML has it; no field means it:
``inf`` stays valid, as the open last edge of a bin table). A TOML integer is
still a valid float (``pileup = 200``), and strings still give paths, names and
choices.

Example:
    >>> from pydantic import BaseModel
    >>> class Card(BaseModel):
    ...     pileup: float
    ...     views: tuple[str, ...] = ()
    >>> validate_data({"pileup": 200, "views": ["L1T"]}, Card, "card.toml")
    Card(pileup=200.0, views=('L1T',))
    >>> validate_data({"pileup": "3.8"}, Card, "card.toml")
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: card.toml: pileup: expected a number, got the string '3.8'
    >>> validate_data({"pileup": float("nan")}, Card, "card.toml")
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: card.toml: pileup: expected a number, got nan
"""

from __future__ import annotations

import copy
import enum
import math
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from l1scout.errors import ConfigError

__all__ = [
    "deep_update",
    "format_validation_error",
    "load_toml_model",
    "path_beside",
    "read_toml",
    "validate_data",
]

M = TypeVar("M", bound=BaseModel)


def _loc_to_path(loc: tuple[int | str, ...], data: object = None) -> str:
    """The dotted path of *loc*; with the input *data*, a union's tag is left out.

    Pydantic puts the tag of a tagged union in the location (``models[0].vae.beta``
    for ``kind = "vae"``); the path a user reads in the file is ``models[0].beta``.
    """
    out = ""
    here = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            here = here[part] if isinstance(here, list | tuple) and 0 <= part < len(here) else None
            continue
        if isinstance(here, Mapping) and part not in here and part in here.values():
            continue  # the tag of a tagged union: the value of a key, not a field
        out += f".{part}" if out else str(part)
        here = here.get(part) if isinstance(here, Mapping) else None
    return out or "<top level>"


def _shadowed(item: Mapping[str, Any]) -> bool:
    """A "too short after validation" error that only counts the entries that failed.

    Pydantic checks ``min_length`` of a list after validating its entries and
    counts only the valid ones: one bad entry of a one-entry list also reports
    "at least 1 item", which is false (the entry is reported on its own line).
    """
    if item["type"] != "too_short":
        return False
    given, least = item.get("input"), item.get("ctx", {}).get("min_length")
    return (
        isinstance(given, list | tuple | Mapping) and isinstance(least, int) and len(given) >= least
    )


def format_validation_error(err: ValidationError, source: str, data: object = None) -> str:
    """Render a pydantic error as one line per bad field: ``source: field.path: what was expected``.

    Args:
        err: the error.
        source: what the lines start with (a file name, ``options``).
        data: the input that was validated, if at hand: the paths then leave
            out the tags of tagged unions (``models[0].beta``).
    """
    lines = []
    for item in err.errors():
        if _shadowed(item):
            continue
        where = _loc_to_path(tuple(item["loc"]), data)
        got = item.get("input")
        text = str(item["msg"]).removeprefix("Value error, ")
        said = repr(got) in text or (isinstance(got, str) and bool(got) and got in text)
        shown = f" (got {got!r})" if not isinstance(got, dict | list | None) and not said else ""
        lines.append(
            f"{source}: {text}" if not item["loc"] else f"{source}: {where}: {text}{shown}"
        )
    return "\n".join(lines)


def _not_number(raw: object, value: object) -> str | None:
    """What is wrong when lax validation turned *raw* into *value*, or None."""
    if isinstance(value, enum.Enum) or not isinstance(value, int | float):
        return None
    if isinstance(value, bool):
        if isinstance(raw, str):
            return f"expected true or false, got the string {raw!r}"
        return None if isinstance(raw, bool) else f"expected true or false, got {raw!r}"
    if isinstance(raw, str):
        return f"expected a number, got the string {raw!r}"
    if isinstance(raw, bool):
        return f"expected a number, got {str(raw).lower()}"
    return None


def _loose_values(raw: object, value: object, loc: tuple[int | str, ...]) -> Iterator[str]:
    """``path: problem`` for every number or boolean of *value* that *raw* gave as text."""
    problem = _not_number(raw, value)
    if problem is not None:
        yield f"{_loc_to_path(loc)}: {problem}"
    elif isinstance(raw, Mapping) and isinstance(value, BaseModel):
        fields = type(value).model_fields
        names = {field.alias or name: name for name, field in fields.items()}
        for key, item in raw.items():
            if key in names:
                yield from _loose_values(item, getattr(value, names[key], None), (*loc, key))
    elif isinstance(raw, Mapping) and isinstance(value, Mapping):
        for key, item in raw.items():
            if key in value:
                yield from _loose_values(item, value[key], (*loc, key))
    elif (
        isinstance(raw, list | tuple) and isinstance(value, list | tuple) and len(raw) == len(value)
    ):
        for i, (item, got) in enumerate(zip(raw, value, strict=True)):
            yield from _loose_values(item, got, (*loc, i))


def _nans(raw: object, loc: tuple[int | str, ...] = ()) -> Iterator[tuple[int | str, ...]]:
    """The locations of the NaN values in parsed TOML *raw*."""
    if isinstance(raw, float) and math.isnan(raw):
        yield loc
    elif isinstance(raw, Mapping):
        for key, item in raw.items():
            yield from _nans(item, (*loc, key))
    elif isinstance(raw, list | tuple):
        for i, item in enumerate(raw):
            yield from _nans(item, (*loc, i))


def validate_data(
    data: Any, model: type[M], source: str, error: type[ConfigError] = ConfigError
) -> M:
    """Validate parsed TOML *data* as *model*, numbers and booleans strictly (module docstring).

    Args:
        data: the parsed file (or a table of it).
        model: the pydantic model.
        source: what error lines start with (the file name).
        error: the error class raised.

    Raises:
        error: one line per bad field, ``source: field.path: what was expected``;
            a number or a boolean written as a string reads ``expected a number,
            got the string '3.8'``.
    """
    nans = [f"{source}: {_loc_to_path(loc)}: expected a number, got nan" for loc in _nans(data)]
    if nans:  # before pydantic, which would call it out of range
        raise error("\n".join(nans))
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        raise error(format_validation_error(exc, source, data)) from exc
    loose = list(_loose_values(data, validated, ()))
    if loose:
        raise error("\n".join(f"{source}: {line}" for line in loose))
    return validated


def read_toml(
    path: Path | str, what: str = "file", error: type[ConfigError] = ConfigError
) -> dict[str, Any]:
    """The parsed TOML file *path* (no validation).

    Raises:
        error: the file cannot be read ("cannot read the <what>") or is not
            valid UTF-8 TOML; the message names the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not a valid TOML file: {exc}") from exc


def path_beside(data: dict[str, Any], table: str, key: str, path: Path | str) -> dict[str, Any]:
    """Make ``data[table][key]``, a relative path, relative to the folder of the file *path*.

    A configuration names its other files (a menu, a model folder, data
    files) relative to itself, wherever the command runs from. An absolute
    path, a missing table or key, or a value that is not a string (left for
    the validation to report) is left as it is. *data* is changed in place
    and returned.

    >>> path_beside({"menu": {"path": "menu.toml"}}, "menu", "path", "/runs/a/config.toml")
    {'menu': {'path': '/runs/a/menu.toml'}}
    >>> path_beside({"menu": {"path": "/etc/menu.toml"}, "x": 1}, "menu", "path", "c.toml")
    {'menu': {'path': '/etc/menu.toml'}, 'x': 1}
    """
    section = data.get(table)
    if isinstance(section, dict):
        value = section.get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            section[key] = str(Path(path).parent / value)
    return data


def deep_update(base: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of *base* with *updates* merged in, table by table; None values are skipped.

    >>> deep_update({"a": {"x": 1, "y": 2}, "b": 3}, {"a": {"y": 5}, "b": None})
    {'a': {'x': 1, 'y': 5}, 'b': 3}
    """
    out = copy.deepcopy(dict(base))
    for key, value in updates.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = value
    return out


def load_toml_model(path: Path, model: type[M], error: type[ConfigError] = ConfigError) -> M:
    """Parse the TOML file *path* and validate it as *model*.

    Raises:
        error: the file is missing, is not valid TOML, or does not validate
            (:func:`validate_data`); the message names the file and, for
            validation errors, each bad field.
    """
    return validate_data(read_toml(path, "file", error), model, str(path), error)
