"""A conformance run that did not complete withdraws the earlier run's
verdicts from the site: the pages say why it did not complete, never an
earlier verdict as the latest."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from docutils.core import publish_doctree

from edge_refarch.architecture import load_model
from edge_refarch.architecture.requirements import load_catalog
from edge_refarch.validation.conformance import report

EXT = Path(__file__).resolve().parents[2] / "doc" / "source" / "_ext" / \
    "edge_refarch_docs.py"
WHY = "edge2.keystone: edge2.shibd ended during start-up (killed by SIGSEGV)"


def _ext():
    spec = importlib.util.spec_from_file_location("edge_refarch_docs", EXT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _site(tmp_path) -> Path:
    """A site source whose federated run completed and was then followed
    by one that did not."""
    out = tmp_path / "_generated" / "conformance"
    out.mkdir(parents=True)
    catalog = load_catalog(load_model())
    report.write(report.build(catalog, "federated", {}, {}, {},
                              {"users": 1}, {"users": 1}, [], 1.0), out)
    report.write_incomplete("federated", WHY, out)
    return tmp_path


def test_the_latest_run_is_the_incomplete_one(tmp_path):
    ext, site = _ext(), _site(tmp_path)
    reports, incomplete = ext._split_runs(site)
    assert reports == {}
    assert list(incomplete) == ["federated"]
    verdict = ext._verdict(reports, "federated", "EDGE-US1-IDENTITY",
                           incomplete)
    assert "did not complete" in verdict and "pass" not in verdict


def test_the_notice_parses_and_says_why(tmp_path):
    ext, site = _ext(), _site(tmp_path)
    rst = "\n".join(ext._incomplete_lines(ext._split_runs(site)[1]))
    doc = publish_doctree(rst)
    assert not list(doc.findall(lambda n: n.tagname == "system_message"))
    assert WHY in doc.astext()
