"""Keystone-to-Keystone federation on the testbed (identity: federated).

The root site's Keystone is a SAML2 identity provider: it signs assertions
with xmlsec1 and publishes its metadata. Every other site's Keystone is a
service provider: Apache (mod_wsgi) serves it, mod_shib and shibd check the
assertion against the identity provider's metadata, installed at set-up.
Each service provider has the identity provider registered with a domain
whose ID is derived from the identity provider, a mapping (schema 3.0) that
grants the model's `mapped_roles`, and the saml2 protocol.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import uuid
from pathlib import Path

import requests

from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import probes, setup_api, templates
from edge_refarch.validation.testbed.keystone import Keystone
from edge_refarch.validation.testbed.service import Server, tcp_health

APACHE = os.environ.get("EDGE_REFARCH_APACHE", "/usr/sbin/apache2")
APACHE_MODULES = Path("/usr/lib/apache2/modules")
SHIBD = os.environ.get("EDGE_REFARCH_SHIBD", "/usr/sbin/shibd")
XMLSEC1 = os.environ.get("EDGE_REFARCH_XMLSEC1", "/usr/bin/xmlsec1")
OPENSSL = "/usr/bin/openssl"
SHIB_SYSTEM = Path("/etc/shibboleth")
# Apache will not serve as root: it (and mod_wsgi's daemon) runs as this
# user when the testbed runs as root.
APACHE_USER = "www-data"
# The assertion's attributes (Keystone's IdP names them so), as Shibboleth
# passes them on to Keystone.
ATTRIBUTES = ("openstack_user", "openstack_user_domain", "openstack_roles",
              "openstack_project", "openstack_project_domain",
              "openstack_groups")
PROTOCOL = "saml2"
# The variable mod_shib sets to the asserting IdP's entity ID (Keystone
# federation guide, "Configure Keystone as a Service Provider", Shibboleth).
REMOTE_ID_ATTRIBUTE = "Shib-Identity-Provider"


def idp_entity_id(idp_url: str) -> str:
    return f"{idp_url}/v3/OS-FEDERATION/saml2/idp"


def domain_id(entity_id: str, domain: str) -> str:
    """The federated users' domain ID: the same at every service provider,
    derived from the identity provider and the domain's name."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{entity_id}#{domain}").hex


MAX_MAPPED_ROLES = 5


def mapping_rules(domain: str, roles: tuple[str, ...]) -> list[dict]:
    """Mapping schema 3.0: the user, in the identity provider's domain;
    each project the assertion names, with those of `roles` the assertion
    asserts -- and nothing else. Schema 3.0 also removes, at the next
    login, a role the identity provider no longer asserts.

    Keystone keeps the projects of the *last* matching rule only (each
    rule's projects replace the previous ones), so a rule per role would
    grant one role. Instead there is one rule per non-empty subset of
    `roles`, which matches when the assertion holds exactly that subset.
    """
    if len(roles) > MAX_MAPPED_ROLES:
        raise ValueError(f"at most {MAX_MAPPED_ROLES} mapped roles "
                         "(one mapping rule per subset)")
    rules = [{"local": [{"user": {"name": "{0}", "domain": {"id": domain}}}],
              "remote": [{"type": "openstack_user"}]}]
    for size in range(1, len(roles) + 1):
        for subset in itertools.combinations(roles, size):
            others = [r for r in roles if r not in subset]
            remote = [{"type": "openstack_project"}]
            remote += [{"type": "openstack_roles", "any_one_of": [r]}
                       for r in subset]
            if others:
                remote.append({"type": "openstack_roles",
                               "not_any_of": others})
            rules.append({
                "local": [{"projects": [{
                    "name": "{0}", "domain": {"id": domain},
                    "roles": [{"name": r} for r in subset]}]}],
                "remote": remote})
    return rules


def sp_urls(site_url: str, idp_id: str) -> tuple[str, str]:
    """(sp_url, auth_url) of a service provider at `site_url`."""
    return (f"{site_url}/Shibboleth.sso/SAML2/ECP",
            f"{site_url}/v3/OS-FEDERATION/identity_providers/{idp_id}/"
            f"protocols/{PROTOCOL}/auth")


