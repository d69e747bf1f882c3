"""The cluster over TLS with real certificates: a `dask scheduler` on tls:// with a CA-signed
certificate, `rara worker` joining it with the certificates named in ``[cluster]``, and rara's
client (`connect`, Dask's `Security` from the same settings) running a job through it; a client
without the certificates gets no answer from the scheduler. The CA and the certificate are made
here with `cryptography` (127.0.0.1, valid for a day)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rara.config import ResearchClusterSettings, load_settings
from rara.home import Home
from rara.research.executor import SandboxLimits
from rara.research.executor_dask import connect
from tests.research.test_executor_dask import run_one_job, scheduler_and_worker

pytestmark = pytest.mark.slow


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed (server and client use): their paths."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("rara test CA"))
        .issuer_name(_name("rara test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "node.pem", folder / "node.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


@pytest.mark.timeout(600)
def test_a_tls_cluster_runs_jobs_only_for_holders_of_its_certificates(
    rara_home: Path, tmp_path: Path
) -> None:
    ca, cert, key = write_certificates(tmp_path / "tls")
    rara_home.mkdir(parents=True, exist_ok=True)
    (rara_home / "config.toml").write_text(
        f"[cluster]\ntls_ca_file = '{ca}'\ntls_cert = '{cert}'\ntls_key = '{key}'\n"
        "require_encryption = true\ntimeout_s = 300\n",
        encoding="utf-8",
    )
    with scheduler_and_worker(
        rara_home, "tls", ("--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key))
    ) as address:
        settings = load_settings(Home(root=rara_home))
        assert settings.cluster.require_encryption
        ex = connect(address, SandboxLimits(backend="subprocess"), settings.cluster)
        try:
            run_one_job(ex, 25)  # the worker joined over TLS with [cluster]'s certificates
        finally:
            ex.close()
        # no certificates: the TLS handshake needs a client certificate the CA signed
        stranger = ResearchClusterSettings(timeout_s=15)
        with pytest.raises(Exception) as refused:
            connect(address, SandboxLimits(backend="subprocess"), stranger).close()
        assert "tls" in str(refused.value).lower() or "timed out" in str(refused.value).lower()
