"""A small Gnocchi (metric) service client: what a metric publisher such as
Ceilometer's Gnocchi publisher does, on Tempest's RestClient.

Gnocchi REST API v1 (gnocchi.osci.io/rest.html): a resource of a type with
its metrics, and measures posted to one of them.
"""

from __future__ import annotations

import json

from edge_refarch.tempest_plugin.services.rest import RestClient


class MetricClient(RestClient):

    def create_resource(self, resource_type: str, body: dict) -> dict:
        """POST /v1/resource/<type>; 201 with the resource."""
        resp, out = self.post(f"v1/resource/{resource_type}",
                              json.dumps(body))
        self.expected_success(201, resp.status)
        return json.loads(out)

    def delete_resource(self, resource_type: str, resource_id: str) -> None:
        resp, _ = self.delete(f"v1/resource/{resource_type}/{resource_id}")
        self.expected_success(204, resp.status)

    def add_measures(self, resource_id: str, metric: str,
                     measures: list[dict]) -> None:
        """POST measures ({"timestamp": ISO 8601, "value": float}) to a
        resource's metric; 202: accepted, aggregated by metricd later."""
        resp, _ = self.post(
            f"v1/resource/generic/{resource_id}/metric/{metric}/measures",
            json.dumps(measures))
        self.expected_success(202, resp.status)
