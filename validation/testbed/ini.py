"""Service configuration files rendered from data.

Every OpenStack service of the testbed is configured by a mapping
``section -> option -> value`` built from the model, rendered here through
``configparser`` (the format oslo.config reads). The reasons for each
option live as comments next to the data in the code; the written file
carries a header saying where it came from. Operator overlays
(overlay.py) set options in the written files with the same value
formatting.
"""

from __future__ import annotations

import configparser
import io
from collections.abc import Mapping
from pathlib import Path

# A value: a string, a number, a boolean (written true/false, as
# oslo.config's BoolOpt reads it), a list (written comma-separated, as
# ListOpt reads it) or None (the option is left out).
Value = str | int | float | bool | list | tuple | None
Sections = Mapping[str, Mapping[str, Value]]


def value(v: Value) -> str:
    """`v` as oslo.config reads it: booleans lower-case, lists joined with
    commas, anything else as str()."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (list, tuple)):
        return ",".join(value(x) for x in v)
    return str(v)


def header(site: str, service: str) -> str:
    """The header of a file the testbed writes for `service` at `site`."""
    return (f"Written by 'edge-refarch testbed up' for {site} ({service}),"
            " from the architecture model.\nChange an option with 'testbed "
            "up --config-overlay FILE', not here: the next 'up' rewrites "
            "this file.")


def merge(*parts: Sections) -> dict[str, dict[str, Value]]:
    """One mapping from several (a service's own sections, its
    [keystone_authtoken], ...). Raises ValueError when two parts set the
    same option: a silent override would hide a mistake."""
    out: dict[str, dict[str, Value]] = {}
    for part in parts:
        for section, options in part.items():
            target = out.setdefault(section, {})
            for option, v in options.items():
                if option in target:
                    raise ValueError(f"[{section}] {option} set twice")
                target[option] = v
    return out


def render(sections: Sections, header: str = "") -> str:
    """The INI text of `sections` (in their order; options whose value is
    None left out; a section left empty still written), preceded by
    `header` as ``#`` comment lines."""
    cp = configparser.ConfigParser(interpolation=None,
                                   default_section="\0none")
    cp.optionxform = str        # option names are case-sensitive
    for section, options in sections.items():
        cp.add_section(section)
        for option, v in options.items():
            if v is not None:
                cp.set(section, option, value(v))
    out = io.StringIO()
    for line in header.splitlines():
        out.write(f"# {line}".rstrip() + "\n")
    cp.write(out)
    return out.getvalue()


def write(path: Path, sections: Sections, header: str = "") -> Path:
    """Render `sections` into `path` (its directory created). Returns
    `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(sections, header))
    return path


def paste_with_config(packaged: Path, path: Path, filter_name: str,
                      conf: Path, header: str = "") -> Path:
    """A copy of a service's packaged paste file (`packaged`) at `path`
    whose keystonemiddleware filter ``[filter:<filter_name>]`` reads
    `conf` (``oslo_config_file``): with only ``oslo_config_project`` set,
    keystonemiddleware looks for the project's file in oslo.config's
    default places (``/etc/<project>/``...) and finds no
    [keystone_authtoken] (keystonemiddleware, _common/config.py).
    Raises KeyError when the file has no such filter."""
    cp = configparser.ConfigParser(interpolation=None,
                                   default_section="\0none")
    cp.optionxform = str
    cp.read(packaged)
    section = f"filter:{filter_name}"
    if not cp.has_section(section):
        raise KeyError(f"{packaged}: no [{section}]")
    cp.set(section, "oslo_config_file", str(conf))
    sections = {s: dict(cp.items(s)) for s in cp.sections()}
    return write(path, sections, header)
