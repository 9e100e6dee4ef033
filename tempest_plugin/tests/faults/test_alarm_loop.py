"""User story 3 as a cloud runs it: Aodh alarms on Gnocchi metrics scale an
autoscaling group at an edge site, connected and cut off from the DC."""

import datetime
import time

from keystoneauth1 import discover as ks_discover
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.services.metric import MetricClient
from edge_refarch.tempest_plugin.tests.faults.test_autoscale import (
    PARAMETERS,
    AutoscaleBase,
    scaling_group,
    scaling_policy,
)

CONF = config.CONF

# What Ceilometer's Gnocchi publisher writes and Heat's autoscaling examples
# (heat-templates, hot/autoscaling.yaml) alarm on: the group's servers carry
# metering.server_group = the stack's ID, the publisher copies it into the
# instance resource's server_group, and each alarm aggregates the metric
# over the resources of that group. The resource type and archive policy are
# what ceilometer-upgrade creates (the testbed's set-up creates them too).
METRIC = "cpu_util"
RESOURCE_TYPE = "instance"
ARCHIVE_POLICY = "ceilometer-high"
HIGH, LOW = 80.0, 20.0                  # thresholds, percent
BUSY, IDLE = 95.0, 5.0                  # the load the test writes
# Seconds per measure (the archive policy's finest granularity) and the
# periods an alarm averages.
GRANULARITY_S = 1
EVALUATION_PERIODS = 3
# Seconds of measures one publish() writes at most (the gap since the
# last one).
BACKFILL_S = 10


def _alarm(operator: str, threshold: float, policy: str) -> dict:
    return {
        "type": "OS::Aodh::GnocchiAggregationByResourcesAlarm",
        "properties": {
            "metric": METRIC, "aggregation_method": "mean",
            "granularity": GRANULARITY_S,
            "evaluation_periods": EVALUATION_PERIODS,
            "threshold": threshold, "comparison_operator": operator,
            "resource_type": RESOURCE_TYPE,
            "alarm_actions": [{"str_replace": {
                "template": "trust+url",
                "params": {"url": {"get_attr": [policy, "signal_url"]}}}}],
            "query": {"str_replace": {
                "template": '{"=": {"server_group": "STACK"}}',
                "params": {"STACK": {"get_param": "OS::stack_id"}}}},
        }}


TEMPLATE = {
    "heat_template_version": "2021-04-16",
    "parameters": PARAMETERS,
    "resources": {
        # Aodh repeats an alarm's actions at every evaluation while it
        # holds (repeat_actions, Heat's default): the group's bounds make
        # each phase of the test one scaling step.
        "group": scaling_group(2, metadata={
            "metering.server_group": {"get_param": "OS::stack_id"}}),
        "scale_out": scaling_policy(1),
        "scale_in": scaling_policy(-1),
        "load_high": _alarm("gt", HIGH, "scale_out"),
        "load_low": _alarm("lt", LOW, "scale_in"),
    },
}


