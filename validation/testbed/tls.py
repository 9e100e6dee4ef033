"""A private CA for the testbed's APIs (``testbed up --tls``).

The testbed then serves every API over HTTPS (gunicorn's own TLS) with one
certificate whose subject alternative names are every site's loopback
address, signed by a CA of its own, as an operator's cloud with a private
CA does. The services trust that CA the way a machine whose trust store
holds it does (``REQUESTS_CA_BUNDLE`` and ``SSL_CERT_FILE`` name a bundle of
the machine's CAs plus this one); a client of the testbed trusts it through
its own setting (clouds.yaml ``cacert``, tempest.conf ``[identity]
ca_certificates_file``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAYS = 30


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                         "edge-refarch testbed"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, data: bytes, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def machine_bundle() -> str:
    """The CA bundle the machine's clients use (the environment's
    REQUESTS_CA_BUNDLE or SSL_CERT_FILE, else OpenSSL's default file)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or \
        os.environ.get("SSL_CERT_FILE") or \
        ssl.get_default_verify_paths().cafile or ""


def create(directory: Path, addresses: list[str]) -> dict[str, str]:
    """A CA, and a server certificate for `addresses` (IP addresses,
    strings) signed by it, valid DAYS days, into `directory`. Returns the
    paths: ``ca`` (the CA certificate, PEM), ``cert`` and ``key`` (the
    server's, PEM, the key 0600) and ``bundle`` (the machine's CAs plus
    this one, for the services' environment)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder()
          .subject_name(_name("edge-refarch testbed CA"))
          .issuer_name(_name("edge-refarch testbed CA"))
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0),
                         critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=True, key_cert_sign=True, crl_sign=True,
              content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False,
              encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name("edge-refarch testbed APIs"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=DAYS))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(a))
                 for a in addresses]), critical=False)
            .add_extension(x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    out = {name: str(directory / f"{name}.pem")
           for name in ("ca", "cert", "key", "bundle")}
    _write(Path(out["ca"]), ca.public_bytes(pem))
    _write(Path(out["cert"]), cert.public_bytes(pem))
    _write(Path(out["key"]), key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), private=True)
    machine = machine_bundle()
    base = Path(machine).read_bytes() if machine and \
        Path(machine).is_file() else b""
    _write(Path(out["bundle"]), base + b"\n" + ca.public_bytes(pem))
    return out


def trust(files: dict[str, str]) -> None:
    """Make this process and every process it starts (the services, the
    testbed's own clients) trust the testbed's CA, as a machine whose
    trust store holds it does."""
    os.environ["REQUESTS_CA_BUNDLE"] = files["bundle"]
    os.environ["SSL_CERT_FILE"] = files["bundle"]
