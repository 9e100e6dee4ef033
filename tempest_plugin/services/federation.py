"""Keystone-to-Keystone login, step by step (SAML2 ECP).

Tempest has no client for it, and the tests need the steps apart: the
assertion the identity provider signs is what the negative tests alter,
re-sign or replay before presenting it to a service provider.

1. a project-scoped token from the identity provider (password);
2. ``POST /v3/auth/OS-FEDERATION/saml2/ecp`` for one service provider: a
   SOAP envelope with the signed SAML2 response;
3. the envelope to the service provider's ``sp_url`` (Shibboleth's ECP
   handler), which answers with a session cookie;
4. ``GET auth_url`` (Keystone's federated auth) with that cookie: an
   unscoped federated token;
5. that token re-scoped to a project at the service provider.
"""

from __future__ import annotations

import datetime
import html
import re
import subprocess
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from tempest.lib import exceptions as lib_exc

PAOS = "application/vnd.paos+xml"
PROTOCOL = "saml2"


class FederationError(Exception):
    """A step of the K2K login failed (the message names the step)."""


def _raise_for(step: str, r: requests.Response) -> None:
    """Raise for a failed step, saying why in one line: Shibboleth's or
    Apache's error text (not the start of its XHTML page)."""
    if r.status_code == 401:
        raise lib_exc.Unauthorized(f"{step}: {refusal(r)}")
    raise FederationError(f"{step}: {refusal(r)}")


class K2KClient:
    """Log in at a service provider with an assertion from the identity
    provider at `idp_uri` (the v3 endpoint as the caller reaches it)."""

    def __init__(self, idp_uri: str, timeout: float = 30.0,
                 verify: bool | str = True):
        """`timeout`: seconds per HTTP call; `verify`: requests' TLS
        verification (False, a CA bundle's path, or True)."""
        self.idp_uri = idp_uri.rstrip("/")
        self.timeout = timeout
        self.verify = verify

    # -- at the identity provider ------------------------------------------
    def idp_token(self, username: str, password: str, project: str,
                  domain: str = "Default") -> tuple[str, dict]:
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": username, "domain": {"name": domain},
                "password": password}}},
            "scope": {"project": {"name": project,
                                  "domain": {"name": domain}}}}}
        return self._idp_login(body)

    def idp_token_app_cred(self, credential_id: str,
                           secret: str) -> tuple[str, dict]:
        """Step 1 with an application credential: a token scoped to the
        credential's own project."""
        return self._idp_login({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": credential_id,
                                       "secret": secret}}}})

    def _idp_login(self, body: dict) -> tuple[str, dict]:
        r = requests.post(f"{self.idp_uri}/auth/tokens", json=body,
                          timeout=self.timeout, verify=self.verify)
        if r.status_code != 201:
            _raise_for("token at the identity provider", r)
        return r.headers["X-Subject-Token"], r.json()["token"]

    def service_provider(self, idp_token_body: dict, sp_id: str) -> dict:
        """The service provider's entry in the identity provider's token
        (id, sp_url, auth_url)."""
        for sp in idp_token_body.get("service_providers") or []:
            if sp["id"] == sp_id:
                return sp
        raise FederationError(f"service provider {sp_id!r} is not in the "
                              "identity provider's token")

    def assertion(self, idp_token: str, sp_id: str) -> str:
        """The ECP envelope carrying the signed assertion for `sp_id`."""
        r = requests.post(
            f"{self.idp_uri}/auth/OS-FEDERATION/saml2/ecp",
            timeout=self.timeout, verify=self.verify, json={"auth": {
                "identity": {"methods": ["token"],
                             "token": {"id": idp_token}},
                "scope": {"service_provider": {"id": sp_id}}}})
        if r.status_code != 200:
            _raise_for(f"ECP assertion for {sp_id}", r)
        return r.text

    # -- at the service provider -------------------------------------------
    def present(self, sp: dict, envelope: str) -> requests.Response:
        """Present an ECP envelope at the service provider; the response
        of its federated auth (201 with a token, or the refusal)."""
        s = requests.Session()
        r = s.post(sp["sp_url"], data=envelope, timeout=self.timeout,
                   verify=self.verify, headers={"Content-Type": PAOS},
                   allow_redirects=False)
        if r.status_code not in (302, 303) or not s.cookies:
            return r
        return s.get(sp["auth_url"], headers={"Content-Type": PAOS},
                     timeout=self.timeout, verify=self.verify)

    def login(self, sp: dict, envelope: str) -> tuple[str, dict]:
        r = self.present(sp, envelope)
        if r.status_code != 201:
            _raise_for(f"federated login at {sp['id']}", r)
        return r.headers["X-Subject-Token"], r.json()["token"]

    @staticmethod
    def sp_identity_uri(sp: dict) -> str:
        """The service provider's v3 endpoint, from its auth_url."""
        return sp["auth_url"].split("/OS-FEDERATION/")[0]

    def projects(self, sp: dict, token: str) -> list[dict]:
        r = requests.get(f"{self.sp_identity_uri(sp)}/auth/projects",
                         headers={"X-Auth-Token": token},
                         timeout=self.timeout, verify=self.verify)
        if r.status_code != 200:
            _raise_for(f"projects at {sp['id']}", r)
        return r.json()["projects"]

    def rescope(self, sp: dict, token: str, project_id: str
                ) -> tuple[str, dict]:
        r = requests.post(
            f"{self.sp_identity_uri(sp)}/auth/tokens", timeout=self.timeout,
            verify=self.verify,
            json={"auth": {"identity": {"methods": ["token"],
                                        "token": {"id": token}},
                           "scope": {"project": {"id": project_id}}}})
        if r.status_code != 201:
            _raise_for(f"scoped token at {sp['id']}", r)
        return r.headers["X-Subject-Token"], r.json()["token"]

    def validate(self, sp: dict, token: str) -> bool:
        """Whether the service provider accepts `token` (self-check)."""
        r = requests.get(f"{self.sp_identity_uri(sp)}/auth/tokens",
                         headers={"X-Auth-Token": token,
                                  "X-Subject-Token": token},
                         timeout=self.timeout, verify=self.verify)
        if r.status_code in (401, 404):
            return False
        if r.status_code != 200:
            _raise_for(f"token validation at {sp['id']}", r)
        return True


