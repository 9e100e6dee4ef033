"""The plugin's configuration options (tempest.conf).

``edge-refarch conformance config`` writes them from a clouds.yaml and a
site map; the reference page of the docs is generated from these options.
"""

from oslo_config import cfg

service_option = cfg.BoolOpt(
    "edge_refarch", default=True,
    help="Whether to run the edge-refarch conformance tests.")

# heat-tempest-plugin's own option, registered by us when that plugin is
# not installed (the same name and default).
heat_option = cfg.BoolOpt(
    "heat_plugin", default=True,
    help="Whether or not heat is expected to be available")
# telemetry-tempest-plugin's options for the alarm loop's services
# (telemetry_tempest_plugin/config.py), registered by us the same way.
gnocchi_option = cfg.BoolOpt(
    "gnocchi", default=True,
    help="Whether or not Gnocchi is expected to be available")
aodh_option = cfg.BoolOpt(
    "aodh", default=True,
    help="Whether or not Aodh is expected to be available")
# The [service_available] options other plugins own, registered here when
# those plugins are not installed.
foreign_service_options = (heat_option, gnocchi_option, aodh_option)


group = cfg.OptGroup(
    name="edge_refarch",
    title="edge-refarch conformance options",
    help="The deployment under test: its deployment model, its sites and "
         "their WAN links, and the bounds the verdicts use.")

