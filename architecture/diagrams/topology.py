"""The topology of the MVP per deployment model, drawn from the model.

Reads like the topology it draws: a cluster per site (grouped by tier), a
node per service the model places there, an edge per WAN link labelled with
the link class's defaults. Nothing is placed by hand: add a site, a service
or a link to architecture/model.yaml and the picture follows.

    python -m edge_refarch.architecture.diagrams.topology OUTDIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from diagrams import Cluster, Diagram, Edge, Node
from diagrams.generic.database import SQL
from diagrams.generic.storage import Storage
from diagrams.onprem.inmemory import Memcached
from diagrams.onprem.queue import RabbitMQ
from diagrams.openstack.compute import Nova
from diagrams.openstack.networking import Neutron
from diagrams.openstack.sharedservices import Glance, Keystone

from edge_refarch.architecture import Model, load_model
from edge_refarch.validation.topology import Topology

ICONS = {"keystone": Keystone, "glance": Glance, "nova": Nova,
         "nova-cell": Nova, "nova-compute": Nova, "neutron": Neutron,
         "rabbitmq": RabbitMQ, "mariadb": SQL, "memcached": Memcached}


def _node(service, label: str) -> Node:
    cls = ICONS.get(service.name, Storage)
    return cls(label.replace(" (", "\n("))


def render(model: Model, deployment: str, outdir: Path,
           edges: int | None = None) -> Path:
    topo = Topology(model, deployment, edges)
    dm = topo.deployment
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"topology-{deployment}"
    graph_attr = {"fontsize": "20", "pad": "0.4", "splines": "curved",
                  "nodesep": "0.5", "ranksep": "1.2"}
    with Diagram(f"{dm.title}", filename=str(path), show=False,
                 outformat="png", direction="TB", curvestyle="curved",
                 graph_attr=graph_attr):
        nodes: dict[tuple[str, str], Node] = {}
        anchors = {}
        for site in topo.sites.values():
            tier = model.tiers[site.tier].title
            with Cluster(f"{site.name} ({tier})"):
                for s in site.services:
                    nodes[site.name, s] = _node(model.services[s],
                                                model.services[s].title)
                apis = [s for s in site.services
                        if model.services[s].role == "api"]
                first = apis[0] if apis else (
                    site.services[0] if site.services else None)
                anchors[site.name] = nodes[site.name, first] if first \
                    else Storage("users only\n(no control plane)")
        for link in topo.links.values():
            label = (f"{link.name}\n{link.latency_ms * 2:g} ms RTT, "
                     f"{link.bandwidth_mbit:g} Mbit/s")
            anchors[link.a] >> Edge(label=label, style="bold",
                                    color="darkorange", dir="both") \
                >> anchors[link.b]
        for flow in dm.flows:
            for site in topo.sites.values():
                if not site.parent:
                    continue
                parent = topo.sites[site.parent]
                pairs = []
                if (site.tier, parent.tier) == (flow.from_tier,
                                                flow.to_tier):
                    pairs.append((site.name, parent.name))
                if (parent.tier, site.tier) == (flow.from_tier,
                                                flow.to_tier):
                    pairs.append((parent.name, site.name))
                for src, dst in pairs:
                    # From the service that connects to the flow's target.
                    start = nodes.get((src, flow.by or flow.service)) \
                        or anchors[src]
                    start >> Edge(
                        label=flow.purpose.split("(")[0].strip(),
                        style="dashed", color="steelblue") \
                        >> nodes[dst, flow.service]
    return path.with_suffix(".png")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else ".")
    model = load_model()
    for name in model.deployment_models:
        print(render(model, name, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
