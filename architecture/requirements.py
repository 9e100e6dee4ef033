"""Load and validate the requirement catalog (``requirements.yaml``)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from edge_refarch.architecture.model import Model, ModelError

DEFAULT_CATALOG_PATH = Path(__file__).with_name("requirements.yaml")
CAPABILITIES = ("fault_injector", "key_rotation", "credential_key_rotation",
                "replica_procedures")
_ID = re.compile(r"^EDGE-[A-Z0-9]+(-[A-Z0-9]+)+$")


@dataclasses.dataclass(frozen=True)
class Applicability:
    applies: bool
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Requirement:
    id: str
    story: str
    statement: str
    models: dict[str, Applicability]
    needs: tuple[str, ...] = ()
    expectation: str | None = None   # a partition.during key of the model
    # The services its tests exercise (model.yaml names; keystone always).
    services: tuple[str, ...] = ("keystone",)

    def applies_to(self, model: str) -> bool:
        return self.models[model].applies


@dataclasses.dataclass(frozen=True)
class Catalog:
    path: Path
    stories: dict[str, str]
    requirements: dict[str, Requirement]

    def get(self, req_id: str) -> Requirement:
        try:
            return self.requirements[req_id]
        except KeyError:
            raise ModelError(f"unknown requirement {req_id!r}") from None


def load_catalog(model: Model, path: Path | None = None) -> Catalog:
    path = Path(path or DEFAULT_CATALOG_PATH)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: catalog not found") from None
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: not valid YAML: {exc}") from None

    def fail(msg: str):
        raise ModelError(f"{path}: {msg}")

    if not isinstance(raw, dict) or raw.get("schema_version") != 1:
        fail("expected a mapping with schema_version: 1")
    stories = {k: v["title"] for k, v in (raw.get("stories") or {}).items()}
    reqs: dict[str, Requirement] = {}
    for i, r in enumerate(raw.get("requirements") or []):
        where = f"requirements[{i}]"
        if not isinstance(r, dict):
            fail(f"{where}: expected a mapping")
        rid = r.get("id", "")
        if not _ID.match(str(rid)):
            fail(f"{where}.id: {rid!r} is not of the form EDGE-AREA-NAME")
        if rid in reqs:
            fail(f"{where}.id: duplicate {rid}")
        if r.get("story") not in stories:
            fail(f"{rid}: unknown story {r.get('story')!r}")
        if not str(r.get("statement", "")).strip():
            fail(f"{rid}: no statement")
        models = {}
        declared = dict(r.get("models") or {})
        # A variant (variant_of) may be left out: it inherits its base's.
        bases = {n for n, dm in model.deployment_models.items()
                 if dm.variant_of is None}
        if not bases <= set(declared) \
                or not set(declared) <= set(model.deployment_models):
            fail(f"{rid}: models must name {', '.join(sorted(bases))} "
                 "(and may name the variants "
                 f"{', '.join(sorted(set(model.deployment_models) - bases))}"
                 ")")
        for n, dm in model.deployment_models.items():
            if n not in declared:
                declared[n] = declared[dm.variant_of]
        for m, v in declared.items():
            if v == "applies":
                models[m] = Applicability(True)
            elif isinstance(v, dict) and str(
                    v.get("not_applicable", "")).strip():
                models[m] = Applicability(False, " ".join(
                    v["not_applicable"].split()))
            else:
                fail(f"{rid}.models.{m}: 'applies' or not_applicable: "
                     "<reason>")
        needs = tuple(r.get("needs") or ())
        for n in needs:
            if n not in CAPABILITIES:
                fail(f"{rid}.needs: unknown capability {n!r}")
        exp = r.get("expectation")
        if exp is not None:
            for m, dm in model.deployment_models.items():
                if exp not in dm.during_partition:
                    fail(f"{rid}.expectation: {exp!r} is not declared by "
                         f"model {m!r} (partition.during)")
        services = tuple(r.get("services") or ())
        for svc in services:
            if svc not in model.services:
                fail(f"{rid}.services: unknown service {svc!r}")
        reqs[rid] = Requirement(rid, r["story"],
                                " ".join(r["statement"].split()), models,
                                needs, exp,
                                tuple(dict.fromkeys(("keystone", *services))))
    return Catalog(path, stories, reqs)
