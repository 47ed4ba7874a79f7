"""The local runtime's own pages (index, API docs, outbox), rendered from ``templates/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined


def environment(folder: Path) -> Environment:
    """The runtime's templates (and the stand-ins'): every one HTML, so everything is escaped;
    a missing value is an error, not an empty string."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_templates = environment(Path(__file__).resolve().parent / "templates")


def render(name: str, **context: Any) -> str:
    return _templates.get_template(name).render(**context)
