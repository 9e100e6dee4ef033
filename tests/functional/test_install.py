"""Every installer fails fast with a one-line cause under a broken setting
(a CA that does not sign the registry's certificate, a missing tool), with
the real tools against the real registries, in an empty cache."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from edge_refarch.validation.docs import install as docs_install
from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import deps


def _say(message: str) -> None:
    pass


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_REFARCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("EDGE_REFARCH_MMDC", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def wrong_ca(tmp_path):
    """A CA certificate (PEM) that signs nobody's certificate."""
    key, pem = tmp_path / "ca.key", tmp_path / "wrong-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(pem),
                    "-days", "1", "-subj", "/CN=edge-refarch wrong CA"],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return str(pem)


def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_npm_with_a_wrong_ca(empty_cache, wrong_ca, monkeypatch):
    monkeypatch.setenv("npm_config_cafile", wrong_ca)
    monkeypatch.setenv("npm_config_cache", str(empty_cache / "npm"))
    with pytest.raises(UserError) as err:
        docs_install.install_mermaid_cli(_say)
    line = _one_line(err)
    assert line.startswith(f"npm install {docs_install.MERMAID_CLI} failed: ")
    assert "certificate" in line, line


def test_npm_missing(empty_cache, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="npm is not installed"):
        docs_install.install_mermaid_cli(_say)


def test_pip_venv_with_a_wrong_ca(empty_cache, wrong_ca, monkeypatch):
    # pip's requests prefers REQUESTS_CA_BUNDLE (and CURL_CA_BUNDLE) to
    # PIP_CERT: a machine's wrong CA may come through any of them.
    for var, value in (("PIP_CERT", wrong_ca), ("PIP_RETRIES", "0"),
                       ("REQUESTS_CA_BUNDLE", wrong_ca),
                       ("CURL_CA_BUNDLE", wrong_ca),
                       ("PIP_NO_CACHE_DIR", "1"), ("PIP_FIND_LINKS", "")):
        monkeypatch.setenv(var, value)
    venv = empty_cache / "venvs" / "probe-1"
    with pytest.raises(UserError) as err:
        deps._venv(venv, getattr(sys, "_base_executable", sys.executable),
                   ["PyYAML"], "a probe package", "~5 s", _say)
    line = _one_line(err)
    assert line.startswith("installing a probe package failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in line or "certificate" in line, \
        line
    assert not (venv / ".edge-refarch-complete").exists()


def test_go_build_with_a_wrong_ca(empty_cache, wrong_ca, monkeypatch):
    for var, value in (("SSL_CERT_FILE", wrong_ca),
                       ("SSL_CERT_DIR", str(empty_cache)),
                       ("GIT_SSL_CAINFO", wrong_ca),
                       ("GOMODCACHE", str(empty_cache / "gomod")),
                       ("GOCACHE", str(empty_cache / "gobuild"))):
        monkeypatch.setenv(var, value)
    with pytest.raises(UserError) as err:
        deps.ensure_toxiproxy("v2.12.0", _say)
    line = _one_line(err)
    assert line.startswith(f"go mod tidy ({deps.TOXIPROXY_MODULE}@v2.12.0)"
                           " failed: ")
    assert "certificate" in line or "x509" in line, line
    assert deps.toxiproxy_binary("v2.12.0") is None


def test_go_missing(empty_cache, monkeypatch):
    monkeypatch.setenv("EDGE_REFARCH_GO", "/nonexistent/go")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="Go is not available to build it"):
        deps.ensure_toxiproxy("v2.12.0", _say)


def test_apt_with_a_package_it_cannot_find(empty_cache, tmp_path):
    bindep = tmp_path / "bindep.txt"
    bindep.write_text("edge-refarch-no-such-package [platform:dpkg probe]\n")
    with pytest.raises(UserError) as err:
        deps.ensure_packages("probe", _say, bindep)
    line = _one_line(err)
    assert "Unable to locate package edge-refarch-no-such-package" in line


def test_apt_missing(empty_cache, tmp_path, monkeypatch):
    bindep = tmp_path / "bindep.txt"
    bindep.write_text("edge-refarch-no-such-package [platform:dpkg probe]\n")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="install them with: sudo apt-get "
                                        "install -y edge-refarch-no-such"):
        deps.ensure_packages("probe", _say, bindep)
