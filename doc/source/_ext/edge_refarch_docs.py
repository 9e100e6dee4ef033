"""Sphinx extension: pages generated from the architecture model, the
requirement catalog, the tests and the latest conformance reports.

Directives:

``edge-refarch-overview``     the building blocks, links and models in one
                              diagram (SVG, rendered from the model)
``edge-refarch-topology``     the topology diagram of a deployment model
                              (SVG, rendered from the model at build time)
``edge-refarch-partition``    what each model declares during a partition
``edge-refarch-traceability`` user story -> requirement -> test -> verdict
``edge-refarch-matrix``       models x requirements, verdicts and durations,
                              with a plot
``edge-refarch-identity-matrix`` replicated vs federated identity,
                              requirement by requirement, with evidence
``edge-refarch-cli``          the ``edge-refarch`` command's help
``edge-refarch-bench``        plots of a benchmark's latest results

The build fails when a requirement has no test, a test names an unknown
requirement, or a diagram does not render.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from sphinx.errors import ExtensionError
from sphinx.util import logging

LOG = logging.getLogger(__name__)
VERDICT_TEXT = {"pass": "pass", "fail": "FAIL", "not_applicable": "n/a",
                "not_run": "not run", "no_test": "NO TEST"}


def _model():
    from edge_refarch.architecture import load_model
    return load_model()


def _catalog(model):
    from edge_refarch.architecture.requirements import load_catalog
    return load_catalog(model)


def _tests():
    from edge_refarch.validation.conformance.selection import discover
    return discover()


def _runs(srcdir: Path) -> dict[str, dict]:
    """The latest run of each model in the site, by model: its report, or
    the record of a run that did not complete (``incomplete``: why)."""
    out = {}
    for f in sorted((srcdir / "_generated" / "conformance").glob("*.json")):
        try:
            rep = json.loads(f.read_text())
            out[rep["model"]] = rep
        except (OSError, ValueError, KeyError):
            continue
    return out


def _split_runs(srcdir: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """(the reports of the latest runs that completed, the latest runs
    that did not complete), each by model; the site's reports read once."""
    runs = _runs(srcdir)
    return ({m: r for m, r in runs.items() if not r.get("incomplete")},
            {m: r for m, r in runs.items() if r.get("incomplete")})


def _incomplete_text(rec: dict) -> str:
    return (f"the latest run ({rec['when']}) did not complete: "
            f"{_esc(rec['incomplete'], 300)}; no verdict from it")


def _incomplete_lines(incomplete: dict[str, dict]) -> list[str]:
    return [f"- *{n}*: {_incomplete_text(rec)}."
            for n, rec in incomplete.items()] + [""] if incomplete else []


def log_incomplete_runs(app, exception) -> None:
    """Say at the end of the build's output (where a CI log's tail shows
    it) which model's latest run did not complete; the site says it too,
    in place of its verdicts."""
    if exception is not None:
        return
    for n, rec in _split_runs(Path(app.srcdir))[1].items():
        LOG.info(f"conformance {n}: the latest run ({rec['when']}) did not "
                 f"complete: {rec['incomplete']}")


NO_REPORT = ("No conformance report yet: run ``tox -e conformance``, then "
             "rebuild the docs.")


class _RstDirective(Directive):
    """A directive that emits generated reStructuredText."""

    def runs(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """(the latest conformance reports in the site, the latest runs
        that did not complete), each by model (_split_runs)."""
        return _split_runs(Path(self.state.document.settings.env.srcdir))

    def emit(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="generated"),
                                self.content_offset, container)
        return container.children


def _esc(text: object, limit: int | None = None) -> str:
    from edge_refarch.validation.conformance.report import rst_text
    return rst_text(text, limit)


def _diagram(directive: _RstDirective, stem: str, alt: str,
             caption: str) -> list[nodes.Node]:
    """A generated SVG diagram at its natural size (never wider than the
    text), with a link to the full-size file."""
    env = directive.state.document.settings.env
    rel = f"/_generated/diagrams/{stem}.svg"
    if not (Path(env.srcdir) / rel.lstrip("/")).exists():
        raise directive.error(f"diagram {stem!r} was not rendered")
    # Sphinx copies the image to _images/ under the output's root.
    up = "../" * env.docname.count("/")
    return directive.emit([
        f".. figure:: {rel}", f"   :alt: {alt}", "   :class: diagram",
        f"   :target: {up}_images/{stem}.svg", "",
        f"   {caption} (click for full size)"])


