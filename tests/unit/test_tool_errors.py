"""A failed installer or service tool is reported by the line of its output
that says why, not by its last line (outputs as the tools print them)."""

from __future__ import annotations

import sys

import pytest

from edge_refarch.validation.errors import UserError, first_line
from edge_refarch.validation.testbed.procs import cause_of, run_tool

# Long lines as the tools print them, cut here only to fit the source.
NPM_TLS = (
    "npm error code SELF_SIGNED_CERT_IN_CHAIN\n"
    "npm error errno SELF_SIGNED_CERT_IN_CHAIN\n"
    "npm error request to https://registry.example/@mermaid-js%2fmermaid-cli"
    " failed, reason: self-signed certificate in certificate chain\n"
    "npm error A complete log of this run can be found in: /root/.npm/_logs/"
    "x.log\n")
PIP_TLS = (
    "WARNING: Retrying (Retry(total=0, connect=None, read=None, "
    "redirect=None, status=None)) after connection broken by 'SSLError("
    "SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
    "certificate verify failed: unable to get local issuer certificate "
    "(_ssl.c:1006)'))': /simple/keystone/\n"
    "ERROR: Could not find a version that satisfies the requirement "
    "keystone (from versions: none)\n"
    "ERROR: No matching distribution found for keystone\n")
GO_TLS = (
    "go: github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0: Get "
    "\"https://goproxy.example/github.com/!shopify/toxiproxy/v2/@v/"
    "v2.12.0.info\": tls: failed to verify certificate: x509: certificate "
    "signed by unknown authority\n")
APT_MISSING = """\
Reading package lists...
Building dependency tree...
E: Unable to locate package edge-refarch-no-such-package
"""


@pytest.mark.parametrize("output, words", [
    (NPM_TLS, "self-signed certificate in certificate chain"),
    (PIP_TLS, "CERTIFICATE_VERIFY_FAILED"),
    (GO_TLS, "x509: certificate signed by unknown authority"),
    (APT_MISSING, "Unable to locate package edge-refarch-no-such-package"),
    ("", "?"),
])
def test_the_line_that_says_why(output, words):
    assert words in cause_of(output)
    assert "\n" not in cause_of(output)


def test_a_failing_tool_is_one_line_with_its_cause(tmp_path):
    script = "import sys; print('npm error A complete log of this run x'," \
             " file=sys.stderr); print('reason: connection refused'," \
             " file=sys.stderr); sys.exit(3)"
    log = tmp_path / "tool.log"
    with pytest.raises(UserError) as err:
        run_tool([sys.executable, "-c", script], "npm install x", log=log)
    assert str(err.value) == ("npm install x failed: reason: connection "
                              f"refused (full output: {log})")
    assert "connection refused" in log.read_text()


def test_a_missing_tool_is_one_line():
    with pytest.raises(UserError, match="^npm install x: /nonexistent/npm "
                                        "not found$"):
        run_tool(["/nonexistent/npm"], "npm install x")


def test_a_hung_tool_is_bounded():
    with pytest.raises(UserError, match="timed out after 1 s"):
        run_tool([sys.executable, "-c", "import time; time.sleep(30)"],
                 "slow tool", timeout=1)


@pytest.mark.parametrize(("exc", "limit", "line"), [
    (ValueError("first\nsecond"), None, "first"),
    (ValueError("abcdef"), 3, "abc"),
    (ValueError(""), 200, "ValueError"),
    (OSError(), None, "OSError"),
    (RuntimeError(" \nsecond"), None, "RuntimeError"),
])
def test_first_line_of_an_exception(exc, limit, line):
    assert first_line(exc, limit) == line
