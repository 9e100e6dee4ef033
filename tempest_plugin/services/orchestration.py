"""A small Heat (orchestration) service client.

Tempest itself ships no orchestration client any more (it moved to
heat-tempest-plugin); this is the part of the Heat API the conformance
tests use, on Tempest's RestClient: authentication, the catalog lookup by
region, request logging and error mapping come from it.
"""

from __future__ import annotations

import json

from edge_refarch.tempest_plugin.services.rest import RestClient


class OrchestrationClient(RestClient):

    def _json(self, resp, body, expect):
        self.expected_success(expect, resp.status)
        return json.loads(body) if body else {}

    def create_stack(self, name: str, template: dict,
                     parameters: dict | None = None) -> dict:
        body = json.dumps({"stack_name": name, "template": template,
                           "parameters": parameters or {},
                           "timeout_mins": 10})
        resp, out = self.post("stacks", body)
        return self._json(resp, out, 201)["stack"]

    def show_stack(self, name: str, stack_id: str) -> dict:
        resp, out = self.get(f"stacks/{name}/{stack_id}")
        return self._json(resp, out, 200)["stack"]

    def delete_stack(self, name: str, stack_id: str) -> None:
        resp, _ = self.delete(f"stacks/{name}/{stack_id}")
        self.expected_success(204, resp.status)

    def list_resources(self, name: str, stack_id: str,
                       nested_depth: int = 0) -> list[dict]:
        resp, out = self.get(f"stacks/{name}/{stack_id}/resources"
                             f"?nested_depth={nested_depth}")
        return self._json(resp, out, 200)["resources"]

    def signal(self, name: str, stack_id: str, resource: str) -> None:
        resp, _ = self.post(
            f"stacks/{name}/{stack_id}/resources/{resource}/signal", "{}")
        self.expected_success(200, resp.status)

    def resource_events(self, name: str, stack_id: str,
                        resource: str) -> list[dict]:
        resp, out = self.get(
            f"stacks/{name}/{stack_id}/resources/{resource}/events")
        return self._json(resp, out, 200)["events"]