# What an ECP client sends to be answered with a PAOS AuthnRequest (SAML
# V2.0 Enhanced Client or Proxy Profile 2.0, section 2.3.2).
ECP_HEADERS = {
    "Accept": "text/html, application/vnd.paos+xml",
    "PAOS": 'ver="urn:liberty:paos:2003-08";'
            '"urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"'}


def ecp_ready(sp: SpKeystone, timeout: float) -> bool | probes.NotYet:
    """Whether the service provider serves federated logins end to end
    (Apache, mod_shib and shibd, not only shibd's listener): its federated
    auth URL answers an ECP client with a PAOS AuthnRequest (HTTP 200,
    application/vnd.paos+xml), which shibd builds from the identity
    provider's metadata. Otherwise a NotYet with what it answered."""
    _, auth_url = sp_urls(sp.url, sp.idp_id)
    try:
        r = requests.get(auth_url, headers=ECP_HEADERS, timeout=timeout,
                         allow_redirects=False)
    except requests.RequestException as exc:
        return probes.NotYet(f"ECP GET {auth_url}: {type(exc).__name__}")
    kind = r.headers.get("Content-Type", "")
    if r.status_code == 200 and kind.startswith("application/vnd.paos+xml"):
        return True
    return probes.NotYet(f"ECP GET {auth_url}: {r.status_code} {kind}")


def credentials(directory: Path) -> tuple[Path, Path]:
    """(key, certificate) kept in `directory`."""
    return directory / "key.pem", directory / "cert.pem"


def self_signed(directory: Path, cn: str) -> tuple[Path, Path]:
    """A key and a self-signed certificate (signing only)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = credentials(directory)
    if key.exists() and cert.exists():
        return key, cert
    proc = subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "30",
         "-subj", f"/CN={cn}"], capture_output=True, text=True,
        stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise UserError(f"openssl: cannot make a certificate for {cn}: "
                        f"{proc.stderr.strip()[-200:]}")
    return key, cert


def idp_dir(ks: Keystone) -> Path:
    """Where an identity provider's key, certificate and metadata live."""
    return ks.dir / "saml"


def idp_metadata_path(ks: Keystone) -> Path:
    return idp_dir(ks) / "idp_metadata.xml"


def idp_sections(ks: Keystone, url: str) -> dict[str, dict]:
    """The [saml] section that makes `ks` an identity provider (its key and
    certificate: `self_signed(idp_dir(ks), ...)`), as ini sections."""
    key, cert = credentials(idp_dir(ks))
    org = ks.site.name
    return {"saml": {
        "certfile": cert,
        "keyfile": key,
        "idp_entity_id": idp_entity_id(url),
        "idp_sso_endpoint": f"{url}/v3/OS-FEDERATION/saml2/sso",
        "idp_metadata_path": idp_metadata_path(ks),
        "xmlsec1_binary": XMLSEC1,
        "idp_organization_name": org,
        "idp_organization_display_name": f"edge-refarch {org}",
        "idp_organization_url": url,
        "idp_contact_company": "edge-refarch",
        "idp_contact_name": "edge-refarch",
        "idp_contact_surname": "testbed",
        "idp_contact_email": "testbed@example.org",
        "idp_contact_telephone": "555-0100",
        "idp_contact_type": "technical",
    }}


def write_idp_metadata(ks: Keystone) -> Path:
    path = idp_metadata_path(ks)
    path.write_text(ks.manage("saml_idp_metadata"))
    return path


def apache_user() -> str | None:
    """The user Apache's children run as: APACHE_USER when we are root
    (Apache refuses to serve as root), None (ours) otherwise."""
    return APACHE_USER if os.geteuid() == 0 else None


def apache_modules(*names: str) -> str:
    """httpd.conf's LoadModule lines for modules `names` (``proxy`` for
    mod_proxy.so), from Debian's APACHE_MODULES directory."""
    return "\n".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so"
                     for m in names)


