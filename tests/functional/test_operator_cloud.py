"""The suite on an operator's cloud, tried on the testbed described as a
user would describe their own: site names that are not the testbed's,
clouds files that compete, services the cloud lacks, its own toxiproxy.
Each test reproduces a finding of the first run on a cloud built by hand
(issue 17) and shows it fixed."""

from __future__ import annotations

import configparser
import json
import os
import stat

import yaml

from .conftest import assert_all_pass, run_cli, run_requirements

# The testbed's sites under names an operator might use.
NAMES = {"dc": "central", "edge1": "store-17", "edge2": "store-42"}


def _one_line(result, code):
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-refarch: error:"), \
        result.stderr
    assert not lines[0].startswith("edge-refarch: error: edge-refarch"), \
        lines[0]
    return lines[0]


def _site_map(tmp_path, bed, name="sites.yaml", **changes):
    """The testbed as an operator's site map: renamed sites, clouds and
    links as the testbed names them, compute marked."""
    sites = {}
    for site, renamed in NAMES.items():
        spec = {"cloud": site}
        if site != "dc":
            # The testbed's availability zones are named after its sites.
            spec.update(link=f"dc-{site}", compute=True, zone=site)
        sites[renamed] = spec
    smap = {"root": "central", "sites": sites}
    for site, spec in changes.items():
        smap["sites"][site].update(spec)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(smap))
    return path


def _config(bed, tmp_path, smap, *extra, clouds=None, env=None):
    out = tmp_path / "tempest.conf"
    result = run_cli("conformance", "config", "--clouds",
                     clouds or bed.clouds_yaml, "--site-map", str(smap),
                     "--model", "distributed", "-o", str(out), *extra,
                     env=env)
    return result, out


def _read(path):
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(path)
    return cp


def test_clouds_option_wins_over_os_client_config_file(manager, tmp_path):
    """Finding 4: with OS_CLIENT_CONFIG_FILE exported (as the README says
    for the testbed) tempest.conf was written from that file, not from
    --clouds. Here the exported file sends the root cloud to a region that
    does not exist: the run must not read it."""
    bed = manager.ensure("distributed")
    clouds = yaml.safe_load(open(bed.clouds_yaml))
    for cloud in clouds["clouds"].values():
        cloud["region_name"] = "atlantis"
    decoy = tmp_path / "exported.yaml"
    decoy.write_text(yaml.safe_dump(clouds))
    result, out = _config(bed, tmp_path, _site_map(tmp_path, bed),
                          env={"OS_CLIENT_CONFIG_FILE": str(decoy),
                               "OS_CLOUD": "edge2"})
    assert result.returncode == 0, result.stderr
    regions = _read(out)["edge_refarch"]["site_regions"]
    assert "atlantis" not in regions
    assert f"central:{bed.topology.root.region}" in regions


def test_tempest_conf_is_owner_only_and_records_its_clouds(manager,
                                                           tmp_path):
    """Finding 9: tempest.conf, which holds the admin password, was 0644.
    The report must also be able to say which clouds it describes."""
    bed = manager.ensure("distributed")
    out = tmp_path / "tempest.conf"
    out.write_text("")
    out.chmod(0o644)        # an existing file does not keep its mode
    result, out = _config(bed, tmp_path, _site_map(tmp_path, bed))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    er = _read(out)["edge_refarch"]
    assert er["site_clouds"] == "central:dc,store-17:edge1,store-42:edge2"
    assert er["clouds_file"] == os.path.realpath(bed.clouds_yaml)


def test_services_offered_come_from_the_catalog(manager, tmp_path):
    """Finding 1, at config time: [service_available] says what the root's
    catalog offers (the testbed: image, compute, orchestration), and a
    compute service with no site marked for compute is refused."""
    bed = manager.ensure("distributed")
    result, out = _config(bed, tmp_path, _site_map(tmp_path, bed))
    assert result.returncode == 0, result.stderr
    sa = _read(out)["service_available"]
    assert (sa["glance"], sa["nova"], sa["heat_plugin"]) == \
        ("true", "true", "true")
    unmarked = {name: {"compute": False} for name in NAMES.values()}
    line = _one_line(_config(bed, tmp_path, _site_map(
        tmp_path, bed, "unmarked.yaml", **unmarked))[0], 2)
    assert "compute: true" in line


