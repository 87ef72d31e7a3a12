"""Load a TOML data file into a closed pydantic model, with errors that name the field.

Data files (the process catalog, detector cards) are parsed by :mod:`tomllib`
and validated by pydantic models with ``extra="forbid"``; no value is ever
evaluated as code. A validation failure becomes the caller's error class with
the file, the dotted path to the bad field and what was expected.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from l1scout.errors import ConfigError

__all__ = ["deep_update", "format_validation_error", "load_toml_model", "read_toml"]

M = TypeVar("M", bound=BaseModel)


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


def format_validation_error(err: ValidationError, source: str) -> str:
    """Render a pydantic error as one line per bad field: ``source: field.path: what was expected``."""
    lines = []
    for item in err.errors():
        where = _loc_to_path(tuple(item["loc"]))
        got = item.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict | list) and got is not None else ""
        text = str(item["msg"]).removeprefix("Value error, ")
        lines.append(
            f"{source}: {text}" if not item["loc"] else f"{source}: {where}: {text}{shown}"
        )
    return "\n".join(lines)


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
        error: the file is missing, is not valid TOML, or does not validate; the
            message names the file and, for validation errors, each bad field.
    """
    data = read_toml(path, "file", error)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(format_validation_error(exc, str(path))) from exc
