"""Certificates for the simulator's HTTPS, made with ``cryptography`` (imported lazily).

Real gateways serve a private-CA or self-signed certificate, so the simulator does the same:
a CA and a server certificate signed by it, for localhost, 127.0.0.1 and ::1. Clients verify
against the CA file, exactly as they would against a gateway's private truststore.
:func:`generate_certificates` takes custom hosts and validity so tests can also make an
expired or wrong-host certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
CA_NAME = "ca.pem"
CERT_NAME = "server.pem"
KEY_NAME = "server-key.pem"


@dataclass(frozen=True)
class CertificateFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def generate_certificates(
    directory: str | os.PathLike[str],
    *,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    valid_days: float = 365,
    key_type: str = "ec",
    common_name: str = "ccgw-gateway-sim",
) -> CertificateFiles:
    """Write ``ca.pem``, ``server.pem`` and ``server-key.pem`` into ``directory``.

    ``not_before``/``not_after`` default to now-1h .. now+``valid_days``; give a past
    ``not_after`` for an expired certificate, or other ``hosts`` for a wrong-host one.
    ``key_type`` is "ec" (P-256, fast) or "rsa" (2048 bits).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def new_key() -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
        if key_type == "ec":
            return ec.generate_private_key(ec.SECP256R1())
        if key_type == "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        raise ValueError(f"key_type: ec or rsa, got {key_type!r}")

    now = dt.datetime.now(dt.timezone.utc)
    start = not_before or now - dt.timedelta(hours=1)
    end = not_after or now + dt.timedelta(days=valid_days)
    # The CA outlives the leaf so an "expired" test certificate fails on the leaf alone.
    ca_start = min(start, now - dt.timedelta(days=1))
    ca_end = max(end, now + dt.timedelta(days=valid_days))

    ca_key = new_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ca_start)
        .not_valid_after(ca_end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    key = new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = CertificateFiles(out / CA_NAME, out / CERT_NAME, out / KEY_NAME)
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(files.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    return files


def existing_certificates(directory: str | os.PathLike[str]) -> CertificateFiles | None:
    """The files a previous run left in ``directory``, if all there and the leaf is still
    valid for a day: a restarted simulator keeps the CA its clients already trust."""
    out = Path(directory)
    files = CertificateFiles(out / CA_NAME, out / CERT_NAME, out / KEY_NAME)
    if not all(p.is_file() for p in (files.ca_file, files.cert_file, files.key_file)):
        return None
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    except ValueError:
        return None
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    return files if cert.not_valid_after_utc > soon else None


def server_ssl_context(
    cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.fspath(cert_file), os.fspath(key_file))
    return context


def client_ssl_context(ca_file: str | os.PathLike[str] | None) -> ssl.SSLContext:
    """A verifying client context trusting ``ca_file`` (the system store when None)."""
    return ssl.create_default_context(cafile=None if ca_file is None else os.fspath(ca_file))