def test_toxiproxy_and_links_checked_at_config_time(manager, tmp_path):
    """Finding 6: a dead toxiproxy URL or a mistyped link name was accepted
    and showed up later as failures with exit 0."""
    bed = manager.ensure("distributed")
    smap = _site_map(tmp_path, bed)
    line = _one_line(_config(bed, tmp_path, smap, "--toxiproxy-url",
                             "http://127.0.0.1:9")[0], 2)
    assert "unreachable" in line and "127.0.0.1:9" in line
    typo = _site_map(tmp_path, bed, "typo.yaml",
                     **{"store-42": {"link": "dc-edge-2"}})
    line = _one_line(_config(bed, tmp_path, typo, "--toxiproxy-url",
                             bed.toxiproxy.url)[0], 2)
    assert "'dc-edge-2'" in line and "dc-edge2" in line
    # Two links swapped: both names exist, but the APIs each edge reaches
    # over its WAN go through the other edge's proxies, so cutting
    # store-17's link would leave its path to the DC open.
    swapped = _site_map(tmp_path, bed, "swapped.yaml",
                        **{"store-17": {"link": "dc-edge2"},
                           "store-42": {"link": "dc-edge1"}})
    line = _one_line(_config(bed, tmp_path, swapped, "--toxiproxy-url",
                             bed.toxiproxy.url)[0], 2)
    assert "no proxy of link 'dc-edge2' listens on" in line, line
    result, _ = _config(bed, tmp_path, smap, "--toxiproxy-url",
                        bed.toxiproxy.url)
    assert result.returncode == 0, result.stderr
    # What no catalog can show is said, not silently passed.
    assert "not checked from a catalog" in result.stderr
    assert "mariadb" in result.stderr


def test_missing_clouds_file(manager, tmp_path):
    """Finding 9: a missing clouds file read "Cloud central was not
    found."."""
    bed = manager.ensure("distributed")
    line = _one_line(_config(bed, tmp_path, _site_map(tmp_path, bed),
                             clouds=str(tmp_path / "none.yaml"))[0], 2)
    assert "no such clouds file" in line


def test_missing_services_are_not_run_and_reports_stay_out_of_the_docs(
        manager, tmp_path):
    """Finding 1: requirements whose service the cloud lacks were reported
    'fail' (EndpointNotFound). Finding 5: a run against a user's cloud
    wrote into the checkout's docs matrix. Here the cloud is said to have
    no compute and no orchestration service: their requirements are not
    run with that cause, the others real; the report goes to the state
    directory and names its target; --strict exits by the failures only."""
    from edge_refarch.validation import paths

    bed = manager.ensure("distributed")
    result, conf = _config(bed, tmp_path, _site_map(tmp_path, bed),
                           "--toxiproxy-url", bed.toxiproxy.url)
    assert result.returncode == 0, result.stderr
    cp = _read(conf)
    cp["service_available"]["nova"] = "false"
    cp["service_available"]["heat_plugin"] = "false"
    with open(conf, "w") as fh:
        cp.write(fh)
    docs = paths.repo_root() / "doc/source/_generated/conformance"
    before = {p: p.stat().st_mtime for p in docs.glob("*")} \
        if docs.exists() else {}
    chosen = ["EDGE-US1-IDENTITY", "EDGE-US5-BOOT", "EDGE-US3-AUTOSCALE-CUT",
              "EDGE-US2-FETCH"]
    args = ["conformance", "run", "--tempest-conf", str(conf)]
    for rid in chosen:
        args += ["--requirement", rid]
    result = run_cli(*args, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    report_dir = paths.conformance_dir(paths.CLOUD) / "report"
    assert f"report: {report_dir / 'distributed.json'}" in result.stdout
    report = json.loads((report_dir / "distributed.json").read_text())
    verdicts = {r["id"]: r for r in report["requirements"]}
    for rid, cause in (
            ("EDGE-US5-BOOT", "the cloud has no compute service "
                              "([service_available] nova = false)"),
            ("EDGE-US3-AUTOSCALE-CUT", "the cloud has no orchestration "
             "service ([service_available] heat_plugin = false)")):
        assert verdicts[rid]["verdict"] == "not_run", verdicts[rid]
        assert cause in verdicts[rid]["reason"], verdicts[rid]
    for rid in ("EDGE-US1-IDENTITY", "EDGE-US2-FETCH"):
        assert verdicts[rid]["verdict"] == "pass", verdicts[rid]
    target = report["target"]
    assert target["kind"] == "cloud"
    assert set(target["sites"]) == set(NAMES.values())
    assert target["sites"]["store-17"]["cloud"] == "edge1"
    assert target["suite_version"]
    after = {p: p.stat().st_mtime for p in docs.glob("*")} \
        if docs.exists() else {}
    assert after == before, "a run against a cloud wrote into the docs"
    assert report["hygiene"]["clean"], report["hygiene"]


def test_run_model_must_agree_with_the_tempest_conf(manager, tmp_path):
    """Finding 9: 'run --model' was silently ignored with --tempest-conf;
    '--model centralised' was an internal error."""
    bed = manager.ensure("distributed")
    result, conf = _config(bed, tmp_path, _site_map(tmp_path, bed))
    assert result.returncode == 0, result.stderr
    line = _one_line(run_cli("conformance", "run", "--tempest-conf",
                             str(conf), "--model", "centralized"), 2)
    assert "describes a distributed deployment" in line
    line = _one_line(run_cli("conformance", "run", "--tempest-conf",
                             str(conf), "--model", "centralised"), 2)
    assert "unknown deployment model 'centralised'" in line


def _clouds_with(bed, tmp_path, name, change):
    """The testbed's clouds.yaml with `change(cloud_entry)` applied to
    every cloud."""
    clouds = yaml.safe_load(open(bed.clouds_yaml))
    for entry in clouds["clouds"].values():
        change(entry)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(clouds))
    return str(path)


