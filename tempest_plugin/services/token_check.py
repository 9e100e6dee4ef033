"""Does a service API accept a given token? A thin client for the
revocation requirements: every API of a site, not only its Keystone.

A service behind keystonemiddleware answers 401 to a token it does not
accept; any other status (200, or 403 for a role the caller lacks) means it
took the token for valid. Tempest's clients authenticate as their own
credentials, so this one sends the token it is given, as a user's client
does (``X-Auth-Token``).
"""

from __future__ import annotations

import requests

# catalog type -> a cheap authenticated GET below the catalog URL, one per
# API reference (docs.openstack.org/api-ref): image v2 "List images",
# compute "List Servers", placement "List resource providers", networking
# v2 "List networks", orchestration "List stacks" (its catalog URL already
# names the project).
PROBES = {
    "image": "/v2/images?limit=1",
    "compute": "/servers?limit=1",
    "placement": "/resource_providers?limit=1",
    "network": "/v2.0/networks?limit=1",
    "orchestration": "/stacks?limit=1",
}


def service_endpoints(token_body: dict, region: str) -> dict[str, str]:
    """Catalog type -> public URL in `region`, for every API of PROBES the
    token's catalog (a ``GET /v3/auth/tokens`` body) lists there."""
    out = {}
    for svc in token_body["token"].get("catalog") or []:
        if svc["type"] not in PROBES:
            continue
        for ep in svc["endpoints"]:
            if ep["interface"] == "public" and \
                    region in (ep.get("region_id"), ep.get("region")):
                out[svc["type"]] = ep["url"].rstrip("/")
    return out


def accepted(url: str, service_type: str, token: str,
             timeout: float, verify: bool | str = True) -> bool:
    """Whether the API at `url` (of `service_type`) accepts `token`: False
    on 401, True on any other answer. Raises requests' exceptions when it
    cannot be reached within `timeout` seconds. `verify`: requests' TLS
    verification."""
    resp = requests.get(url + PROBES[service_type], timeout=timeout,
                        verify=verify,
                        headers={"X-Auth-Token": token,
                                 "Accept": "application/json"})
    return resp.status_code != 401
