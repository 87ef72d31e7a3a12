"""The command line: a thin typer layer over the library; no logic lives here."""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``l1scout`` console script."""
    from l1scout.cli.app import app

    app()