# -- assertions an edge must refuse ------------------------------------------
def tamper(envelope: str, attribute: str, value: str) -> str:
    """The envelope with `attribute`'s (first) value replaced, signature
    left as it was."""
    pattern = re.compile(
        r'(<saml:Attribute [^>]*Name="' + re.escape(attribute) +
        r'"[^>]*>\s*<saml:AttributeValue[^>]*>)([^<]*)(<)')
    out, n = pattern.subn(lambda m: m.group(1) + value + m.group(3),
                          envelope, count=1)
    if n != 1:
        raise FederationError(f"no attribute {attribute!r} in the assertion")
    return out


def resign(envelope: str, workdir, xmlsec1: str) -> str:
    """The envelope with its assertion signed again by a key nobody trusts
    (a fresh self-signed one), as a forger would."""
    work = Path(workdir)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         "edge-refarch forger")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (work / "forger-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (work / "forger-cert.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM))
    (work / "in.xml").write_text(envelope)
    proc = subprocess.run(
        [xmlsec1, "--sign", "--privkey-pem",
         f"{work / 'forger-key.pem'},{work / 'forger-cert.pem'}",
         "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
         "--output", str(work / "out.xml"), str(work / "in.xml")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    if proc.returncode != 0:
        raise FederationError(f"xmlsec1 could not sign the forged assertion:"
                              f" {proc.stderr.strip()[-300:]}")
    return (work / "out.xml").read_text()


def refusal(r: requests.Response) -> str:
    """Why a service provider refused: Shibboleth's error text, else the
    HTTP status and the start of the body."""
    text = r.text or ""
    found = re.findall(r"<p>([^<]{4,300})</p>", text)
    if found:
        why = html.unescape(found[-1]).strip()
    elif text.lstrip().startswith("<"):
        # Another HTML page: its text, without the head.
        body = re.sub(r"(?is)<head.*?</head>|<[^>]+>", " ", text)
        why = " ".join(html.unescape(body).split())[:300]
    else:
        why = text[:200].strip()
    return f"HTTP {r.status_code}: {why}"
