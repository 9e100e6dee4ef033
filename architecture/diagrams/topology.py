"""The architecture's diagrams, drawn from the model with graphviz (SVG).

Two kinds, both generated, never drawn by hand:

* ``overview.svg``: the building blocks (tiers), the WAN link classes with
  their budgets, and per deployment model what runs on each tier and what a
  cut-off edge keeps or loses (with what the identity variants change).
* ``topology-<model>.svg``: one box per site of the default region (tiers
  top to bottom), a row per service the model places there, a solid edge per
  WAN link labelled with its defaults, a dashed edge per cross-site flow from
  the service that opens it to the one it reaches. Services the embedded
  testbed does not deploy for the model are drawn grey and say so.

The SVGs are sized to read at the site's text width (about 820 CSS px at a
1280 px window): the docs check measures every label and fails below 9 px.
Add a site, a service or a link to architecture/model.yaml and the pictures
follow.

    python -m edge_refarch.architecture.diagrams.topology OUTDIR
"""

from __future__ import annotations

import html
import sys
import textwrap
from pathlib import Path

import graphviz

from edge_refarch.architecture import Model, load_model
from edge_refarch.architecture.topology import Topology

FONT = "Helvetica"
# Point sizes (1 pt = 4/3 CSS px at natural size).
TITLE_PT, LABEL_PT, SMALL_PT = "14", "11", "10"
TIER_COLOURS = {"regional_dc": "#e3ecf7", "edge": "#e6f2e6",
                "far_edge": "#fbf0dc"}
ROLE_ORDER = {"api": 0, "worker": 1, "database": 2, "queue": 3, "cache": 4}
LINK_COLOUR, FLOW_COLOUR, ABSENT_COLOUR = "#c05800", "#2f5f98", "#8a8a8a"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _graph(name: str, title: str) -> graphviz.Digraph:
    g = graphviz.Digraph(name, format="svg", engine="dot")
    g.attr(label=title, labelloc="t", fontname=FONT, fontsize=TITLE_PT,
           rankdir="TB", nodesep="0.35", ranksep="0.6", newrank="true")
    g.attr("node", shape="plain", fontname=FONT, fontsize=LABEL_PT)
    g.attr("edge", fontname=FONT, fontsize=SMALL_PT)
    return g


def _link_label(name: str, rtt_ms: float, mbit: float,
                budget_ms: float) -> str:
    return (f"{name}\n{rtt_ms:g} ms RTT, {mbit:g} Mbit/s\n"
            f"(budget {budget_ms:g} ms)")


def _site_label(model: Model, site, deployed: set[str]) -> str:
    """A site's box: name, tier, a row per service (a PORT per row, for
    the flows); services not in `deployed` grey and starred."""
    services = site.services
    rows = [f'<TR><TD ALIGN="LEFT"><B>{_e(site.name)}</B></TD></TR>',
            f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="{SMALL_PT}">'
            f'<I>{_e(model.tiers[site.tier].title)}</I></FONT></TD></TR>']
    for s in sorted(services, key=lambda s: (
            ROLE_ORDER.get(model.services[s].role, 9),
            list(model.services).index(s))):
        title = _e(model.services[s].title)
        port = f' PORT="{_e(s)}"'
        if s in deployed:
            rows.append(f'<TR><TD ALIGN="LEFT"{port}>{title}</TD></TR>')
        else:
            rows.append(f'<TR><TD ALIGN="LEFT"{port}><FONT COLOR='
                        f'"{ABSENT_COLOUR}">{title} *</FONT></TD></TR>')
    if not services:
        rows.append('<TR><TD ALIGN="LEFT"><I>users only</I></TD></TR>')
    return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" '
            f'CELLPADDING="2" STYLE="ROUNDED" '
            f'BGCOLOR="{TIER_COLOURS.get(site.tier, "#f2f2f2")}">'
            + "".join(rows) + "</TABLE>>")


def topology_graph(model: Model, deployment: str,
                   edges: int | None = None) -> graphviz.Digraph:
    """The topology of `deployment` (a graphviz digraph, not rendered)."""
    topo = Topology(model, deployment, edges)
    bed = Topology(model, deployment, edges, testbed=True)
    dm = topo.deployment
    g = _graph(f"topology-{deployment}", dm.title)
    absent = False
    by_tier: dict[str, list[str]] = {}
    for site in topo.sites.values():
        deployed = set(bed.sites[site.name].services)
        absent |= bool(set(site.services) - deployed)
        g.node(site.name, _site_label(model, site, deployed))
        by_tier.setdefault(site.tier, []).append(site.name)
    for names in by_tier.values():
        with g.subgraph() as same:
            same.attr(rank="same")
            for n in names:
                same.node(n)
    for link in topo.links.values():
        g.edge(link.a, link.b, label=_link_label(
            link.name, link.latency_ms * 2, link.bandwidth_mbit,
            link.budget_rtt_ms), dir="both", color=LINK_COLOUR,
            fontcolor=LINK_COLOUR, penwidth="2")
    legend = []
    for number, flow in enumerate(dm.flows, 1):
        tag = f"F{number}"
        legend.append(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{FLOW_COLOUR}">'
                      f'{tag}</FONT></TD><TD ALIGN="LEFT">'
                      f'{_wrap(flow.purpose, 70)}</TD></TR>')
        for site in topo.sites.values():
            if not site.parent:
                continue
            parent = topo.sites[site.parent]
            pairs = []
            if (site.tier, parent.tier) == (flow.from_tier, flow.to_tier):
                pairs.append((site, parent))
            if (parent.tier, site.tier) == (flow.from_tier, flow.to_tier):
                pairs.append((parent, site))
            for src, dst in pairs:
                start = flow.by or flow.service
                tail = f"{src.name}:{start}" if start in src.services \
                    else src.name
                g.edge(tail, f"{dst.name}:{flow.service}", label=tag,
                       style="dashed", color=FLOW_COLOUR,
                       fontcolor=FLOW_COLOUR, constraint="false")
    if legend:
        g.node("flows", f'<<TABLE BORDER="0" CELLSPACING="0" '
               f'CELLPADDING="2"><TR><TD ALIGN="LEFT" COLSPAN="2"><B>'
               f'Cross-site flows</B> (dashed, from the service that '
               f'connects)</TD></TR>{"".join(legend)}</TABLE>>')
        # Under the last tier's first site.
        g.edge(list(by_tier.values())[-1][0], "flows", style="invis")
    if absent:
        g.attr(label=f"{dm.title}\n* not deployed by the embedded testbed "
               "for this model")
    return g


