"""User story 3: instance autoscale at an edge site cut off from the DC."""

import json
import time
import uuid

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.services.orchestration import (
    OrchestrationClient,
)
from edge_refarch.tempest_plugin.tests import base
from edge_refarch.validation.conformance import ledger

CONF = config.CONF

def scaling_group(max_size: int, **server: object) -> dict:
    """An OS::Heat::AutoScalingGroup of 1 to `max_size` servers with no
    network in the zone of parameter `zone` (image and flavor from the
    parameters of those names; `server`: more server properties)."""
    return {
        "type": "OS::Heat::AutoScalingGroup",
        "properties": {
            "min_size": 1, "max_size": max_size, "desired_capacity": 1,
            "resource": {
                "type": "OS::Nova::Server",
                "properties": {
                    "image": {"get_param": "image"},
                    "flavor": {"get_param": "flavor"},
                    "availability_zone": {"get_param": "zone"},
                    "networks": [{"allocate_network": "none"}],
                    **server,
                }}}}


def scaling_policy(adjustment: int) -> dict:
    """An OS::Heat::ScalingPolicy of the resource ``group``, by
    `adjustment` servers, with no cooldown."""
    return {"type": "OS::Heat::ScalingPolicy",
            "properties": {"adjustment_type": "change_in_capacity",
                           "auto_scaling_group_id": {"get_resource": "group"},
                           "scaling_adjustment": adjustment, "cooldown": 0}}


# The parameters of every autoscaling template here.
PARAMETERS = {"image": {"type": "string"}, "flavor": {"type": "string"},
              "zone": {"type": "string"}}

# One policy each way. The group's members are counted from its nested
# stack, not from its current_size attribute (which lags under fast
# polling).
TEMPLATE = {
    "heat_template_version": "2021-04-16",
    "parameters": PARAMETERS,
    "resources": {"group": scaling_group(4),
                  "scale_out": scaling_policy(1),
                  "scale_in": scaling_policy(-1)},
}


class AutoscaleBase(base.EdgeRefarchTest):
    """The autoscaling group's life at a cut-off edge, as the user
    `self.heat_user` logs in (default: the admin)."""

    partition_mode = "refused"
    site_local = True   # the DC and edge_site only
    heat_user: base.SiteClients | None = None

    def orchestration(self, site: str) -> OrchestrationClient:
        clients = self.heat_user if self.heat_user is not None \
            and self.heat_user.name == site else self.site(site)
        return OrchestrationClient(
            clients.auth, "orchestration", clients.region,
            http_timeout=self.http_timeout())

    def create_stack(self, site: str, template: dict,
                     parameters: dict) -> tuple[str, dict]:
        """A stack of `template` at `site` (its name and the create
        response's stack), recorded in the suite's ledger at once (Heat
        lists no other project's stacks to the admin who cleans up after a
        stopped run; validation/conformance/ledger.py) and deleted when
        the test ends."""
        name = f"edge-refarch-{uuid.uuid4().hex[:10]}"
        stack = self.orchestration(site).create_stack(name, template,
                                                      parameters)
        ledger.record(CONF.edge_refarch.resource_ledger, "stack", site,
                      ledger.stack_url(stack))
        self.addCleanup(delete_stack, self, name, stack["id"])
        return name, stack

    def members(self, site: str, name: str, stack_id: str) -> list[dict]:
        """The group's servers (type OS::Nova::Server, nested stack)."""
        return [r for r in self.orchestration(site).list_resources(
                name, stack_id, nested_depth=2)
                if r["resource_type"] == "OS::Nova::Server"]

    def wait_stack(self, site: str, name: str, stack_id: str,
                   statuses: tuple[str, ...]) -> dict:
        seen = {}

        def done():
            seen.update(self.orchestration(site).show_stack(name, stack_id))
            if seen["stack_status"].endswith("_FAILED"):
                raise AssertionError(f"stack {seen['stack_status']}: "
                                     f"{seen.get('stack_status_reason')}")
            return seen["stack_status"] in statuses
        self.wait_until(f"stack {name} {'/'.join(statuses)}", done,
                        CONF.edge_refarch.server_build_timeout)
        return dict(seen)

    def scale(self, site: str, name: str, stack_id: str, policy: str,
              size: int) -> float:
        """Signal `policy`; seconds until the group has `size` servers,
        every one ACTIVE, and the policy's signal is complete."""
        heat = self.orchestration(site)
        before = {e["id"] for e in heat.resource_events(name, stack_id,
                                                         policy)}
        start = time.monotonic()
        heat.signal(name, stack_id, policy)

        def reached():
            events = [e for e in self.orchestration(site).resource_events(
                name, stack_id, policy) if e["id"] not in before]
            if not any(e["resource_status"] == "SIGNAL_COMPLETE"
                       for e in events):
                return False
            members = self.members(site, name, stack_id)
            return len(members) == size and all(
                m["resource_status"].endswith("_COMPLETE")
                for m in members)
        self.wait_until(f"group at {size} after {policy}", reached,
                        CONF.edge_refarch.server_build_timeout)
        took = time.monotonic() - start
        servers = self.site(site).servers
        for m in self.members(site, name, stack_id):
            server = servers.show_server(m["physical_resource_id"])["server"]
            self.assertEqual("ACTIVE", server["status"])
            self.assertEqual(self.zone_of(self.edge),
                             server["OS-EXT-AZ:availability_zone"])
        return took

    def autoscale_through_cut(self, image: dict) -> dict:
        """Create the group with `image` (at the edge), scale it out
        connected, cut the edge's link, signal as the model declares,
        heal, and scale in; returns the stack as it ended."""
        flavor = self.create_flavor(self.site(self.edge))
        name, stack = self.create_stack(self.edge, TEMPLATE, {
            "image": image["id"], "flavor": flavor, "zone":
                self.zone_of(self.edge)})
        self.wait_stack(self.edge, name, stack["id"], ("CREATE_COMPLETE",))
        connected = self.scale(self.edge, name, stack["id"], "scale_out", 2)
        expectation = self.expect("autoscale_at_edge")
        self.cut(self.edge)
        if expectation == "works":
            out = self.scale(self.edge, name, stack["id"], "scale_out", 3)
            in_ = self.scale(self.edge, name, stack["id"], "scale_in", 2)
            size = 2
            self.evidence(signal_to_size_connected_s=round(connected, 2),
                          signal_to_size_cut_out_s=round(out, 2),
                          signal_to_size_cut_in_s=round(in_, 2))
        else:
            took = self.assert_fails_fast(
                "scaling signal at the cut-off edge",
                lambda: self.orchestration(self.edge).signal(
                    name, stack["id"], "scale_out"))
            size = 2
            self.evidence(signal_to_size_connected_s=round(connected, 2),
                          during_cut=f"signal failed in {took:.2f} s")
        self.injector().heal(self.link_of(self.edge))

        def settled():
            st = self.orchestration(self.edge).show_stack(name, stack["id"])
            return st["stack_status"].endswith("_COMPLETE")
        self.wait_until("stack consistent after the heal", settled,
                        self.converge)
        self.assertEqual(size, len(self.members(self.edge, name,
                                                stack["id"])))
        after = self.scale(self.edge, name, stack["id"], "scale_in",
                           size - 1)
        self.evidence(signal_to_size_after_heal_s=round(after, 2))
        return self.orchestration(self.edge).show_stack(name, stack["id"])