def _give(path: Path, user: str | None) -> None:
    """Hand a tree to the server's user (when it is not us)."""
    if user is None:
        return
    pw = pwd.getpwnam(user)
    for p in (path, *path.rglob("*")):
        os.chown(p, pw.pw_uid, pw.pw_gid, follow_symlinks=False)


class SpKeystone(Keystone):
    """An edge Keystone as a SAML2 service provider: Apache with mod_wsgi
    (Debian's Python, hence a venv of its own) and mod_shib."""

    def __init__(self, site, root: Path, venv: Path, wsgi_venv: Path,
                 db_url: str, *, port: int, health_path: str, idp_url: str,
                 idp_id: str, cache_server: str, cache_ttl: int,
                 shibd_port: int, threads: int = 1,
                 password_hash_rounds: int | None = None):
        super().__init__(site, root, venv, db_url, port=port,
                         health_path=health_path, primary=False,
                         cache_server=cache_server, cache_ttl=cache_ttl,
                         threads=threads,
                         password_hash_rounds=password_hash_rounds,
                         extra_sections={
                             "auth": {"methods": [
                                 "password", "token", PROTOCOL, "mapped",
                                 "application_credential"]},
                             "federation": {"remote_id_attribute":
                                            REMOTE_ID_ATTRIBUTE},
                             PROTOCOL: {"remote_id_attribute":
                                        REMOTE_ID_ATTRIBUTE}})
        self.wsgi_venv = wsgi_venv
        self.shibd_port = shibd_port
        self.idp_url = idp_url
        self.idp_id = idp_id
        self.shib = self.dir / "shibboleth"
        self.run = self.dir / "run"

    def owner(self) -> tuple[str, str]:
        user = apache_user()
        return (user, user) if user else super().owner()

    @property
    def entity_id(self) -> str:
        return f"{self.url}/shibboleth"

    @property
    def shibd_address(self) -> tuple[str, int]:
        return (self.site.address, self.shibd_port)

    def write_server_config(self) -> None:
        for d in (self.shib, self.run):
            d.mkdir(parents=True, exist_ok=True)
        user = apache_user()
        wsgi = self.dir / "keystone.wsgi"
        wsgi.write_text(
            "import os\n"
            f"os.environ['OS_KEYSTONE_CONFIG_DIR'] = {str(self.etc)!r}\n"
            "from keystone.wsgi.api import application  # noqa: E402,F401\n")
        auth_path = (f"/v3/OS-FEDERATION/identity_providers/[^/]+/"
                     f"protocols/{PROTOCOL}/auth")
        (self.dir / "httpd.conf").write_text(templates.render(
            "keystone-sp-httpd.conf", site=self.site.name, dir=self.dir,
            run=self.run, address=self.site.address, port=self.port,
            user_line=f"User {user}" if user else "",
            group_line=f"Group {user}" if user else "",
            logdir=self.logdir, load_modules=apache_modules(
                "mpm_event", "authz_core", "authn_core", "mime", "env",
                "wsgi"), modules=APACHE_MODULES,
            shib=self.shib, threads=self.threads, wsgi_venv=self.wsgi_venv,
            wsgi=wsgi, auth_path=auth_path))
        self._write_shibboleth()

    def _write_shibboleth(self) -> None:
        host, port = self.shibd_address
        logger = ("log4j.rootCategory=WARN, log\n"
                  "log4j.appender.log=org.apache.log4j.FileAppender\n"
                  "log4j.appender.log.fileName={}\n"
                  "log4j.appender.log.layout=org.apache.log4j.PatternLayout\n"
                  "log4j.appender.log.layout.ConversionPattern="
                  "%d{{%Y-%m-%d %H:%M:%S}} %p %c %x: %m%n\n")
        # shibd's own log goes with its process's (Shibd.logdir: its tails
        # are said when it ends); mod_shib's, in Apache, with Keystone's.
        shibd_log = Shibd(self).logdir
        shibd_log.mkdir(parents=True, exist_ok=True)
        (self.shib / "shibd.logger").write_text(
            logger.format(shibd_log / "shibd.log"))
        (self.shib / "native.logger").write_text(
            logger.format(self.logdir / "shib-native.log"))
        (self.shib / "attribute-map.xml").write_text(
            '<Attributes xmlns="urn:mace:shibboleth:2.0:attribute-map">\n'
            + "".join(f'  <Attribute name="{a}" id="{a}"/>\n'
                      for a in ATTRIBUTES) + "</Attributes>\n")
        key, cert = self_signed(self.shib / "sp-credentials",
                                f"{self.site.name} SAML2 SP")
        idp = idp_entity_id(self.idp_url)
        (self.shib / "shibboleth2.xml").write_text(templates.render(
            "shibboleth2.xml", shib=self.shib, host=host, port=port,
            entity_id=self.entity_id, idp=idp, key=key, cert=cert,
            system=SHIB_SYSTEM))

    def trust(self, idp_metadata: Path) -> None:
        """Install the identity provider's metadata (the trust anchor)."""
        shutil.copyfile(idp_metadata, self.shib / "idp_metadata.xml")

    def hand_over(self) -> None:
        """Make the site's Keystone files the server user's (after the
        keystone-manage runs, which write logs as us)."""
        _give(self.dir, apache_user())
        self.dir.chmod(0o755)

    def argv(self) -> list[str]:
        return [APACHE, "-DFOREGROUND", "-f", str(self.dir / "httpd.conf")]

    def env(self) -> dict[str, str]:
        return {"LANG": "C"}

    def health(self, timeout: float) -> bool | probes.NotYet:
        """Keystone answers, and federated logins work end to end
        (ecp_ready)."""
        return super().health(timeout) and ecp_ready(self, timeout)