def _verb(value: str) -> str:
    return {"works": "keeps", "fails_fast": "loses",
            "unknown": "unknown"}.get(value, value.replace("_", " "))


def _operation(key: str) -> str:
    return key.replace("_at_edge", "").replace("_", " ")


def overview_graph(model: Model) -> graphviz.Digraph:
    """Tiers, link classes with budgets, and per deployment model what runs
    on each tier and what a cut-off edge keeps and loses (graphviz digraph,
    not rendered)."""
    g = _graph("overview", model.title)
    g.attr(ranksep="0.45")
    bases = {n: dm for n, dm in model.deployment_models.items()
             if not dm.variant_of}
    variants = [dm for dm in model.deployment_models.values()
                if dm.variant_of]
    for name, dm in bases.items():
        with g.subgraph(name=f"cluster_{name}") as c:
            c.attr(label=dm.title, fontsize="12", style="rounded",
                   color="#9a9a9a")
            tiers = list(model.tiers)
            for tier in tiers:
                services = dm.services_at(tier)
                apis = [model.services[s].title.split(" (")[0]
                        for s in services
                        if model.services[s].role == "api"]
                what = (", ".join(apis) if apis else
                        "compute hosts only" if services else "users only")
                label = (f'<<TABLE BORDER="1" CELLBORDER="0" '
                         f'CELLSPACING="0" CELLPADDING="3" STYLE="ROUNDED" '
                         f'BGCOLOR="{TIER_COLOURS.get(tier, "#f2f2f2")}">'
                         f'<TR><TD><B>{_e(model.tiers[tier].title)}</B>'
                         f'</TD></TR><TR><TD><FONT POINT-SIZE="{SMALL_PT}">'
                         f'{_wrap(what, 34)}</FONT></TD></TR></TABLE>>')
                c.node(f"{name}.{tier}", label)
            for lc in model.links.values():
                a, b = lc.between
                c.edge(f"{name}.{a}", f"{name}.{b}",
                       label=_link_label(lc.name, lc.latency_ms * 2,
                                         lc.bandwidth_mbit,
                                         lc.budget_rtt_ms),
                       dir="both", color=LINK_COLOUR,
                       fontcolor=LINK_COLOUR, penwidth="2")
            lines = [f"identity: {dm.identity_source}"]
            cut = dm.during_partition
            keeps = [_operation(k) for k, v in cut.items() if v == "works"]
            loses = [_operation(k) for k, v in cut.items()
                     if v == "fails_fast"]
            lines.append("a cut-off edge keeps: "
                         + (", ".join(keeps) or "nothing"))
            lines.append("loses: " + (", ".join(loses) or "nothing"))
            for v in variants:
                if v.variant_of != name:
                    continue
                changed = [f"{_verb(val)} {_operation(k)}"
                           for k, val in v.during_partition.items()
                           if cut.get(k) != val and val != "not_applicable"]
                lines.append(f"identity: {v.identity_source} "
                             f"({', '.join(changed) or 'same verdicts'})")
            note = "".join(
                f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="{SMALL_PT}">'
                f'{_wrap(line, 44)}</FONT></TD></TR>' for line in lines)
            c.node(f"{name}.note", f'<<TABLE BORDER="0" CELLSPACING="0" '
                   f'CELLPADDING="1">{note}</TABLE>>')
            c.edge(f"{name}.{tiers[-1]}", f"{name}.note", style="invis")
    return g


def _wrap(text: str, width: int) -> str:
    """`text` escaped for a graphviz HTML label and broken at spaces into
    lines of at most `width` characters."""
    return "".join(f'{_e(line)}<BR ALIGN="LEFT"/>'
                   for line in textwrap.wrap(text, width)) or _e(text)


def _write(g: graphviz.Digraph, outdir: Path, name: str) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    svg = g.pipe(format="svg", encoding="utf-8")
    path = outdir / f"{name}.svg"
    path.write_text(svg)
    return path


def render(model: Model, deployment: str, outdir: Path,
           edges: int | None = None) -> Path:
    """Write ``topology-<deployment>.svg`` into `outdir`; returns its path.
    Raises ModelError for an unknown model, graphviz's
    ExecutableNotFound/CalledProcessError when ``dot`` is missing or
    fails."""
    return _write(topology_graph(model, deployment, edges), outdir,
                  f"topology-{deployment}")


def render_overview(model: Model, outdir: Path) -> Path:
    """Write ``overview.svg`` into `outdir`; returns its path."""
    return _write(overview_graph(model), outdir, "overview")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else ".")
    model = load_model()
    print(render_overview(model, out))
    for name in model.deployment_models:
        print(render(model, name, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
