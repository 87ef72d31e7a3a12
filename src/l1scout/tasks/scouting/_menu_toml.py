"""A menu with the working points the models stage chose, written back as a TOML menu file.

:func:`resolve_menu` sets, in every selection whose ``model`` is one of the
given registry URIs, the working-point fields given for it (the anomaly
``threshold``; the di-tau ``class_threshold``, ``charge_threshold``,
``dvz_cut``). :func:`menu_toml` writes a :class:`~l1scout.tasks.scouting.menu.Menu`
as a TOML file that :func:`~l1scout.tasks.scouting.menu.load_menu` reads back
to an equal menu (``onnx`` and ``scaler`` paths as the loaded menu holds
them: absolute).

Example:
    >>> from l1scout.tasks.scouting.menu import menu_from_dict
    >>> m = menu_from_dict({"selection": [
    ...     {"name": "a", "kind": "anomaly", "model": "models:/x@demo", "threshold": 1.0},
    ...     {"name": "mu", "kind": "single_muon"}]})
    >>> r = resolve_menu(m, {"models:/x@demo": {"threshold": 2.5}})
    >>> r.selection[0].threshold, m.selection[0].threshold
    (2.5, 1.0)
    >>> menu_toml(r).splitlines()[6]
    'threshold = 2.5'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from l1scout._files import atomic_write_bytes
from l1scout.errors import ConfigError
from l1scout.tasks.scouting.menu import Menu, menu_from_dict

__all__ = ["menu_toml", "resolve_menu", "write_menu"]


def resolve_menu(menu: Menu, points: Mapping[str, Mapping[str, float]]) -> Menu:
    """*menu* with the fields of ``points[uri]`` set in every selection whose ``model`` is *uri*.

    The result is validated again (:func:`~l1scout.tasks.scouting.menu.menu_from_dict`).

    Raises:
        ConfigError: a field the selection does not have, or a bad value.
    """
    rows = []
    for s in menu.selection:
        row = s.model_dump()
        uri = row.get("model")
        if isinstance(uri, str) and uri in points:
            for key, value in points[uri].items():
                if key not in row:
                    msg = f"selection {s.name!r}: no field {key!r} to set (kind {row['kind']})"
                    raise ConfigError(msg)
                row[key] = float(value)
        rows.append(row)
    return menu_from_dict({"name": menu.name, "selection": rows}, where="resolved menu")


def _string(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in out):
        out = "".join(c if ord(c) >= 0x20 and ord(c) != 0x7F else f"\\u{ord(c):04X}" for c in out)
    return f'"{out}"'


def _value(value: Any) -> str:  # noqa: PLR0911 - one return per TOML type
    """One TOML value: booleans, integers, floats (``inf``, ``-inf``, ``nan``), strings, arrays, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str | Path):
        return _string(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items() if v is not None) + " }"
        )
    msg = f"cannot write {value!r} to a menu file"
    raise ConfigError(msg)


def menu_toml(menu: Menu, header: str = "") -> str:
    """The menu as TOML text (*header*: comment lines first, without the ``#``)."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"name = {_value(menu.name)}"]
    for s in menu.selection:
        lines += ["", "[[selection]]"]
        row = s.model_dump()
        lines += [f"{k} = {_value(v)}" for k, v in row.items() if v is not None]
    return "\n".join(lines) + "\n"


def write_menu(menu: Menu, path: Path | str, header: str = "") -> Path:
    """Write *menu* as a TOML menu file, atomically; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, menu_toml(menu, header).encode())
    return target
