"""Expected verdicts: what the suite must find on a deployment whose
verdicts are known (the embedded testbed), and the differences of a run.

The declaration is a YAML file (the testbed's is
``architecture/expected_verdicts.yaml``)::

    schema_version: 1
    models:
      distributed:
        EDGE-US1-IDENTITY: pass
        EDGE-US4-ONE-ENDPOINT:
          verdict: fail
          cause: why stock OpenStack fails it (for the reader)
          match: a piece of the cause the run must report
        EDGE-US2-FETCH-CUT:          # a requirement whose tests cut links
          verdict: fail
          modes: {refused: pass, blackhole: fail}
          cause: ...

Every requirement that applies to a model is declared for it with
``pass``, ``fail`` or ``not_run`` (a ``fail`` or ``not_run`` says why, in
``cause``); a requirement the catalog declares not applicable is not
listed (the catalog owns that verdict, and a run that gives another
verdict differs from it). A run differs from the declaration where a
verdict is not the declared one, in either direction (a new failure, or a
failure that now passes), or where a declared ``match`` is not in the cause
the run reports, or where a declared verdict per partition mode
(``modes``) is not the one the run gives in that mode.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edge_refarch.architecture.requirements import (
    DEFAULT_CATALOG_PATH,
    Catalog,
)
from edge_refarch.validation.errors import BadInput, load_yaml

# The embedded testbed's declaration, next to the requirement catalog.
DEFAULT_PATH = DEFAULT_CATALOG_PATH.resolve().with_name(
    "expected_verdicts.yaml")
DECLARABLE = ("pass", "fail", "not_run")

_ENTRY = {
    "oneOf": [
        {"enum": ["pass"]},
        {"type": "object", "additionalProperties": False,
         "required": ["verdict"],
         "properties": {
             "verdict": {"enum": list(DECLARABLE)},
             "cause": {"type": "string", "minLength": 1},
             "match": {"type": "string", "minLength": 1},
             "modes": {"type": "object", "minProperties": 1,
                       "propertyNames": {"enum": ["refused", "blackhole"]},
                       "additionalProperties": {"enum": list(DECLARABLE)}}},
         "if": {"properties": {"verdict": {"enum": ["fail", "not_run"]}}},
         "then": {"required": ["verdict", "cause"]}},
    ]
}
SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["schema_version", "models"],
    "properties": {
        "schema_version": {"const": 1},
        "models": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": _ENTRY}},
    },
}


@dataclasses.dataclass(frozen=True)
class Expected:
    verdict: str
    cause: str = ""
    match: str = ""
    # partition mode -> verdict, for a requirement whose tests cut a link
    modes: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Difference:
    requirement: str
    expected: str
    got: str
    detail: str

    def line(self) -> str:
        """One line: ``ID: expected X, got Y (detail)``."""
        detail = " ".join(self.detail.split())
        detail = f" ({detail[:200]})" if detail else ""
        return f"{self.requirement}: expected {self.expected}, got " \
               f"{self.got}{detail}"


def load(path: Path, catalog: Catalog) -> dict[str, dict[str, Expected]]:
    """model -> requirement ID -> Expected, checked against the schema and
    the catalog (every applicable requirement declared, no other).

    Raises BadInput (one line) for a missing, malformed or incomplete file.
    """
    raw = load_yaml(path, SCHEMA, "expected-verdicts file")
    out: dict[str, dict[str, Expected]] = {}
    for model, entries in raw["models"].items():
        applies = {r.id for r in catalog.requirements.values()
                   if model in r.models and r.applies_to(model)}
        if not any(model in r.models for r in catalog.requirements.values()):
            raise BadInput(f"{path}: models/{model}: not a deployment model "
                           "of the catalog")
        unknown = sorted(set(entries) - set(catalog.requirements))
        if unknown:
            raise BadInput(f"{path}: models/{model}: unknown requirement "
                           f"{unknown[0]}")
        listed_na = sorted(set(entries) - applies)
        if listed_na:
            raise BadInput(f"{path}: models/{model}: {listed_na[0]} is not "
                           "applicable to the model (the catalog says so); "
                           "do not declare it")
        missing = sorted(applies - set(entries))
        if missing:
            raise BadInput(f"{path}: models/{model}: no expected verdict for "
                           f"{', '.join(missing)}")
        out[model] = {
            rid: Expected("pass") if e == "pass" else Expected(
                e["verdict"], " ".join(e.get("cause", "").split()),
                e.get("match", ""), tuple(sorted(e.get("modes", {})
                                                 .items())))
            for rid, e in entries.items()}
    return out


def compare(report: dict, expected: dict[str, dict[str, Expected]],
            only: set[str] | None = None) -> list[Difference]:
    """The differences between a report (runner.run's) and the expected
    verdicts of its model; `only` limits the comparison to those
    requirement IDs (a run of a selection). A model without a declaration
    is one difference."""
    model = report["model"]
    if model not in expected:
        return [Difference("*", "a declaration", "none",
                           f"no expected verdicts for model {model}")]
    mine = expected[model]
    diffs = []
    for r in report["requirements"]:
        if only is not None and r["id"] not in only:
            continue
        exp = mine.get(r["id"])
        want = exp.verdict if exp else "not_applicable"
        got, reason = r["verdict"], r.get("reason") or ""
        if got != want:
            diffs.append(Difference(r["id"], want, got, reason))
            continue
        for mode, verdict in exp.modes if exp else ():
            seen = r.get("modes", {}).get(mode, {})
            if seen.get("verdict") != verdict:
                diffs.append(Difference(
                    f"{r['id']} [{mode}]", verdict,
                    seen.get("verdict", "no verdict"),
                    seen.get("reason", "")))
        if exp and exp.match and exp.match not in reason:
            diffs.append(Difference(
                r["id"], f"{want} because {exp.match!r}",
                f"{got} for another cause", reason))
    return diffs
