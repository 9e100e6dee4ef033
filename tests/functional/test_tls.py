"""The suite against a cloud whose APIs serve HTTPS with a private CA: the
testbed brought up with --tls (gunicorn serves TLS itself, one certificate
for every site's address, signed by the testbed's own CA). The CLI runs
with the machine's CA bundle only, so the private CA is trusted through
what the operator wrote (clouds.yaml cacert, tempest.conf [identity]
ca_certificates_file) or not at all (issue 17, findings 2 and 7: cacert
was dropped, the CA option ignored, TLS errors cut before the reason)."""

from __future__ import annotations

import configparser
import os
import stat

import yaml

from .conftest import (
    MACHINE_CA_BUNDLE,
    assert_all_pass,
    run_cli,
    run_requirements,
)

MODEL = "distributed-tls"   # the ordering key of conftest: the last bed

# The machine's trust store, and nothing that trusts the testbed's CA.
MACHINE_ONLY = {"REQUESTS_CA_BUNDLE": MACHINE_CA_BUNDLE,
                "SSL_CERT_FILE": MACHINE_CA_BUNDLE}


def _site_map(tmp_path):
    path = tmp_path / "sites.yaml"
    path.write_text(yaml.safe_dump({"root": "dc", "sites": {
        "dc": {"cloud": "dc"},
        "edge1": {"cloud": "edge1", "link": "dc-edge1", "compute": True},
        "edge2": {"cloud": "edge2", "link": "dc-edge2", "compute": True}}}))
    return str(path)


def _config(bed, tmp_path, clouds, name):
    out = tmp_path / name
    return run_cli("conformance", "config", "--clouds", clouds,
                   "--site-map", _site_map(tmp_path), "--model",
                   "distributed", "--toxiproxy-url", bed.toxiproxy.url,
                   "-o", str(out), env=MACHINE_ONLY), out


def test_private_ca_from_clouds_yaml_reaches_every_client(manager,
                                                          tmp_path):
    bed = manager.ensure("distributed", tls=True)
    clouds = yaml.safe_load(open(bed.clouds_yaml))
    ca = clouds["clouds"]["dc"]["cacert"]
    assert all(c["auth"]["auth_url"].startswith("https://")
               for c in clouds["clouds"].values())

    # Without the CA: one readable line naming the TLS failure.
    for entry in clouds["clouds"].values():
        entry.pop("cacert")
    bare = tmp_path / "no-ca.yaml"
    bare.write_text(yaml.safe_dump(clouds))
    result, _ = _config(bed, tmp_path, str(bare), "no-ca.conf")
    assert result.returncode == 1, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "TLS: certificate verify failed: " \
        "unable to get local issuer certificate (127.0.1.1:5000)" in line, \
        line

    # With it: tempest.conf carries it in Tempest's own option.
    result, conf = _config(bed, tmp_path, bed.clouds_yaml, "tempest.conf")
    assert result.returncode == 0, result.stderr
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(conf)
    assert cp["identity"]["ca_certificates_file"] == os.path.realpath(ca)
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600

    # Every client of the suite honours it: the tests (Tempest's clients,
    # keystoneauth sessions, the token checks at every service API, the
    # concurrent logins), the counts and the clean-up.
    chosen = ["EDGE-US1-IDENTITY", "EDGE-US2-FETCH", "EDGE-US5-BOOT",
              "EDGE-SEC-REVOKE", "EDGE-SEC-ISOLATION"]
    result, report = run_requirements(conf, chosen, tmp_path / "report",
                                      "--strict", env=MACHINE_ONLY)
    assert_all_pass(result, report, chosen)

    # The same tempest.conf without the CA option: one line, exit 1.
    cp.remove_option("identity", "ca_certificates_file")
    with open(conf, "w") as fh:
        cp.write(fh)
    result = run_cli("conformance", "run", "--tempest-conf", str(conf),
                     "--requirement", "EDGE-US1-IDENTITY", "--report-dir",
                     str(tmp_path / "report2"), env=MACHINE_ONLY)
    assert result.returncode == 1, result.stdout + result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "TLS: certificate verify failed" in line, \
        line