class AutoscaleTest(AutoscaleBase):

    @decorators.idempotent_id("d12ceeff-8d51-4076-85fa-e3a4008ab3e8")
    @requirement("EDGE-US3-AUTOSCALE-CUT")
    def test_autoscale_at_cut_off_edge(self):
        """Fails when an autoscaling group at a cut-off edge does not do
        what the model declares for scaling signals: scale out and in
        (distributed), or fail fast (centralized); and when after the heal
        the stack is not consistent or scaling does not work."""
        _, image = self.image_at(self.edge)
        self.autoscale_through_cut(image)


class FederatedAutoscaleTest(AutoscaleBase):

    @decorators.idempotent_id("5b0e7c1d-2f43-4a8e-9c61-7d2e4f9a3b18")
    @requirement("EDGE-FED-AUTOSCALE")
    def test_federated_user_autoscales_at_cut_off_edge(self):
        """Fails when a user of the DC, logged in at the edge by K2K (a
        federated user of the edge's Keystone, with the roles the mapping
        grants), cannot create an autoscaling group there, or when Heat,
        acting for that user through its trust, does not scale the group
        at the cut-off edge as the model declares."""
        project = self.create_project()
        member = self.create_member(project["id"],
                                    roles=self.federation()["mapped_roles"])
        at_dc = self.as_user(self.root, member, project)
        at_edge = self.as_user(self.edge, member, project)
        src = self.create_image(at_dc, self.image_data())
        image = self.copy_image(src, at_edge, at_root=at_dc)
        user = at_edge.auth.get_auth()[1]["user"]
        self.heat_user = at_edge
        stack = self.autoscale_through_cut(image)
        # Heat acted for the federated user through a trust that user
        # gave at the edge's Keystone (deferred_auth_method = trusts).
        self.assertEqual(user["name"], stack["stack_owner"])
        _, body = self.site(self.edge).identity.get(
            f"OS-TRUST/trusts?trustor_user_id={user['id']}")
        trusts = json.loads(body)["trusts"]
        self.assertTrue(trusts, f"no trust of federated user {user['id']} "
                        f"at {self.edge}")
        self.evidence(federated_user_id=user["id"],
                      trustee_user_ids=sorted(
                          t["trustee_user_id"] for t in trusts))


def delete_stack(tc: AutoscaleBase, name: str, stack_id: str) -> None:
    """Delete the stack (and so its servers) and wait until it is gone."""
    heat = tc.orchestration(tc.edge)
    try:
        heat.delete_stack(name, stack_id)
    except lib_exc.NotFound:
        return

    def gone():
        try:
            st = tc.orchestration(tc.edge).show_stack(name, stack_id)
        except lib_exc.NotFound:
            return True
        if st["stack_status"] == "DELETE_FAILED":
            raise AssertionError(st.get("stack_status_reason"))
        return st["stack_status"] == "DELETE_COMPLETE"
    tc.wait_until(f"stack {name} deleted", gone,
                  CONF.edge_refarch.server_build_timeout)


class AutoscaleBlackholeTest(AutoscaleTest):
    """The same, with the link cut as a black hole (connections accepted,
    nothing flows), as most real WAN outages are."""

    partition_mode = "blackhole"


class FederatedAutoscaleBlackholeTest(FederatedAutoscaleTest):
    """The same, with the link cut as a black hole."""

    partition_mode = "blackhole"
