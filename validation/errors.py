"""Errors meant for people: one line, what is wrong and what to do."""

import re
from pathlib import Path

import jsonschema
import yaml


class UserError(Exception):
    """A problem the operator can fix; the CLI prints it and exits non-zero.

    `exit_code` is 2 for bad input (arguments, config, model) and 1 for an
    environment or runtime failure (a service that will not start, ...).
    """

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """SIGTERM during a command that cleans up after itself (a CI job's
    timeout, `kill`): raised where the signal lands, so the same clean-up
    as for an interrupt (Ctrl-C) runs; the command then exits 143."""


def raise_terminated(signum, frame):  # noqa: ARG001 - a signal handler
    raise Terminated()


class BadInput(UserError):
    def __init__(self, message: str):
        super().__init__(message, exit_code=2)


_EXC_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*): ?(.*)$")
_TLS = re.compile(r"certificate verify failed: ([^)'\"(]+)")
_HOST = re.compile(r"host='([^']+)', port=(\d+)")


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of `exc`'s message (at most `limit` characters), or
    its class name when the message is empty; never raises."""
    lines = str(exc).splitlines()
    line = lines[0] if lines and lines[0].strip() else type(exc).__name__
    return line if limit is None else line[:limit]


def readable_cause(text: str, limit: int = 400) -> str:
    """One readable line from an error's text: a Python traceback (as a
    test's subunit details carry it) or an exception's message.

    The exception line of the traceback and the lines of its message that
    follow, joined, its class named without module; ``AssertionError``
    (a test's own message) not named at all; Tempest's catalog dumps
    (``EndpointNotFound``'s "catalog: [...]") left out; a TLS verification
    failure said as such with its reason and host. At most `limit`
    characters."""
    lines = text.strip().splitlines()
    start = 0
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            start = i
    body = lines[start:]
    if body and body[0].startswith("Traceback"):
        # The exception line: the first unindented line after the frames
        # (the lines of a multi-line message follow it).
        exc_at = next((i for i, ln in enumerate(body)
                       if i > 0 and ln and not ln[0].isspace()), 0)
        body = body[exc_at:]
    joined = " ".join(ln.strip() for ln in body if ln.strip())
    tls = _TLS.search(joined)
    if tls:
        host = _HOST.search(joined)
        where = f" ({host.group(1)}:{host.group(2)})" if host else ""
        return f"TLS: certificate verify failed: " \
               f"{tls.group(1).strip()}{where}"[:limit]
    m = _EXC_LINE.match(joined)
    if m:
        name, message = m.groups()
        joined = message if name == "AssertionError" else \
            f"{name}: {message}"
    joined = re.sub(r",? catalog: .*$", "", joined)
    if len(joined) > limit:
        joined = joined[:limit - 3].rstrip() + "..."
    return joined


def load_yaml(path, schema: dict, what: str, hint: str = ""):
    """The YAML document in `path`, valid against the JSON schema `schema`.
    Raises BadInput, one line: '<path>: <what> not found', '<path>: not
    valid YAML: ...' or '<path>: <where in the document>: <why><hint>'."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise BadInput(f"{path}: {what} not found") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the {what}: "
                       f"{exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML: "
                       f"{first_line(exc)}") from None
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise BadInput(f"{path}: {where}: {exc.message}{hint}") from None
    return data