class Topology(_RstDirective):
    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        title = _model().deployment_model(name).title
        return _diagram(self, f"topology-{name}", title,
                        f"{title}: rendered from ``architecture/model.yaml``")


class Overview(_RstDirective):
    def run(self):
        return _diagram(
            self, "overview", "Building blocks and deployment models",
            "The building blocks, their links and budgets, and what each "
            "deployment model keeps at a cut-off edge: rendered from "
            "``architecture/model.yaml``")


class Partition(_RstDirective):
    def run(self):
        model = _model()
        names = list(model.deployment_models)
        keys = list(next(iter(model.deployment_models.values()))
                    .during_partition)
        lines = [".. list-table:: During a partition of one edge site",
                 "   :header-rows: 1", "", "   * - Operation at the edge"]
        lines += [f"     - {model.deployment_models[n].title}"
                  for n in names]
        for k in keys:
            lines.append(f"   * - ``{k}``")
            for n in names:
                value = model.deployment_models[n].during_partition[k]
                lines.append(f"     - {value.replace('_', ' ')}")
        after = list(next(iter(model.deployment_models.values()))
                     .after_heal)
        for k in after:
            lines.append(f"   * - after the heal: ``{k}``")
            lines += [f"     - {model.deployment_models[n].after_heal[k]}"
                      for n in names]
        return self.emit(lines)


class LinkFlows(_RstDirective):
    """Per deployment model: the services whose traffic crosses a WAN
    link (and so must go through the operator's toxiproxy for the fault
    tests to cut it), from the model's flows and catalogs."""

    def run(self):
        from edge_refarch.architecture.topology import Topology
        model = _model()
        lines = []
        for name, dm in model.deployment_models.items():
            topo = Topology(model, name)
            rows: dict[tuple, str] = {}
            for p in topo.proxies:
                src, dst = topo.sites[p.src], topo.sites[p.dst]
                key = (src.tier, dst.tier, p.service)
                flow = next((f for f in dm.flows if
                             (f.from_tier, f.to_tier, f.service) == key),
                            None)
                kind = model.services[p.service].catalog_type
                rows.setdefault(key, flow.purpose if flow else (
                    f"the {kind} endpoint a client there uses (served at "
                    f"the {model.tiers[dst.tier].title.lower()})"
                    if kind else ""))
            lines += [f".. list-table:: {dm.title} (``{name}``)",
                      "   :header-rows: 1", "   :widths: 20 20 15 45", "",
                      "   * - From a site of tier", "     - To a site of tier",
                      "     - Service (port)", "     - Why"]
            for (a, b, svc), why in rows.items():
                port = model.services[svc].port
                lines += [f"   * - {model.tiers[a].title}",
                          f"     - {model.tiers[b].title}",
                          f"     - {model.services[svc].title}"
                          + (f" ({port})" if port else ""),
                          f"     - {_esc(why)}"]
            lines.append("")
        return self.emit(lines)


class Traceability(_RstDirective):
    def run(self):
        model = _model()
        catalog = _catalog(model)
        tests = _tests()
        reports, incomplete = self.runs()
        by_req: dict[str, list[str]] = {}
        for t, reqs in tests.items():
            for r in reqs:
                if r not in catalog.requirements:
                    raise ExtensionError(f"{t} names unknown requirement "
                                         f"{r}")
                by_req.setdefault(r, []).append(t)
        lines = []
        for story, title in catalog.stories.items():
            reqs = [r for r in catalog.requirements.values()
                    if r.story == story]
            lines += [f".. rubric:: {story}: {_esc(title)}", ""]
            if not reqs:
                lines += ["No requirement yet: the compute and autoscaling "
                          "issues bring this story's requirements.", ""]
                continue
            for r in reqs:
                if r.id not in by_req:
                    raise ExtensionError(f"requirement {r.id} has no test")
                lines += [f".. _{r.id}:", "", f"**{r.id}** -- "
                          f"{_esc(r.statement)}", ""]
                for m, app in r.models.items():
                    verdict = "not applicable: " + _esc(app.reason) \
                        if not app.applies else \
                        _verdict(reports, m, r.id, incomplete)
                    lines.append(f"- *{m}*: {verdict}")
                lines.append("- tests:")
                lines.append("")
                for t in sorted(by_req[r.id]):
                    lines.append(f"  - ``{t.split('tests.', 1)[1]}``")
                lines.append("")
        return self.emit(lines)


