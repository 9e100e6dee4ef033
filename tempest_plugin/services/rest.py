"""Tempest's RestClient for APIs whose error bodies do not carry
``error.message``."""

from __future__ import annotations

from tempest.lib import exceptions as lib_exc
from tempest.lib.common import rest_client


class RestClient(rest_client.RestClient):
    """RestClient's error mapping, but an error body without
    ``error.message`` (Heat's and Gnocchi's, often) is reported as it came:
    UnexpectedResponseCode with the status and the body's first 400
    characters."""

    def _error_checker(self, resp, resp_body):
        try:
            super()._error_checker(resp, resp_body)
        except KeyError:
            body = resp_body.decode(errors="replace") \
                if isinstance(resp_body, bytes) else str(resp_body)
            raise lib_exc.UnexpectedResponseCode(
                f"HTTP {resp.status}: {body[:400]}") from None