opts = [
    cfg.StrOpt("deployment_model", default="distributed",
               choices=["centralized", "distributed", "federated"],
               help="The architecture's deployment model this deployment "
                    "implements. The suite asserts what that model declares "
                    "for a WAN partition (architecture/model.yaml)."),
    cfg.StrOpt("model_file",
               help="Architecture model to read (default: the one shipped "
                    "with edge-refarch)."),
    cfg.StrOpt("root_site", default="dc",
               help="The regional DC: the site holding the source of "
                    "identity truth."),
    cfg.StrOpt("edge_site", default="edge1",
               help="The edge site the partition tests cut off."),
    cfg.StrOpt("other_edge_site",
               help="A second edge site, checked to be unaffected when "
                    "edge_site is cut off (optional)."),
    cfg.DictOpt("site_identity_uris", default={},
                help="site:URI of the Keystone v3 endpoint a client at that "
                     "site uses, e.g. dc:http://dc.example:5000/v3. Every "
                     "site of the region."),
    cfg.StrOpt("admin_application_credential_id",
               help="Log in as the admin with this application credential "
                    "(Keystone's application_credential method) instead of "
                    "[auth] admin_password; [auth] admin_username, "
                    "admin_project_name and admin_domain_name then name "
                    "the credential's user and project (written by "
                    "'edge-refarch conformance config')."),
    cfg.StrOpt("admin_application_credential_secret", secret=True,
               help="The secret of admin_application_credential_id."),
    cfg.StrOpt("admin_project_domain_name",
               help="The admin project's domain where it differs from the "
                    "admin user's ([auth] admin_domain_name)."),
    cfg.DictOpt("site_clouds", default={},
                help="site:cloud, the clouds.yaml entry each site was "
                     "described from (written by 'edge-refarch conformance "
                     "config'; recorded in the report)."),
    cfg.StrOpt("clouds_file",
               help="The clouds.yaml the sites were described from "
                    "(recorded in the report)."),
    cfg.DictOpt("site_regions", default={},
                help="site:region of each site in the catalog."),
    cfg.DictOpt("site_links", default={},
                help="site:link naming the WAN link (in the fault injector) "
                     "that joins each edge site to the DC, e.g. "
                     "edge1:dc-edge1."),
    cfg.StrOpt("toxiproxy_url",
               help="toxiproxy API carrying the deployment's inter-site "
                    "traffic. Unset: the fault tests are reported as not "
                    "run (no fault injector configured)."),
    cfg.StrOpt("fault_state_dir", default="/tmp/edge-refarch-faults",
               help="Where applied faults are recorded, so a crashed run's "
                    "faults are healed at the next start."),
    cfg.StrOpt("resource_ledger",
               default="/tmp/edge-refarch-resources.jsonl",
               help="File where the tests record each Heat stack they "
                    "create (Heat lists no other project's stacks to the "
                    "admin), so that a stopped run's stacks are deleted at "
                    "the next start or by 'edge-refarch conformance "
                    "cleanup'."),
    cfg.FloatOpt("latency_overshoot_ms", default=0.0, min=0, max=10,
                 help="What the toxiproxy latency toxic adds beyond what it "
                      "is asked for on its machine (Go timers wake up to "
                      "~1 ms late); subtracted from injected latencies. The "
                      "embedded testbed measures it at start-up."),
    cfg.FloatOpt("fail_fast_timeout", default=10.0, min=0.5,
                 help="Seconds within which an operation the model declares "
                      "unavailable during a partition must fail."),
    cfg.FloatOpt("converge_timeout", default=60.0, min=1,
                 help="Seconds within which a healed link must deliver what "
                      "the DC changed (replication, caches)."),
    cfg.FloatOpt("latency_budget_rtt_ms", default=100.0, min=0,
                 help="The DC<->edge round-trip budget the latency test "
                      "applies (the model's budget_rtt_ms for the link "
                      "class)."),
    cfg.IntOpt("image_size_kib", default=2048, min=1,
               help="Size of the images the tests upload."),
    cfg.IntOpt("in_flight_downloads", default=2, min=1,
               help="Image downloads from the DC in flight to an edge "
                    "when its link is slowed, then cut "
                    "(EDGE-PART-DC-AVAILABLE): the transfers the DC's "
                    "image API must serve besides answering everybody "
                    "else."),
    cfg.IntOpt("in_flight_image_mib", default=16, min=1,
               help="Size of the image those downloads fetch, MiB: more "
                    "than the socket buffers between the DC's server and "
                    "the edge hold, so the server is still sending when "
                    "the link goes dark."),
    cfg.IntOpt("in_flight_link_kbps", default=4000, min=8,
               help="Bandwidth of the edge's link, kbit/s, while those "
                    "downloads are in flight (the default makes each "
                    "last about 30 s)."),
    cfg.ListOpt("compute_sites", default=[],
                help="Sites with compute hosts, each an availability zone "
                     "(named after the site unless site_zones says "
                     "otherwise): edge sites and far-edge cloudlets."),
    cfg.DictOpt("site_zones", default={},
                help="site:availability zone of each compute site whose "
                     "zone is not named after the site."),
    cfg.DictOpt("site_parents", default={},
                help="site:parent of each far-edge cloudlet (and edge "
                     "site), as in the architecture model."),
    cfg.DictOpt("federation_idp_uris", default={},
                help="Federated identity (model 'federated'): site:URI of "
                     "the identity provider's Keystone v3 endpoint as a "
                     "client at that site reaches it. Default: the root "
                     "site's identity URI."),
    cfg.DictOpt("federation_service_providers", default={},
                help="Federated identity: site:ID of that site's Keystone "
                     "as a service provider registered at the identity "
                     "provider. Default: the site's name."),
    cfg.StrOpt("federation_idp_id",
               help="Federated identity: the identity provider's ID at "
                    "every service provider (default: the model's "
                    "federation.idp_id)."),
    cfg.StrOpt("federation_domain",
               help="Federated identity: the domain a service provider "
                    "puts federated users and their projects in (default: "
                    "the model's federation.domain)."),
    cfg.ListOpt("federation_mapped_roles", default=[],
                help="Federated identity: the only roles the mapping grants "
                     "(default: the model's federation.mapped_roles)."),
    cfg.ListOpt("partition_modes", default=["refused", "blackhole"],
                item_type=cfg.types.String(choices=["refused", "blackhole"]),
                help="How the fault tests cut a link, each cut test running "
                     "once per mode: 'refused' (connections reset and "
                     "refused, as a site that is down) and 'blackhole' "
                     "(connections accepted, nothing flows: most real WAN "
                     "outages). A mode left out is reported as not run."),
    cfg.BoolOpt("concurrent_edge_cuts", default=False,
                help="Run the tests that stand at nothing but the root site "
                     "and their own edge site first, as two Tempest runs at "
                     "once: the 'blackhole' cuts at other_edge_site beside "
                     "the others at edge_site, so the two modes do not "
                     "double the run (both edge sites may then be cut at "
                     "the same time). Off by default: one such run on the "
                     "testbed failed EDGE-SEC-DISABLE at the second edge "
                     "site with a cause not yet understood."),
    cfg.StrOpt("key_rotation_command",
               help="Day 2: the deployment's own fernet key rotation "
                    "procedure, as a shell command run where the suite "
                    "runs (rotate at the DC and distribute the keys the way "
                    "the deployment does). The suite runs it several "
                    "times, while an edge is cut off as often as the model "
                    "tolerates and once more: that one it must refuse, "
                    "exiting non-zero with the edge's name in its output, "
                    "unless the edge keeps accepting the DC's tokens. "
                    "Unset: the key rotation requirement is reported as "
                    "not run."),
    cfg.StrOpt("credential_key_rotation_command",
               help="Day 2: the deployment's own credential key rotation "
                    "procedure (keystone-manage credential_rotate, then "
                    "credential_migrate, at the DC, and the keys distributed "
                    "the way the deployment does), as a shell command run "
                    "where the suite runs; run several times. Unset: the "
                    "credential key requirement is reported as not run."),
    cfg.StrOpt("replica_status_command",
               help="Day 2, replicated identity: a shell command, run where "
                    "the suite runs, that prints the state of every edge's "
                    "identity replica as a JSON object: site -> {\"state\": "
                    "\"replicating\" | \"reconnecting\" | \"stale\", "
                    "\"last_error\": text}. 'stale' means the replica "
                    "stopped and will not resume by itself. Unset: the "
                    "replica requirements are reported as not run."),
    cfg.StrOpt("binlog_purge_command",
               help="Day 2, replicated identity: a shell command that "
                    "purges the DC's binary log now, as its expiry does "
                    "during a cut longer than the retention. It breaks "
                    "every replica that is behind: set it only with "
                    "replica_reseed_command, and never against a cloud "
                    "whose replicas you cannot rebuild. Unset: "
                    "EDGE-DAY2-REPLICA-PURGED is reported as not run."),
    cfg.StrOpt("replica_reseed_command",
               help="Day 2, replicated identity: a shell command that "
                    "rebuilds the identity replica of the edge named by "
                    "{site} from the DC (the suite runs it to leave the "
                    "edge as it found it after a purge)."),
    cfg.IntOpt("server_build_timeout", default=120, min=1,
               help="Seconds within which a server must become ACTIVE or "
                    "be gone after a delete."),
]

feature_group = cfg.OptGroup(
    name="edge_refarch_feature_enabled",
    title="edge-refarch features of the deployment under test")

feature_opts = [
    cfg.BoolOpt("glance_download", default=True,
                help="Edge Glance APIs offer the glance-download import "
                     "method (distributed model)."),
]


def list_opts():
    """For oslo-config-generator and oslo_config.sphinxext."""
    return [(group, opts), (feature_group, feature_opts)]
