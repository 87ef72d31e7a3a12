"""mkdocs hooks for the l1scout docs (``hooks:`` in ``mkdocs.yml``).

- Every package of ``src/l1scout`` must be on an API page: ``docs/api/<pkg>.md``
  (dotted for subpackages, ``tasks.anomaly.md``) or the page of an enclosing
  package that renders its submodules. A new package without one is a WARNING,
  so ``mkdocs build --strict`` fails instead of the package silently missing.
- ``docs/validation/`` holds both ``README.md`` (a page) and ``index.html``
  (the page ``l1scout validate`` writes); both would land on
  ``validation/index.html``. ``mkdocs.yml`` excludes the HTML file and this
  hook puts it back as ``validation/report.html`` (its plots sit beside it).
- ``docs/api/core.md`` gets one ``::: l1scout.<module>`` per public top-level
  module (``errors``, ``constants``, ...), found on disk, so the page cannot go
  stale when a module is added or moved.

The Sphinx roles of the docstrings are handled by the griffe extension
``docs/_griffe_sphinx_roles.py`` (see there why).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, InclusionLevel

_log = logging.getLogger("mkdocs.plugins.l1scout.hooks")

_SRC = Path(__file__).resolve().parent.parent / "src" / "l1scout"
_CORE_MARKER = "<!-- l1scout-core-modules"
_VALIDATION_HTML = "validation/index.html"
_VALIDATION_DEST = "validation/report.html"


def _packages() -> list[str]:
    """Dotted names (relative to ``l1scout``) of the public packages under ``src/l1scout``."""
    names = []
    for init in sorted(_SRC.rglob("__init__.py")):
        parts = init.parent.relative_to(_SRC).parts
        if parts and not any(part.startswith(("_", ".")) for part in parts):
            names.append(".".join(parts))
    return names


def on_files(files: Any, config: Any) -> Any:
    """Warn about a package that no API page renders; publish the validation HTML page."""
    html = files.get_file_from_path(_VALIDATION_HTML)
    if html is not None:  # (a build drops an excluded file before this hook, serve keeps it)
        files.remove(html)
    if (Path(config["docs_dir"]) / _VALIDATION_HTML).is_file():
        files.append(
            File(
                _VALIDATION_HTML,
                config["docs_dir"],
                config["site_dir"],
                config["use_directory_urls"],
                dest_uri=_VALIDATION_DEST,
                inclusion=InclusionLevel.INCLUDED,
            )
        )
    api = Path(config["docs_dir"]) / "api"
    for package in _packages():
        parts = package.split(".")
        for depth in range(len(parts), 0, -1):
            page = api / (".".join(parts[:depth]) + ".md")
            if page.is_file():
                own = depth == len(parts)
                if own or "show_submodules: false" not in page.read_text(encoding="utf-8"):
                    break
                _log.warning(
                    "l1scout.%s has no API page: add docs/api/%s.md (and to the nav)",
                    package,
                    package,
                )
                break
        else:
            _log.warning(
                "l1scout.%s has no API page: add docs/api/%s.md (and to the nav)", package, package
            )
    return files


def on_page_markdown(markdown: str, page: Any, **_kwargs: Any) -> str:
    """Expand the core-modules marker of ``api/core.md``."""
    if page.file.src_uri != "api/core.md" or _CORE_MARKER not in markdown:
        return markdown
    modules = sorted(path.stem for path in _SRC.glob("*.py") if not path.name.startswith("_"))
    blocks = "\n\n".join(
        f"::: l1scout.{name}\n    options:\n      show_root_heading: true\n      heading_level: 2"
        for name in modules
    )
    start = markdown.index(_CORE_MARKER)
    end = markdown.index("-->", start) + len("-->")
    return markdown[:start] + blocks + markdown[end:]