class Publisher:
    """What a metric publisher does for the group's servers at the edge:
    an instance resource in Gnocchi per server (created once), and one
    measure of `load` per server each time publish() is called. The
    resources are deleted when the test ends."""

    def __init__(self, tc: "AlarmLoopTest", stack_id: str):
        self.tc = tc
        self.stack_id = stack_id
        self.known: set[str] = set()
        # The last second a measure was written for (epoch seconds).
        self.last = 0
        tc.addCleanup(self.delete_resources)

    def metric(self) -> MetricClient:
        clients = self.tc.site(self.tc.edge)
        return MetricClient(clients.auth, "metric", clients.region,
                            http_timeout=self.tc.http_timeout())

    def servers(self) -> list[dict]:
        """The group's servers: those whose metadata names the stack."""
        return [s for s in self.tc.site(self.tc.edge).servers.list_servers(
                    detail=True)["servers"]
                if s["metadata"].get("metering.server_group")
                == self.stack_id and s["status"] != "DELETED"]

    def publish(self, load: float, metric: MetricClient | None = None
                ) -> int:
        """Measures of `load` (percent) for every server of the group: one
        per second since the last call (at most BACKFILL_S), as a
        publisher sampling every GRANULARITY_S writes them whatever the
        pace of the calls; returns how many servers they were written
        for."""
        metric = metric or self.metric()
        now = int(time.time())
        first = max(self.last + GRANULARITY_S, now - BACKFILL_S)
        measures = [{"timestamp": datetime.datetime.fromtimestamp(
                        t, datetime.UTC).isoformat(), "value": load}
                    for t in range(first, now + 1, GRANULARITY_S)]
        servers = self.servers()
        for server in servers:
            if server["id"] not in self.known:
                self._resource(metric, server)
            metric.add_measures(server["id"], METRIC, measures)
        self.last = now
        return len(servers)

    def _resource(self, metric: MetricClient, server: dict) -> None:
        try:
            metric.create_resource(RESOURCE_TYPE, {
                "id": server["id"], "display_name": server["name"],
                "flavor_id": server["flavor"].get("id") or
                server["flavor"].get("original_name", ""),
                "image_ref": (server.get("image") or {}).get("id", ""),
                "host": server.get("OS-EXT-SRV-ATTR:host") or "",
                "server_group": self.stack_id,
                "project_id": server["tenant_id"],
                "user_id": server["user_id"],
                "metrics": {METRIC: {"archive_policy_name":
                                     ARCHIVE_POLICY}}})
        except lib_exc.Conflict:
            pass                    # written before this call
        self.known.add(server["id"])

    def delete_resources(self) -> None:
        metric = self.metric()
        for rid in sorted(self.known):
            try:
                metric.delete_resource(RESOURCE_TYPE, rid)
            except lib_exc.NotFound:
                pass