def test_unsupported_auth_type_and_domain_ids(manager, tmp_path):
    """Finding 3: the admin domain was written as 'Default' whatever the
    cloud said, and an auth type the suite cannot use crashed. Domains
    given by ID are written by the names Keystone gives them; an auth type
    without a password or application credential is one line, before any
    login."""
    bed = manager.ensure("distributed")
    smap = _site_map(tmp_path, bed)

    def by_id(entry):
        auth = entry["auth"]
        auth.pop("user_domain_name", None)
        auth.pop("project_domain_name", None)
        auth.update(user_domain_id="default", project_domain_id="default")
    result, out = _config(bed, tmp_path, smap,
                          clouds=_clouds_with(bed, tmp_path, "ids.yaml",
                                              by_id))
    assert result.returncode == 0, result.stderr
    assert _read(out)["auth"]["admin_domain_name"] == "Default"

    def oidc(entry):
        entry["auth_type"] = "v3oidcpassword"
    line = _one_line(_config(bed, tmp_path, smap, clouds=_clouds_with(
        bed, tmp_path, "oidc.yaml", oidc))[0], 2)
    assert "auth_type 'v3oidcpassword' is not supported" in line


def test_application_credential_cloud(manager, tmp_path):
    """Finding 3: an application-credential clouds.yaml crashed 'conformance
    config' (KeyError: 'username'). Here the admin has only an application
    credential (created at the DC, replicated to the edges): config writes
    it (no password), and the suite logs in with it everywhere it logs the
    admin in: tokens at every site, glance-download, a boot at the edge,
    concurrent logins."""
    bed = manager.ensure("distributed")
    dc = bed.at("dc").conn
    secret = os.urandom(16).hex()
    cred = dc.identity.create_application_credential(
        user=dc.current_user_id, name="edge-refarch-test-appcred",
        secret=secret)
    try:
        def app_cred(entry):
            entry["auth_type"] = "v3applicationcredential"
            entry["auth"] = {"auth_url": entry["auth"]["auth_url"],
                             "application_credential_id": cred.id,
                             "application_credential_secret": secret}
        clouds = _clouds_with(bed, tmp_path, "appcred.yaml", app_cred)
        result, conf = _config(bed, tmp_path, _site_map(tmp_path, bed),
                               "--toxiproxy-url", bed.toxiproxy.url,
                               clouds=clouds)
        assert result.returncode == 0, result.stderr
        cp = _read(conf)
        assert cp["auth"]["admin_password"] == ""
        assert cp["auth"]["admin_username"] == "admin"
        assert cp["edge_refarch"]["admin_application_credential_id"] == \
            cred.id
        chosen = ["EDGE-US1-IDENTITY", "EDGE-US1-CATALOG", "EDGE-US2-FETCH",
                  "EDGE-US5-BOOT", "EDGE-SEC-ISOLATION"]
        result, report = run_requirements(conf, chosen, tmp_path / "report",
                                          "--strict")
        assert_all_pass(result, report, chosen)
    finally:
        dc.identity.delete_application_credential(dc.current_user_id,
                                                  cred.id)
