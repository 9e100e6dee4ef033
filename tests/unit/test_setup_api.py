"""One-line reasons for failed set-up calls (setup_api.reason, calls)."""

import pytest
from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc

from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import setup_api

# keystoneauth1 5.18 ConnectFailure text, as raised for a refused port.
REFUSED = (
    "Unable to establish connection to http://127.0.9.1:5000/v3/auth/"
    "tokens: HTTPConnectionPool(host='127.0.9.1', port=5000): Max retries "
    "exceeded with url: /v3/auth/tokens (Caused by NewConnectionError(...))")


def test_a_refused_connection_reads_as_one_short_line():
    assert setup_api.reason(ksa_exc.ConnectFailure(REFUSED)) == (
        "Unable to establish connection to "
        "http://127.0.9.1:5000/v3/auth/tokens")


def test_calls_names_the_call_and_drops_the_traceback():
    with pytest.raises(UserError) as err:
        with setup_api.calls("service user nova"):
            raise sdk_exc.ConflictException("Conflict occurred\nmore")
    assert str(err.value) == "service user nova: Conflict occurred"
    assert err.value.__cause__ is None


def test_other_errors_pass_through():
    with pytest.raises(KeyError):
        with setup_api.calls("catalog"):
            raise KeyError("id")
