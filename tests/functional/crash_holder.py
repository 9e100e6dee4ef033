"""Run by test_crash_safety: create a Heat stack at edge1 as a user of a
project of its own (recorded in the suite's ledger, as the tests record
theirs), partition edge1's link, start a glance-download there, report,
then wait to be killed with SIGKILL."""

import json
import os
import sys
import time
import uuid

import openstack

from edge_refarch.architecture import load_model
from edge_refarch.validation import paths
from edge_refarch.validation.conformance import ledger
from edge_refarch.validation.faults.faults import FaultInjector, Links
from edge_refarch.validation.images import raw_image
from edge_refarch.validation.testbed.smoke import connect
from edge_refarch.validation.testbed.testbed import (
    Testbed,
    running_model_file,
)

mode = sys.argv[1]
# The model the running testbed was brought up with (the functional tests
# scope theirs): its links' proxies are the ones to cut.
testbed = Testbed(load_model(running_model_file()))
topo = testbed.topology()
clouds = testbed.recorded()["clouds_yaml"]
dc, edge = connect(clouds, "dc"), connect(clouds, "edge1")
name = f"edge-refarch-crash-{os.getpid()}"
src = dc.image.create_image(name=name, data=raw_image(8 << 20),
                            disk_format="raw", container_format="bare",
                            use_import=False, wait=True)
src = dc.image.get_image(src.id)
edge.authorize()

# A stack only its owner's project lists: the admin finds it by the ledger.
project = dc.identity.create_project(name=name, domain_id="default")
password = uuid.uuid4().hex
user = dc.identity.create_user(name=name, password=password,
                               domain_id="default")
dc.identity.assign_project_role_to_user(
    project, user, dc.identity.find_role("member"))
owner = openstack.connection.Connection(
    auth={"auth_url": edge.config.config["auth"]["auth_url"],
          "username": name, "password": password,
          "user_domain_id": "default", "project_id": project.id},
    region_name=edge.config.region_name,
    verify=edge.config.config.get("verify", True),
    cacert=edge.config.config.get("cacert"))
stack = owner.orchestration.post("/stacks", json={
    "stack_name": name, "template": {
        "heat_template_version": "2018-08-31",
        "resources": {"word": {"type": "OS::Heat::RandomString"}}}}).json()[
    "stack"]
stack_url = ledger.stack_url(stack)
ledger.record(sys.argv[2], "stack", "edge1", stack_url)
injector = FaultInjector(testbed.toxiproxy, Links.from_topology(topo),
                         paths.state_dir().parent)
injector.partition("dc-edge1", mode).apply()
tgt = edge.image.create_image(name=name, disk_format="raw",
                              container_format="bare")
edge.image.import_image(tgt, method="glance-download", remote_region="dc",
                        remote_image_id=src.id,
                        remote_service_interface="public")
print(json.dumps({"edge_image": tgt.id, "checksum": src.checksum,
                  "stack": stack_url}), flush=True)
while True:
    time.sleep(60)
