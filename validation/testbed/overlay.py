"""Operator overlays on the testbed's generated configuration.

The testbed writes every service's configuration from the model; an
operator who wants one option otherwise (a worker count, a debug flag, a
timeout) names it in an overlay file instead of editing the code::

    # site (or "*": every site) -> service (model.yaml names) -> file name
    # -> section -> option: value
    "*":
      glance:
        glance-api.conf:
          DEFAULT: {debug: true}
    edge1:
      keystone:
        keystone.conf:
          token: {expiration: 7200}

``testbed up --config-overlay FILE`` applies it after the configuration is
written and before any service starts: each option is set in every file of
that name under the service's directories at the site (Nova, for example,
has one ``nova.conf`` per API, conductor and compute host). The files are
INI files read and written with ``configparser``; a file with a repeated
option is refused rather than rewritten with one of them lost. MariaDB,
RabbitMQ and memcached are started before the OpenStack services are
configured: an overlay cannot reach them.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from edge_refarch.validation.errors import BadInput, first_line, load_yaml
from edge_refarch.validation.testbed import ini

# Started (step 1 of the bring-up) before any overlay applies.
NOT_OVERLAID = ("mariadb", "rabbitmq", "memcached")
_SCALAR = {"type": ["string", "number", "boolean"]}
SCHEMA = {
    "type": "object",
    "additionalProperties": {               # site or "*"
        "type": "object",
        "additionalProperties": {           # service
            "type": "object",
            "additionalProperties": {       # file name
                "type": "object",
                "additionalProperties": {   # section
                    "type": "object",
                    "additionalProperties": _SCALAR,
                },
            },
        },
    },
}


def load(path: Path) -> dict:
    """The overlay in `path`. Raises BadInput (one line) when it cannot be
    read or does not have the shape site -> service -> file -> section ->
    option: scalar."""
    data = load_yaml(path, SCHEMA, "config overlay",
                     " (expected site -> service -> file -> section -> "
                     "option: value)")
    for service in (s for services in data.values() for s in services):
        if service in NOT_OVERLAID:
            raise BadInput(f"{path}: {service}: started before the overlay "
                           "applies; the overlay configures the OpenStack "
                           "services only")
    for file_name in (f for services in data.values()
                      for files in services.values() for f in files):
        if "/" in file_name or file_name in (".", ".."):
            raise BadInput(f"{path}: {file_name!r}: a file name, not a path")
    return data


def set_options(conf: Path, sections: dict[str, dict]) -> None:
    """Set `sections` (section -> option -> value) in the INI file `conf`,
    keeping everything else but comments below the file's header. Raises
    BadInput for a file configparser cannot read faithfully (a repeated
    option or section)."""
    cp = configparser.ConfigParser(interpolation=None, strict=True,
                                   allow_no_value=True,
                                   default_section="\0none")
    cp.optionxform = str        # option names are case-sensitive
    try:
        cp.read(conf)
    except configparser.Error as exc:
        raise BadInput(f"{conf}: cannot apply an overlay to it: "
                       f"{first_line(exc)}") from None
    for section, options in sections.items():
        if not cp.has_section(section):
            cp.add_section(section)
        for option, value in options.items():
            cp.set(section, option, ini.value(value))
    # configparser drops comments: keep the file's header (ini.header).
    header = []
    for line in conf.read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    with open(conf, "w") as fh:
        fh.writelines(f"{line}\n" for line in header)
        cp.write(fh)


def apply(overlay: dict, service_dirs: dict[str, dict[str, list[Path]]]
          ) -> list[Path]:
    """Apply `overlay` to the files under `service_dirs` (site -> service
    -> the directories holding that service's configuration there).
    Returns the files changed. Raises BadInput naming the first site,
    service or file the overlay names that the testbed does not have."""
    changed = []
    for site, services in overlay.items():
        sites = list(service_dirs) if site == "*" else [site]
        if site != "*" and site not in service_dirs:
            raise BadInput(f"config overlay: no site {site!r} (sites: "
                           f"{', '.join(service_dirs)})")
        for service, files in services.items():
            runs_at = [s for s in sites if service in service_dirs[s]]
            if not runs_at:
                raise BadInput(f"config overlay: {site}: no {service} there")
            for name, sections in files.items():
                found = [p for s in runs_at
                         for d in service_dirs[s][service]
                         for p in sorted(d.rglob(name)) if p.is_file()]
                if not found:
                    raise BadInput(f"config overlay: {site}/{service}: no "
                                   f"file named {name!r}")
                for conf in found:
                    set_options(conf, sections)
                    changed.append(conf)
    return changed
