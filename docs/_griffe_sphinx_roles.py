"""Griffe extension for the docs build: Sphinx roles become autorefs links, doctests code blocks.

l1scout's docstrings are Google style, cross-reference with Sphinx roles
(``:func:`~l1scout.io.open_dataset```, ``:class:`ProductionPlan```,
``:mod:`.report```, ``:meth:`fit```, ``:attr:``, ``:data:``, ``:exc:``, ...)
and carry doctests (``>>>``) that pytest runs. mkdocstrings renders Markdown
and knows neither, so this extension (loaded by mkdocstrings-python through
``extensions:`` in ``mkdocs.yml``) rewrites the raw docstrings once griffe has
loaded the whole ``l1scout`` package, before any docstring is parsed or
rendered. Why here and not in a mkdocs page hook: docstrings are rendered
inside mkdocstrings, after the page hooks ran, and only griffe knows the
object a docstring belongs to, which a relative name (``produce``,
``.report``, ``fit``) needs.

**Roles.** A target is resolved as Sphinx's Python domain does it, plus
Python's relative-import rule for a leading dot:

1. ``l1scout.a.b``: the absolute path.
2. ``.x`` / ``..x``: relative to the docstring's package, as ``from .x import``.
3. ``x`` or ``A.x``: looked up in the docstring's own object (a class), then
   each enclosing class and module, then each enclosing package up to
   ``l1scout`` (so a name that a package re-exports resolves too).

What a role becomes:

- a target that resolves to an object the API pages render: ``[`text`][path]``,
  an autorefs link to it (re-exports and imports followed to the canonical
  object; an inherited method keeps the subclass path, where it is rendered);
- an attribute the pages do not render (see below): a link to its class or
  module, whose docstring describes it;
- a target that resolves to something else the pages do not render (a private
  module or member), a builtin, or a name whose first part is another
  importable module (``numpy.ndarray``, ``tomllib``): inline code, no link;
- anything else, a name that resolves to nothing: inline code and a WARNING
  naming the file and line, which fails ``mkdocs build --strict``. A reference
  to a name that does not exist is a documentation bug; fix the docstring.

The text follows Sphinx: ``~a.b.c`` shows ``c``, ``a.b.c`` the whole path, an
explicit ``title <target>`` the title, functions and methods get ``()``; a
leading ``!`` suppresses the link.

**Doctests.** A ``>>>`` block (up to the next blank line) outside a Google
``Examples:`` section (which griffe already renders as code) is fenced as a
``pycon`` code block; unfenced, Markdown would read ``>>>`` as quotes and
``x[0][:3]`` as a reference link. The docstring text pytest runs is untouched.

**Re-exports.** Packages re-export their public API from submodules
(``l1scout.io`` lists ``open_dataset`` from ``l1scout.io.dataset`` in
``__all__``). Rendering each such object twice (under the package and under
its module) would double the pages and the build time, so a re-export whose
target the submodule pages render is marked non-public (``Alias.public =
False``) and the package docstring gets a "Public API" line instead: one
autorefs link per ``__all__`` name (a plain module that re-exports, such as
``l1scout.io.features``, gets an "Also exports" line). A re-export of a
private module's object is still rendered where it is exported.

**Undocumented attributes.** ``show_if_no_docstring`` is on, so that module
constants and dataclass/pydantic fields without a docstring of their own
still show their type and value; attributes set only in ``__init__``
(``self.x = ...``) and pydantic's ``model_config`` are state, not API, and are
marked non-public when they have no docstring.

**Tuple assignments.** griffe records ``A, B = 0, 1`` at module level as no
attribute at all; such names are added as module attributes here so that they
are documented (when public) and references to them resolve.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import griffe

# Warnings on the "mkdocs" logger are counted by `mkdocs build --strict`.
_log = logging.getLogger("mkdocs.plugins.l1scout.sphinx_roles")

ROOT = "l1scout"

# Must match the mkdocstrings options of mkdocs.yml: inherited members are rendered.
INHERITED_MEMBERS_RENDERED = True

# :role:`target`, :py:role:`target`, :role:`title <target>`; roles of the Python domain only.
_ROLE = re.compile(
    r":(?:py:)?(?P<role>func|meth|class|mod|attr|data|exc|obj|const|type):`(?P<body>[^`]+)`"
)
_TITLE = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
_CALLABLE_ROLES = {"func", "meth"}
_EXAMPLES_SECTION = re.compile(r"Examples:\s*")


def _follow(obj: Any) -> Any | None:
    """The object an alias finally points to (``None`` if it points outside the loaded code)."""
    if obj is not None and obj.is_alias:
        try:
            return obj.final_target
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
    return obj


def _walk(start: Any, parts: list[str]) -> Any | None:
    """Member ``parts`` of ``start``, following aliases (imports, re-exports) on the way.

    An inherited member is returned as the subclass's alias (its path is where
    the subclass page renders it) if its target exists.
    """
    obj = start
    for part in parts:
        obj = _follow(obj)
        if obj is None:
            return None
        members = obj.all_members if obj.is_class else obj.members
        obj = members.get(part)
        if obj is None:
            return None
    if obj.is_alias and obj.inherited:
        return obj if _follow(obj) is not None else None
    return _follow(obj)


def _module_of(obj: Any) -> Any:
    while not obj.is_module:
        obj = obj.parent
    return obj


def _scopes(obj: Any) -> list[Any]:
    """Where a bare name is looked up: the object (if it has members), its parents, up to the root."""
    scopes = []
    current = obj if (obj.is_class or obj.is_module) else obj.parent
    while current is not None:
        scopes.append(current)
        current = current.parent
    return scopes


def _is_rendered(obj: Any) -> bool:
    """Whether the API pages render ``obj`` (so that an autorefs link to it resolves).

    The pages render every public (sub)module of ``l1scout`` with ``filters:
    public``: a module is rendered if no part of its path starts with an
    underscore; any other object if it is public in its parent (listed in
    ``__all__`` where the parent module has one) and its parent is rendered.
    """
    if obj.is_alias and not (obj.inherited and INHERITED_MEMBERS_RENDERED):
        return False
    current = obj
    while current is not None:
        if current.is_module:
            if current.name.startswith("_"):
                return False
        elif not current.is_public:
            return False
        current = current.parent
    return True


def _is_noise(attribute: Any) -> bool:
    """An undocumented attribute not worth a rendered entry (``show_if_no_docstring`` is on).

    Set in ``__init__`` only (``self.x = ...``: state, described in the class
    docstring if anywhere), pydantic's ``model_config`` or ``__all__`` (the
    package docstring lists it). Dataclass and pydantic fields and module
    constants stay: their type and default are API.
    """
    labels = attribute.labels
    if "instance-attribute" in labels and "class-attribute" not in labels:
        return True
    return attribute.name in {"model_config", "__all__"}


def _is_external(target: str) -> bool:
    """Whether ``target`` names a builtin or another library's object (``numpy.ndarray``)."""
    if target.startswith("."):
        return False
    top = target.split(".", 1)[0]
    if top == ROOT:
        return False
    if "." not in target and hasattr(builtins, target):
        return True
    if top in sys.stdlib_module_names:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _fence_doctests(text: str) -> str:
    """Fence the ``>>>`` blocks that are not in an ``Examples:`` section as ``pycon`` code."""
    lines = text.split("\n")
    out: list[str] = []
    examples_indent: int | None = None
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if stripped and examples_indent is not None and indent <= examples_indent:
            examples_indent = None
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not in_fence and _EXAMPLES_SECTION.fullmatch(stripped):
            examples_indent = indent
        elif not in_fence and examples_indent is None and stripped.startswith(">>>"):
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            previous = out[-1] if out else ""
            if previous.strip() and len(previous) - len(previous.lstrip()) >= indent:
                out.append("")  # Markdown: a fence after paragraph text needs a blank line
            out.append(" " * indent + "```pycon")
            out.extend(lines[i:end])
            out.append(" " * indent + "```")
            i = end
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles and fence doctests in every docstring of the ``l1scout`` package."""

    def __init__(self) -> None:
        super().__init__()
        self._root: Any = None

    def on_module_members(self, *, node: Any, mod: griffe.Module, **_kwargs: Any) -> None:
        """Add the names of module-level tuple assignments (``A, B = 0, 1``) as attributes."""
        if not isinstance(node, ast.Module):
            return
        for stmt in node.body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
                continue
            target = stmt.targets[0]
            if not isinstance(target, ast.Tuple):
                continue
            values = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else None
            for k, elt in enumerate(target.elts):
                if not isinstance(elt, ast.Name) or elt.id in mod.members:
                    continue
                value = (
                    ast.unparse(values[k]) if values and len(values) == len(target.elts) else None
                )
                attribute = griffe.Attribute(
                    elt.id, lineno=stmt.lineno, endlineno=stmt.end_lineno, value=value
                )
                attribute.labels.add("module-attribute")
                mod.set_member(elt.id, attribute)

    def on_package(self, *, pkg: griffe.Module, **_kwargs: Any) -> None:
        if pkg.name != ROOT:
            return
        self._root = pkg
        objects = list(self._objects(pkg))
        for obj in objects:
            if obj.is_attribute and obj.docstring is None and _is_noise(obj):
                obj.public = False
        for obj in objects:
            if obj.is_module and obj.exports:
                self._summarise_exports(obj)
        for obj in objects:
            if obj.docstring is not None:
                text = _fence_doctests(obj.docstring.value)
                obj.docstring.value = _ROLE.sub(functools.partial(self._rewrite, obj=obj), text)

    def _objects(self, obj: Any) -> Iterator[Any]:
        yield obj
        for member in obj.members.values():
            if not member.is_alias:
                yield from self._objects(member)

    # -- re-exports ---------------------------------------------------------------------------

    def _summarise_exports(self, package: Any) -> None:
        """Hide re-exports documented in their own module; list them in the module docstring.

        A package's docstring lists its whole ``__all__``; a module's, the names
        it re-exports (a compatibility module like ``l1scout.io.features``).
        """
        links: list[str] = []
        hidden: list[str] = []
        for name in package.exports or []:
            if not isinstance(name, str):
                continue
            member = package.members.get(name)
            if member is None:
                continue  # a missing name in __all__ is for ruff and the tests to find
            target = _follow(member) if member.is_alias else member
            if member.is_alias and target is not None and _is_rendered(target):
                member.public = False
                links.append(f"[`{name}`][{target.path}]")
                hidden.append(links[-1])
            elif target is not None and _is_rendered(member):
                links.append(f"[`{name}`][{member.path}]")
            else:
                links.append(f"`{name}`")
        if package.docstring is None:
            return
        if package.is_init_module and links:
            package.docstring.value += "\n\nPublic API (`__all__`): " + ", ".join(links) + "."
        elif hidden:
            package.docstring.value += (
                "\n\nAlso exports (documented in their own modules): " + ", ".join(hidden) + "."
            )

    # -- roles --------------------------------------------------------------------------------

    def _rewrite(self, match: re.Match[str], obj: Any) -> str:
        role, body = match["role"], match["body"].strip()
        titled = _TITLE.match(body)
        title, target = (titled["title"], titled["target"].strip()) if titled else (None, body)
        no_link = target.startswith("!")
        target = target.lstrip("!")
        short = target.startswith("~")
        target = target.lstrip("~")
        if title is not None:
            text = title
        else:
            text = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
            if role in _CALLABLE_ROLES and not text.endswith(")"):
                text += "()"
        code = f"`{text}`"

        found = self._resolve(target, obj)
        if found is None:
            if not _is_external(target):
                _log.warning(
                    "%s:%s: in the docstring of %s, :%s:`%s` does not resolve to any object",
                    obj.relative_package_filepath,
                    obj.docstring.lineno,
                    obj.path,
                    role,
                    match["body"],
                )
            return code
        if no_link:
            return code
        if _is_rendered(found):
            return f"[{code}][{found.path}]"
        if found.is_attribute and found.parent is not None and _is_rendered(found.parent):
            return f"[{code}][{found.parent.path}]"  # described by its class or module
        return code

    def _resolve(self, target: str, obj: Any) -> Any | None:
        if target.startswith("."):
            dots = len(target) - len(target.lstrip("."))
            rest = target[dots:]
            module = _module_of(obj)
            base = module if module.is_init_module else module.parent
            for _ in range(dots - 1):
                base = base.parent if base is not None else None
            if base is not None:
                found = _walk(base, rest.split(".")) if rest else base
                if found is not None:
                    return found
            target = rest  # then as Sphinx does: search the enclosing scopes
        parts = target.split(".")
        if parts[0] == ROOT:
            return _walk(self._root, parts[1:])
        for scope in _scopes(obj):
            found = _walk(scope, parts)
            if found is not None:
                return found
        return None