def _verdict(reports, model, req_id, incomplete) -> str:
    if model in incomplete:
        return _incomplete_text(incomplete[model])
    rep = reports.get(model)
    if rep is None:
        return "no report yet (run ``tox -e conformance``)"
    r = next((x for x in rep["requirements"] if x["id"] == req_id), None)
    if r is None:
        return "not in the latest report"
    text = VERDICT_TEXT[r["verdict"]] + _modes(r)
    if r.get("reason") and r["verdict"] != "pass":
        text += f" ({_esc(r['reason'], 200)})"
    return f"{text}, {r.get('duration_s', 0)} s ({rep['when']})"


class Matrix(_RstDirective):
    def run(self):
        env = self.state.document.settings.env
        model = _model()
        catalog = _catalog(model)
        reports, incomplete = self.runs()
        names = list(model.deployment_models)
        lines = []
        if not reports:
            return self.emit([NO_REPORT, "", *_incomplete_lines(incomplete)])
        plot = _plot(Path(env.srcdir), reports, names)
        lines += [f".. figure:: {plot}", "   :alt: verdicts per model",
                  "   :class: diagram", "",
                  "   Verdicts per deployment model, latest run.", ""]
        lines += [".. list-table::", "   :header-rows: 1", "",
                  "   * - Requirement"]
        lines += [f"     - {n}" for n in names]
        for r in catalog.requirements.values():
            lines.append(f"   * - :ref:`{r.id} <{r.id}>`")
            for n in names:
                rep = reports.get(n)
                entry = next((x for x in (rep or {}).get("requirements", [])
                              if x["id"] == r.id), None)
                if entry is None:
                    lines.append("     - --")
                    continue
                lines.append(f"     - {_cell(entry)}")
        lines.append("")
        for n in names:
            rep = reports.get(n)
            if rep:
                h = rep["hygiene"]
                lines.append(f"- *{n}*: run {rep['when']}, "
                             f"{rep['duration_s']} s; clean-up check "
                             f"{'passed' if h['clean'] else 'FAILED'}.")
        lines += ["", *_incomplete_lines(incomplete)]
        return self.emit(lines)


class StorySummary(_RstDirective):
    """The reader's first question: which deployment model (and identity
    variant) meets which user story, from the latest reports."""

    def run(self):
        model = _model()
        catalog = _catalog(model)
        reports, incomplete = self.runs()
        names = list(model.deployment_models)
        if not reports:
            return self.emit([NO_REPORT, "", *_incomplete_lines(incomplete)])
        lines = [".. list-table:: Which model meets which story (latest "
                 "runs on the embedded testbed; details in "
                 ":doc:`/reference/conformance`)",
                 "   :header-rows: 1", "", "   * - Story"]
        lines += [f"     - {model.deployment_models[n].title} "
                  f"(``{n}``)" for n in names]
        for story, title in catalog.stories.items():
            ids = [r.id for r in catalog.requirements.values()
                   if r.story == story]
            if not ids:
                continue
            lines.append(f"   * - **{story}** {_esc(title)}")
            for n in names:
                entries = [x for x in (reports.get(n) or {}).get(
                    "requirements", []) if x["id"] in ids]
                lines.append(f"     - {_story_cell(entries)}")
        when = ", ".join(f"{n} {reports[n]['when']}" for n in names
                         if n in reports)
        lines += ["", f"Runs: {when}.", "", *_incomplete_lines(incomplete)]
        return self.emit(lines)


def _story_cell(entries: list[dict]) -> str:
    """'meets (4 of 4)', 'fails 2 of 5: ID, ID', 'not applicable', ..."""
    if not entries:
        return "--"
    by: dict[str, list[str]] = {}
    for e in entries:
        by.setdefault(e["verdict"], []).append(e["id"])
    applicable = [e for e in entries if e["verdict"] != "not_applicable"]
    if not applicable:
        return "not applicable"
    if "fail" in by:
        return (f"**fails** {len(by['fail'])} of {len(applicable)}: "
                + ", ".join(f":ref:`{i} <{i}>`" for i in by["fail"]))
    unrun = len(by.get("not_run", [])) + len(by.get("no_test", []))
    if unrun:
        return f"{len(by.get('pass', []))} of {len(applicable)} pass, " \
               f"{unrun} not run"
    return f"meets ({len(applicable)} of {len(applicable)})"