class Shibd(Server):
    """The Shibboleth daemon of one service provider."""

    # Debian's shibd.service restarts it on failure (Restart=on-failure,
    # RestartSec=30s; /lib/systemd/system/shibd.service of
    # shibboleth-sp-utils 3.4.1): the bring-up starts it again once when it
    # ends while its service provider starts.
    restarts = 1

    def __init__(self, sp: SpKeystone):
        self.sp = sp
        self.site = sp.site
        self.dir = sp.shib

    @property
    def name(self) -> str:
        return f"{self.site.name}.shibd"

    @property
    def target(self) -> str:
        host, port = self.sp.shibd_address
        return f"{host}:{port}"

    def argv(self) -> list[str]:
        return [SHIBD, "-F", "-f", "-c", str(self.dir / "shibboleth2.xml"),
                "-p", str(self.sp.run / "shibd.pid")]

    def health(self, timeout: float) -> bool | probes.NotYet:
        return tcp_health(*self.sp.shibd_address, timeout)


# -- set-up through the identity API ----------------------------------------
def register_service_provider(idp, sp_id: str, site_url: str,
                              idp_id: str) -> None:
    """Register the Keystone at `site_url` as service provider `sp_id` at
    the identity provider's Keystone (`idp`: an openstacksdk Connection)."""
    sp_url, auth_url = sp_urls(site_url, idp_id)
    setup_api.ensure_service_provider(
        idp, sp_id, sp_url, auth_url,
        f"edge-refarch: the Keystone of {sp_id}")


def trust_identity_provider(sp, idp_id: str, entity_id: str,
                            domain: str, roles: tuple[str, ...]) -> str:
    """Register the identity provider at a service provider (`sp`: an
    openstacksdk Connection): its domain (explicit, derived ID), the
    mapped roles, a mapping and the protocol. Returns the domain's ID."""
    did = domain_id(entity_id, domain)
    setup_api.ensure_domain(sp, did, domain,
                            f"users of identity provider {idp_id}")
    setup_api.ensure_roles(sp, roles)
    setup_api.ensure_identity_provider(
        sp, idp_id, [entity_id], did, f"{idp_id}_mapping",
        mapping_rules(did, roles), PROTOCOL)
    return did
