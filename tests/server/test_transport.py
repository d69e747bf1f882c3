"""The server's transport: TLS with a throwaway CA and a client that verifies it; a non-loopback
bind refused without TLS unless insecure; grpc health SERVING while up and NOT_SERVING at
shutdown, before the server stops; reflection lists rara.v1.RaraService."""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from rara.daemon_settings import ServerSettings
from rara.errors import Refused
from rara.events import open_event_store
from rara.home import Home
from rara.server.bind import binding, is_loopback
from rara.v1 import rara_pb2 as pb
from tests.kit.server import AuthedStub, ServerThread, served

pytestmark = pytest.mark.slow


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class ThrowawayCa:
    """A CA made for one test, and the certificates it signs."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            self._builder(_name("rara CA"), _name("rara CA"), self.key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def _builder(
        self, subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(self.now - dt.timedelta(minutes=5))
            .not_valid_after(self.now + dt.timedelta(days=1))
        )  # fmt: skip

    def issue(self, cn: str) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) for `cn`, valid for 127.0.0.1 and localhost."""
        key = ec.generate_private_key(ec.SECP256R1())
        san = x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        )
        cert = (
            self._builder(_name(cn), self.cert.subject, key)
            .add_extension(san, critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def throwaway_ca(tmp: Path) -> tuple[bytes, Path, Path]:
    """A CA and a server certificate it signed for 127.0.0.1 and localhost: (CA PEM, cert file,
    key file)."""
    ca = ThrowawayCa()
    cert, key = ca.issue("localhost")
    cert_file, key_file = tmp / "server.pem", tmp / "server.key"
    cert_file.write_bytes(cert)
    key_file.write_bytes(key)
    return ca.pem, cert_file, key_file


@pytest.fixture
def home(rara_home: Path) -> Home:
    h = Home(root=rara_home)
    with open_event_store(h.state_db):
        pass
    return h


def test_tls_with_a_throwaway_ca(home: Home, tmp_path: Path):
    ca_pem, cert, key = throwaway_ca(tmp_path)
    settings = ServerSettings(port=0, tls_cert=str(cert), tls_key=str(key))
    with served(home, settings=settings) as srv:
        assert srv.server is not None and srv.server.binding.tls
        creds = grpc.ssl_channel_credentials(root_certificates=ca_pem)
        channel = grpc.secure_channel(f"localhost:{srv.port}", creds)
        stub = AuthedStub(channel, srv.tokens.get("read").value)
        assert stub.GetStatus(pb.GetStatusRequest()).read_only
        channel.close()
        # a client that trusts another CA refuses the server; one in plain text gets nowhere
        (tmp_path / "other").mkdir()
        other_ca, _, _ = throwaway_ca(tmp_path / "other")
        for channel in (
            grpc.secure_channel(
                f"localhost:{srv.port}", grpc.ssl_channel_credentials(root_certificates=other_ca)
            ),
            grpc.insecure_channel(f"localhost:{srv.port}"),
        ):
            stub = AuthedStub(channel, srv.tokens.get("read").value)
            with pytest.raises(grpc.RpcError) as err:
                stub.GetStatus(pb.GetStatusRequest(), timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            channel.close()


def test_client_certificates_when_a_client_ca_is_set(home: Home, tmp_path: Path):
    server_ca, clients = ThrowawayCa(), ThrowawayCa()
    cert, key = server_ca.issue("localhost")
    (tmp_path / "s.pem").write_bytes(cert)
    (tmp_path / "s.key").write_bytes(key)
    (tmp_path / "clients.pem").write_bytes(clients.pem)
    settings = ServerSettings(
        port=0,
        tls_cert=str(tmp_path / "s.pem"),
        tls_key=str(tmp_path / "s.key"),
        tls_client_ca=str(tmp_path / "clients.pem"),
    )
    with served(home, settings=settings) as srv:
        client_cert, client_key = clients.issue("tui")
        stranger_cert, stranger_key = ThrowawayCa().issue("stranger")
        outcomes = []
        for chain, pkey in ((client_cert, client_key), (stranger_cert, stranger_key), (None, None)):
            creds = grpc.ssl_channel_credentials(server_ca.pem, pkey, chain)
            channel = grpc.secure_channel(f"localhost:{srv.port}", creds)
            stub = AuthedStub(channel, srv.tokens.get("read").value)
            try:
                outcomes.append(stub.GetStatus(pb.GetStatusRequest(), timeout=10).read_only)
            except grpc.RpcError as exc:
                outcomes.append(exc.code())
            channel.close()
        assert outcomes == [True, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE]


def test_non_loopback_bind_needs_tls_or_insecure(tmp_path: Path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("host")
    assert binding(ServerSettings()).address == "127.0.0.1:50051"
    for host in ("0.0.0.0", "10.1.2.3", "::", "example.org"):
        with pytest.raises(Refused) as err:
            binding(ServerSettings(host=host))
        assert err.value.code == "server_needs_tls"
        assert not binding(ServerSettings(host=host), insecure=True).tls
    _, cert, key = throwaway_ca(tmp_path)
    tls = binding(ServerSettings(host="0.0.0.0", tls_cert=str(cert), tls_key=str(key)))
    assert tls.tls and tls.address == "0.0.0.0:50051"
    assert binding(ServerSettings(host="::", port=7), insecure=True).address == "[::]:7"


def test_cli_serve_refuses_a_public_bind_without_tls(cli, home: Home):
    r = cli("serve", "--host", "0.0.0.0", "--port", "0")
    assert r.code == 3 and r.error["code"] == "server_needs_tls"


def _health(srv: ServerThread, channel: grpc.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    name = "rara.v1.RaraService"
    return int(stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status)


def test_health_not_serving_at_shutdown_before_the_server_stops(home: Home):
    srv = ServerThread(home)
    try:
        srv.start()
        channel = srv.channel()
        assert _health(srv, channel) == health_pb2.HealthCheckResponse.SERVING
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service="rara.v1.RaraService")
        )
        seen: list[int] = []

        def watcher() -> None:
            try:
                for resp in watch:
                    seen.append(int(resp.status))
            except grpc.RpcError:
                pass  # the server went away after saying NOT_SERVING

        t = threading.Thread(target=watcher)
        t.start()
        while not seen:
            t.join(0.05)
        srv.stop(grace_s=2.0)
        t.join(60)
        assert seen == [
            health_pb2.HealthCheckResponse.SERVING,
            health_pb2.HealthCheckResponse.NOT_SERVING,
        ]
        channel.close()
    finally:
        srv.close()


def test_reflection_lists_the_service(home: Home):
    with served(home) as srv:
        stub = reflection_pb2_grpc.ServerReflectionStub(srv.channel())
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (resp,) = list(stub.ServerReflectionInfo(iter([request]), timeout=30))
        names = {s.name for s in resp.list_services_response.service}
        assert "rara.v1.RaraService" in names and "grpc.health.v1.Health" in names
        files = reflection_pb2.ServerReflectionRequest(file_containing_symbol="rara.v1.RaraService")
        (resp,) = list(stub.ServerReflectionInfo(iter([files]), timeout=30))
        assert resp.file_descriptor_response.file_descriptor_proto