def _modes(entry: dict) -> str:
    """' -- refused: PASS, blackhole: FAIL' for a requirement whose tests
    cut links in several partition modes, else ''."""
    modes = entry.get("modes") or {}
    if not modes:
        return ""
    return " -- " + ", ".join(f"{m}: {VERDICT_TEXT[v['verdict']]}"
                              for m, v in modes.items())


def _cell(entry: dict) -> str:
    cell = VERDICT_TEXT[entry["verdict"]]
    if entry["verdict"] in ("pass", "fail"):
        cell += f" ({entry.get('duration_s', 0)} s)"
    elif entry.get("out_of_scope"):
        cell += " (outside the testbed's scope)"
    return cell + _modes(entry)


def _evidence(entry: dict, limit: int = 300) -> str:
    facts = []
    for t in entry.get("tests", []):
        for ev in t.get("evidence", []):
            facts += [f"{k}: {v}" for k, v in ev.items()]
    return _esc("; ".join(facts), limit)


class IdentityMatrix(_RstDirective):
    """Replicated against federated identity, requirement by requirement
    (every requirement of the catalog), from the latest reports."""

    def run(self):
        model = _model()
        catalog = _catalog(model)
        reports, incomplete = self.runs()
        names = [n for n, dm in model.deployment_models.items()
                 if dm.identity_source in ("replicated", "federated")]
        incomplete = {n: r for n, r in incomplete.items() if n in names}
        if not any(n in reports for n in names):
            return self.emit([NO_REPORT, "", *_incomplete_lines(incomplete)])
        lines = [".. list-table:: Identity options, requirement by "
                 "requirement (latest reports)", "   :header-rows: 1",
                 "   :widths: 20 40 40", "", "   * - Requirement"]
        lines += [f"     - {model.deployment_models[n].title} "
                  f"(``{n}``)" for n in names]
        for r in catalog.requirements.values():
            lines.append(f"   * - :ref:`{r.id} <{r.id}>`")
            for n in names:
                entry = next((x for x in reports.get(n, {}).get(
                    "requirements", []) if x["id"] == r.id), None)
                if entry is None:
                    lines.append("     - --")
                    continue
                text = f"**{_cell(entry)}**"
                why = entry.get("reason") if entry["verdict"] != "pass" \
                    else ""
                if why:
                    text += f" -- {_esc(why, 240)}"
                ev = _evidence(entry)
                if ev:
                    text += f" -- evidence: {ev}"
                lines.append(f"     - {text}")
        lines += ["", *_incomplete_lines(incomplete)]
        return self.emit(lines)


def _plot(srcdir: Path, reports: dict, names: list[str]) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kinds = ["pass", "fail", "not_applicable", "not_run"]
    colors = {"pass": "#2e7d32", "fail": "#c62828",
              "not_applicable": "#9e9e9e", "not_run": "#f9a825"}
    fig, ax = plt.subplots(figsize=(6, 1.2 + 0.5 * len(names)))
    left = [0] * len(names)
    for k in kinds:
        vals = [reports.get(n, {}).get("summary", {}).get(k, 0)
                for n in names]
        ax.barh(names, vals, left=left, color=colors[k],
                label=VERDICT_TEXT[k])
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_xlabel("requirements")
    ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.45),
              frameon=False)
    return _savefig(fig, srcdir, "verdicts")


class Cli(Directive):
    optional_arguments = 10

    def run(self):
        args = self.arguments
        proc = subprocess.run(
            [sys.executable, "-m", "edge_refarch.validation.cli", *args,
             "--help"], capture_output=True, text=True,
            env={"COLUMNS": "79", "PATH": "/usr/bin:/bin"})
        if proc.returncode != 0:
            raise self.error(f"edge-refarch {' '.join(args)} --help failed")
        return [nodes.literal_block(proc.stdout, proc.stdout)]


