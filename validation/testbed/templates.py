"""Configuration files that are not INI files (Apache's httpd.conf,
Shibboleth's shibboleth2.xml, rabbitmq.conf), from the template files in
``templates/`` (``string.Template``: ``$name`` placeholders; the files hold
no other ``$``)."""

from __future__ import annotations

import string
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent / "templates"


def render(name: str, **values: object) -> str:
    """Template `name` with every placeholder filled from `values` (str()
    of each). Raises KeyError for a placeholder without a value."""
    text = (DIRECTORY / name).read_text()
    return string.Template(text).substitute(
        {k: str(v) for k, v in values.items()})
