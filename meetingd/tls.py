"""HTTPS: a configured certificate, or a self-signed one generated for LAN use."""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .config import Config

logger = logging.getLogger(__name__)


def _names(extra: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    for n in [socket.gethostname(), *extra]:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            names.append(x509.DNSName(n))
    return names


def generate_self_signed(cert_path: Path, key_path: Path, hostnames: list[str]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meetingd (self-signed)")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(_names(hostnames)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def fingerprint(cert_path: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    digest = cert.fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def ssl_context(cfg: Config) -> tuple[ssl.SSLContext | None, str | None]:
    """The server's TLS context and the certificate's SHA-256 fingerprint."""
    mode = cfg.server.tls
    if mode == "off":
        return None, None
    if mode == "self-signed":
        cert, key = cfg.data_path / "tls" / "cert.pem", cfg.data_path / "tls" / "key.pem"
        if not cert.exists() or not key.exists():
            generate_self_signed(cert, key, cfg.server.tls_hostnames)
            logger.info("generated self-signed certificate cert=%s", cert)
    else:
        cert, key = Path(cfg.server.tls_cert), Path(cfg.server.tls_key)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx, fingerprint(cert)