class AlarmLoopTest(AutoscaleBase):

    lists_servers = True    # Publisher.servers

    def load_until(self, publisher: Publisher, name: str, stack_id: str,
                   load: float, size: int) -> float:
        """Write `load` for the group's servers every second until the
        group has `size` servers, every one ACTIVE in the edge's zone;
        returns the seconds from the first measure."""
        start = time.monotonic()
        metric = publisher.metric()

        def reached():
            publisher.publish(load, metric)
            members = self.members(self.edge, name, stack_id)
            if len(members) != size or not all(
                    m["resource_status"].endswith("_COMPLETE")
                    for m in members):
                time.sleep(GRANULARITY_S)
                return False
            servers = self.site(self.edge).servers
            for m in members:
                try:
                    server = servers.show_server(
                        m["physical_resource_id"])["server"]
                except lib_exc.NotFound:
                    return False    # scaled in since the listing
                if server["status"] == "ERROR":
                    raise AssertionError(f"server {server['id']} ERROR")
                if server["status"] != "ACTIVE":
                    return False
                self.assertEqual(self.zone_of(self.edge),
                                 server["OS-EXT-AZ:availability_zone"])
            return True
        self.wait_until(f"the alarm loop brings the group to {size} "
                        f"servers at load {load:g} %", reached,
                        CONF.edge_refarch.server_build_timeout)
        return time.monotonic() - start

    def assert_trusts_writable(self) -> None:
        """Aodh writes an alarm's trust at the first public identity
        endpoint of the user's catalog (keystoneclient with no region:
        aodh/keystone_client.py create_trust_id), and Keystone orders a
        catalog by random endpoint IDs: every such endpoint must accept the
        user's trust, or alarm creation works only by the luck of the
        order. Each trust written here is deleted again."""
        clients = self.site(self.edge)
        token, access = clients.auth.get_auth()
        user = access["user"]["id"]
        trustee = clients.users.list_users(name="aodh")["users"]
        self.assertTrue(trustee, "no aodh service user to trust")
        endpoints = [(e["region_id"], e["url"].rstrip("/"))
                     for svc in access["catalog"] if svc["type"] == "identity"
                     for e in svc["endpoints"] if e["interface"] == "public"]
        verify = CONF.identity.ca_certificates_file or True
        session = ks_session.Session(verify=verify, timeout=self.fail_fast)
        refused = []
        for region, listed in endpoints:
            # A catalog may list Keystone without its version (devstack:
            # http://HOST/identity); keystoneclient discovers /v3 from the
            # listed URL, and so does this probe.
            try:
                url = ks_discover.Discover(
                    session, listed, authenticated=False).url_for("3.0")
            except ks_exc.ClientException as exc:
                refused.append(f"{region} ({listed}): version discovery "
                               f"failed: {type(exc).__name__}")
                continue
            if url is None:
                refused.append(f"{region} ({listed}): no identity v3")
                continue
            url = url.rstrip("/")
            body = {"trust": {"trustor_user_id": user,
                              "trustee_user_id": trustee[0]["id"],
                              "project_id": access["project"]["id"],
                              "impersonation": True,
                              "roles": [{"name": "admin"}]}}
            headers = {"X-Auth-Token": token}
            try:
                r = session.post(f"{url}/OS-TRUST/trusts", json=body,
                                 headers=headers, raise_exc=False)
            except ks_exc.ClientException as exc:
                refused.append(f"{region} ({url}): {type(exc).__name__}")
                continue
            if r.status_code != 201:
                refused.append(f"{region} ({url}): HTTP {r.status_code}")
                continue
            session.delete(f"{url}/OS-TRUST/trusts/{r.json()['trust']['id']}",
                           headers=headers, raise_exc=False)
        self.evidence(identity_endpoints=[r for r, _ in endpoints])
        if refused:
            self.fail(
                "Aodh writes an alarm's trust at the first identity endpoint "
                "of the user's catalog (no region), and the catalog's order "
                "is not defined; these identity endpoints of "
                f"{self.edge}'s catalog refuse the user's trust: "
                + "; ".join(refused))

    @decorators.idempotent_id("9c0fce2c-f29e-455b-be34-89647d993203")
    @requirement("EDGE-US3-ALARM-LOOP")
    def test_alarm_loop_at_cut_off_edge(self):
        """Fails when the alarm loop (measures in Gnocchi, Aodh alarms,
        Heat scaling policies) at an edge does not scale the group out on
        high load and in on low load connected; when at the cut-off edge
        it does not do what the model declares (scale out and in, or the
        edge's measures fail fast); and when after the heal the stack is
        not consistent or, where the loop failed during the cut, it does
        not scale again."""
        self.assert_trusts_writable()
        _, image = self.image_at(self.edge)
        flavor = self.create_flavor(self.site(self.edge))
        name, stack = self.create_stack(self.edge, TEMPLATE, {
            "image": image["id"], "flavor": flavor,
            "zone": self.zone_of(self.edge)})
        sid = stack["id"]
        self.wait_stack(self.edge, name, sid, ("CREATE_COMPLETE",))
        publisher = Publisher(self, sid)
        out = self.load_until(publisher, name, sid, BUSY, 2)
        in_ = self.load_until(publisher, name, sid, IDLE, 1)
        self.evidence(load_to_active_connected_s=round(out, 2),
                      load_to_scaled_in_connected_s=round(in_, 2))
        expectation = self.expect("alarm_evaluation_at_edge")
        self.cut(self.edge)
        if expectation == "works":
            out = self.load_until(publisher, name, sid, BUSY, 2)
            in_ = self.load_until(publisher, name, sid, IDLE, 1)
            self.evidence(load_to_active_cut_s=round(out, 2),
                          load_to_scaled_in_cut_s=round(in_, 2))
        else:
            took = self.assert_fails_fast(
                "a measure written at the cut-off edge",
                lambda: publisher.publish(BUSY))
            self.evidence(during_cut=f"measure failed in {took:.2f} s")
        self.injector().heal(self.link_of(self.edge))

        def settled():
            st = self.orchestration(self.edge).show_stack(name, sid)
            return st["stack_status"].endswith("_COMPLETE")
        self.wait_until("stack consistent after the heal", settled,
                        self.converge)
        self.assertEqual(1, len(self.members(self.edge, name, sid)))
        if expectation != "works":
            # The loop that failed during the cut works again.
            after = self.load_until(publisher, name, sid, BUSY, 2)
            self.evidence(load_to_active_after_heal_s=round(after, 2))


class AlarmLoopBlackholeTest(AlarmLoopTest):
    """The same, with the link cut as a black hole."""

    partition_mode = "blackhole"
