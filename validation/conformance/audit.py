"""No secret of the testbed in any log, output or report.

The secrets are those the testbed generated (passwords in secrets.json) and
its keys (fernet and credential key files). The haystack is every log the
testbed's services wrote, the suite's own logs and results, and the report.
Configuration files are not scanned: they are where secrets belong.
"""

from __future__ import annotations

from pathlib import Path

LOG_SUFFIXES = (".log", ".subunit", ".jsonl", ".json", ".rst", ".txt")


def testbed_secrets(testbed) -> dict[str, str]:
    found = {f"password:{k}": v for k, v in testbed.passwords().items()}
    # Service providers' Keystones (federated identity) keep their own
    # keys where Apache's user reads them (Testbed.shared).
    keydirs = [*testbed.state.glob("sites/*/keystone/*-keys"),
               *testbed.shared.glob("*/keystone/*-keys")]
    for keydir in keydirs:
        for key in keydir.iterdir():
            value = key.read_text().strip()
            if value:
                found[f"key:{keydir.parent.parent.name}/{keydir.name}/"
                      f"{key.name}"] = value
    return found


def haystack(testbed, workdir: Path, report_files) -> list[Path]:
    files = [p for root in (testbed.state, testbed.shared)
             for p in root.rglob("*")
             if p.is_file() and (p.parent.name == "log"
                                 or p.suffix == ".log"
                                 or p.name.endswith(".log"))]
    files += [p for p in workdir.rglob("*")
              if p.is_file() and p.suffix in LOG_SUFFIXES
              and p.name != "tempest.conf"]
    files += [Path(p) for p in report_files]
    return sorted(set(files))


def scan(secrets: dict[str, str], files: list[Path]) -> list[str]:
    leaks = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for name, value in secrets.items():
            if value.encode() in data:
                leaks.append(f"{name} in {path}")
    return leaks
