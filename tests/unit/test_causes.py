"""A failed test's cause in the report is the error's own message, readable
(tracebacks as Tempest's subunit stream carries them)."""

from __future__ import annotations

from edge_refarch.validation.errors import readable_cause

ENDPOINT_NOT_FOUND = """Traceback (most recent call last):
  File "/x/tempest_plugin/tests/api/test_compute.py", line 40, in test_boot
    server = site.servers.create_server(name=name)
  File "/x/tempest/lib/auth.py", line 600, in base_url
    raise exceptions.EndpointNotFound(
tempest.lib.exceptions.EndpointNotFound: Endpoint not found
Details: service: compute, region: RegionTwo, endpoint_type: publicURL, \
catalog: [{'endpoints': [{'id': '1a2b', 'interface': 'public', 'region_id': \
'RegionOne', 'url': 'http://10.0.0.1/identity'}], 'type': 'identity'}]
"""

ASSERTION = """Traceback (most recent call last):
  File "/x/test_images.py", line 88, in test_fetch_during_cut
    self.wait_until("fetch", done, 10)
  File "/x/testtools/testcase.py", line 505, in fail
    raise self.failureException(message)
AssertionError: a glance-download to the cut-off edge neither failed nor \
finished within 10 s
"""

TLS = """Traceback (most recent call last):
  File "/x/keystoneauth1/session.py", line 1100, in _send_request
    resp = self.session.request(method, url, **kwargs)
requests.exceptions.SSLError: HTTPSConnectionPool(host='127.0.3.1', \
port=5000): Max retries exceeded with url: /v3/auth/tokens (Caused by \
SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] \
certificate verify failed: self-signed certificate in certificate chain \
(_ssl.c:1006)')))

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/tempest/lib/common/rest_client.py", line 700, in request
    resp, resp_body = self._request(method, url, headers=headers)
keystoneauth1.exceptions.connection.SSLError: SSL exception connecting to \
https://127.0.3.1:5000/v3/auth/tokens: HTTPSConnectionPool(host='127.0.3.1', \
port=5000): Max retries exceeded with url: /v3/auth/tokens (Caused by \
SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] \
certificate verify failed: self-signed certificate in certificate chain \
(_ssl.c:1006)')))
"""


def test_endpoint_not_found_without_the_catalog_dump():
    cause = readable_cause(ENDPOINT_NOT_FOUND)
    assert cause == ("EndpointNotFound: Endpoint not found Details: "
                     "service: compute, region: RegionTwo, endpoint_type: "
                     "publicURL")


def test_assertion_is_the_tests_own_message():
    assert readable_cause(ASSERTION) == (
        "a glance-download to the cut-off edge neither failed nor finished "
        "within 10 s")


def test_tls_failure_says_why_and_where():
    assert readable_cause(TLS) == (
        "TLS: certificate verify failed: self-signed certificate in "
        "certificate chain (127.0.3.1:5000)")


def test_a_plain_message_and_the_limit():
    assert readable_cause("Unauthorized: the request you have made "
                          "requires authentication") == (
        "Unauthorized: the request you have made requires authentication")
    long = readable_cause("x" * 1000, limit=50)
    assert len(long) == 50 and long.endswith("...")