BENCH = Path(__file__).resolve().parents[3] / "bench" / "results"


def _bench(name: str) -> dict | None:
    try:
        return json.loads((BENCH / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def _savefig(fig, srcdir: Path, name: str) -> str:
    """`fig` as SVG with its text kept as text (so the site's check can
    measure every label); returns its path in the site."""
    import matplotlib.pyplot as plt
    out = srcdir / "_generated" / "plots"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.png"):
        stale.unlink()
    fig.tight_layout()
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(out / f"{name}.svg", metadata={"Date": None})
    plt.close(fig)
    return f"/_generated/plots/{name}.svg"


class Bench(_RstDirective):
    """Plots of a benchmark's latest results (bench/results/NAME.json)."""

    required_arguments = 1

    def run(self):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        env = self.state.document.settings.env
        name = self.arguments[0]
        data = _bench(name)
        cmd = {"arch_sweep": "python -m bench.arch_sweep",
               "testbed_scale": "python -m bench.testbed_bringup --models "
                                "distributed --edges 1 2 5 10 --runs 1 "
                                "--name testbed_scale",
               "fault_fidelity": "python -m bench.fault_fidelity --runs 5",
               "testbed_bringup": "python -m bench.testbed_bringup --runs 3"
               }[name]
        if data is None:
            return self.emit([f"No results yet: run ``{cmd}``."])
        cmd += _bench_options(data)
        srcdir = Path(env.srcdir)
        figs = []
        table: list[str] = []
        if name == "arch_sweep":
            figs, table = _arch_sweep(data, srcdir, plt)
        elif name in ("testbed_scale", "testbed_bringup"):
            runs = list(data["bring_up"].values())
            fig, ax = plt.subplots(figsize=(6, 3.4))
            for model in sorted({r["model"] for r in runs}):
                mine = sorted((r for r in runs if r["model"] == model),
                              key=lambda r: r["edges"])
                ax.plot([r["edges"] for r in mine],
                        [r["seconds"]["median"] for r in mine],
                        marker="o", label=f"{model}: bring-up (s)")
                # PSS counts shared pages once (results from before it
                # was measured carry RSS only).
                kind = "pss" if all("pss_mib_total" in r for r in mine) \
                    else "rss"
                ax.plot([r["edges"] for r in mine],
                        [r[f"{kind}_mib_total"]["median"] / 1024
                         for r in mine],
                        marker="s", linestyle="--",
                        label=f"{model}: {kind.upper()} (GiB)")
            ax.set(xlabel="edge sites", title="testbed scale"
                   if name == "testbed_scale" else
                   "bring-up per model (median of runs)")
            ax.legend(fontsize=8)
            figs.append(_savefig(fig, srcdir, f"{name}"))
            table = _bring_up_notes(data)
        elif name == "fault_fidelity":
            fig, ax = plt.subplots(figsize=(6, 3.2))
            labels = [f"{k} ms" for k in data["latency"]] + \
                [f"{k} Mbit/s" for k in data["bandwidth"]]
            vals = [v["ratio"]["median"] for v in data["latency"].values()] \
                + [v["ratio"]["median"] for v in data["bandwidth"].values()]
            ax.bar(labels, vals, color=["#1565c0"] * len(data["latency"])
                   + ["#2e7d32"] * len(data["bandwidth"]))
            ax.axhspan(0.95, 1.05, color="grey", alpha=0.2)
            ax.set(ylabel="measured / target", ylim=(0.8, 1.15),
                   title="fault fidelity (latency, bandwidth)")
            ax.tick_params(axis="x", rotation=30)
            figs.append(_savefig(fig, srcdir, name))
            bh = data.get("blackhole")
            if bh:
                def after(key):
                    v = bh[key]["median"]
                    return "never" if v == float("inf") else \
                        f"{v * 1000:.1f} ms after the heal"
                table = [
                    f"Black hole on open connections: something crossed "
                    f"while it held in {bh['crossed_runs']} of "
                    f"{data['runs']} runs; the held ping arrived "
                    f"{after('ping_after_heal_s')}, the server's held close "
                    f"{after('close_after_heal_s')} (medians).", ""]
        m = data["machine"]
        lines = []
        for f in figs:
            lines += [f".. figure:: {f}", f"   :alt: {name}",
                      "   :class: diagram", ""]
        lines += table
        lines += [f"Measured {m['when']} at commit ``{m['commit']}`` on "
                  f"{m['cpus']} cores, {m['mem_gib']} GiB, Python "
                  f"{m['python']}. Reproduce: ``{cmd}``.", ""]
        return self.emit(lines)


def _bench_options(data: dict) -> str:
    """The testbed_bringup options a results file records beyond its
    reproduce command's: --without (services left out), --smoke."""
    runs = data.get("bring_up", {}).values()
    return (f" --without {' '.join(data['without'])}"
            if data.get("without") else "") + \
        (" --smoke" if any("smoke_s" in r for r in runs) else "")


def _bring_up_notes(data: dict) -> list[str]:
    """Lines under a bring-up plot: the services left out of every site,
    how long `testbed smoke` took after each bring-up and, where the
    results hold it, what an edge's PSS is made of (medians)."""
    lines = []
    if data.get("without"):
        lines.append("Left out of every site: "
                     + ", ".join(data["without"]) + ".")
    smoked = [(r["model"], r["edges"], r["smoke_s"]["median"])
              for r in data["bring_up"].values() if "smoke_s" in r]
    if smoked:
        lines.append("``testbed smoke`` passed after every bring-up, in "
                     + ", ".join(f"{s:.1f} s ({model}, {n} edge"
                                 f"{'' if n == 1 else 's'})"
                                 for model, n, s in smoked) + ".")
    suffix = "_pss_mib_per_service"     # bench.testbed_bringup's key
    for r in data["bring_up"].values():
        for key, services in r.items():
            if not key.endswith(suffix):
                continue
            site = key.removesuffix(suffix)
            parents = r.get(f"{site}_supervising_parents_pss_mib")
            ranked = sorted(services.items(),
                            key=lambda kv: -kv[1]["median"])
            lines.append(
                f"{r['model']}, {site}'s PSS per service (MiB, medians): "
                + ", ".join(f"{n} {x['median']:.0f}" for n, x in ranked)
                + (f"; of it, {parents['median']:.0f} MiB in supervising "
                   "parent processes (gunicorn, cotyledon masters) that "
                   "serve no request" if parents else "") + ".")
    return [" ".join(lines), ""] if lines else []


def _arch_sweep(data: dict, srcdir: Path, plt) -> tuple[list, list]:
    """bench/results/arch_sweep.json: p50 lines with p95 whiskers per model
    against RTT (identity; fetch per image size), and a table of p50/p95
    with the SLA verdict of each point."""
    spec, budget = data["input"], data["budget_rtt_ms"]
    models = list(data["models"])
    figs = []
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for model in models:
        ident = data["models"][model]["identity"]
        rtts = [int(r) for r in ident]
        for ax, key, title in ((axes[0], "token_issue_ms",
                                "token issue at the edge"),
                               (axes[1], "token_validate_ms",
                                "token validation at the edge")):
            p50 = [ident[str(r)][key]["p50"] for r in rtts]
            p95 = [ident[str(r)][key]["p95"] for r in rtts]
            ax.errorbar(rtts, p50, yerr=[[0] * len(rtts),
                                         [b - a for a, b in
                                          zip(p50, p95, strict=True)]],
                        marker="o", capsize=3, label=f"{model} (p50, p95)")
            ax.set(title=title, xlabel="DC-edge RTT (ms)", ylabel="ms")
    for ax, key in ((axes[0], "token_issue_ms"),
                    (axes[1], "token_validate_ms")):
        limit = spec["sla"].get(key, {}).get("p95_max")
        if limit:
            ax.axhline(limit, color="#c62828", linestyle=":", linewidth=1,
                       label="SLA p95")
        ax.axvline(budget, color="grey", linestyle="--", linewidth=1,
                   label="link budget")
    axes[0].legend(fontsize=9)
    figs.append(_savefig(fig, srcdir, "arch-identity"))
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for model in models:
        fetch = data["models"][model]["fetch"]
        rtts = [int(r) for r in fetch]
        for mib in spec["image_mib"]:
            p50 = [fetch[str(r)][str(mib)]["seconds"]["p50"] for r in rtts]
            p95 = [fetch[str(r)][str(mib)]["seconds"]["p95"] for r in rtts]
            ax.errorbar(rtts, p50, yerr=[[0] * len(rtts),
                                         [b - a for a, b in
                                          zip(p50, p95, strict=True)]],
                        marker="o", capsize=3, label=f"{model}, {mib} MiB")
    ax.axvline(budget, color="grey", linestyle="--", linewidth=1)
    ax.set(title="image fetch from the DC to the edge (p50, p95)",
           xlabel="DC-edge RTT (ms)", ylabel="s")
    ax.legend(fontsize=9)
    figs.append(_savefig(fig, srcdir, "arch-fetch"))

    def cell(stats: dict, fmt: str) -> str:
        verdict = stats.get("sla")
        text = f"{stats['p50']:{fmt}} / {stats['p95']:{fmt}}"
        if verdict is None:
            return text
        return text + (" ok" if verdict["pass"] else
                       " **SLA fail** (" + ", ".join(verdict["failed"])
                       + ")")
    sizes = spec["image_mib"]
    table = [".. list-table:: p50 / p95 per point, with the SLA verdict "
             f"(SLAs: {_esc(_sla_text(spec['sla']))}); RTTs beyond the "
             f"link budget ({budget:g} ms) are marked *",
             "   :header-rows: 1", "",
             "   * - Model", "     - RTT (ms)",
             "     - Token issue (ms)", "     - Token validation (ms)"]
    table += [f"     - Fetch {mib} MiB (s)" for mib in sizes]
    for model in models:
        d = data["models"][model]
        for rtt in d["identity"]:
            ident, fetch = d["identity"][rtt], d["fetch"].get(rtt, {})
            beyond = " *" if float(rtt) > budget else ""
            table += [f"   * - {model}", f"     - {rtt}{beyond}",
                      f"     - {cell(ident['token_issue_ms'], '.0f')}",
                      f"     - {cell(ident['token_validate_ms'], '.0f')}"]
            for mib in sizes:
                point = fetch.get(str(mib))
                if point is None:
                    table.append("     - (not measured)")
                    continue
                ratio = point["link_ratio"]
                verdict = ratio.get("sla", {"pass": True})
                table.append(
                    f"     - {point['seconds']['p50']:.1f} / "
                    f"{point['seconds']['p95']:.1f} "
                    f"({ratio['p50']:.2f} of {point['link_mbit']:g} "
                    "Mbit/s)" + ("" if verdict["pass"] else
                                 " **SLA fail**"))
    return figs, table + [""]


def _sla_text(sla: dict) -> str:
    return "; ".join(f"{key} {stat.replace('_', ' ')} {limit:g}"
                     for key, limits in sla.items()
                     for stat, limit in limits.items())


def render_diagrams(app) -> None:
    from edge_refarch.architecture.diagrams.topology import (
        render,
        render_overview,
    )
    model = _model()
    out = Path(app.srcdir) / "_generated" / "diagrams"
    for stale in out.glob("*.png"):
        stale.unlink()
    jobs = [("overview", lambda: render_overview(model, out))]
    jobs += [(f"topology {name}", lambda n=name: render(model, n, out))
             for name in model.deployment_models]
    for what, job in jobs:
        try:
            path = job()
        except Exception as exc:  # noqa: BLE001 - any failure fails
            raise ExtensionError(f"{what} diagram: {exc}") from exc
        if not path.exists() or path.stat().st_size < 1000:
            raise ExtensionError(f"{what} diagram is empty")


def setup(app):
    app.connect("builder-inited", render_diagrams)
    app.connect("build-finished", log_incomplete_runs)
    directives.register_directive("edge-refarch-topology", Topology)
    directives.register_directive("edge-refarch-overview", Overview)
    directives.register_directive("edge-refarch-partition", Partition)
    directives.register_directive("edge-refarch-traceability", Traceability)
    directives.register_directive("edge-refarch-link-flows", LinkFlows)
    directives.register_directive("edge-refarch-matrix", Matrix)
    directives.register_directive("edge-refarch-story-summary",
                                  StorySummary)
    directives.register_directive("edge-refarch-identity-matrix",
                                  IdentityMatrix)
    directives.register_directive("edge-refarch-cli", Cli)
    directives.register_directive("edge-refarch-bench", Bench)
    return {"version": "1", "parallel_read_safe": True}
