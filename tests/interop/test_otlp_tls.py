# SPDX-License-Identifier: Apache-2.0
"""OTLP over TLS and mutual TLS (`otlp.tls.*`): the OpenTelemetry Python SDK's gRPC and
HTTP exporters send to `otlp-arrow all-in-one`. With the CA that signed the service's
certificate they are accepted and the spans are stored; a plaintext client, a client that does
not trust the certificate, and under mutual TLS a client without a certificate of the client
CA are refused. Certificates are made with the openssl command for each run.
"""

import subprocess
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from otlp_service import RecordingExporter, Service, count_stored

SPANS_PER_CLIENT = 3


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for localhost and a client certificate, both signed by it;
    and a second CA that signed nothing here."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *key, "-keyout", f"{ca}.key", "-out", f"{ca}.crt",
                "-days", "1", "-subj", f"/CN=otlp-arrow test {ca}", cwd=directory)
    leaves = {"server": ("localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                      "extendedKeyUsage=serverAuth\n"),
              "client": ("sdk-client", "extendedKeyUsage=clientAuth\n")}
    for name, (common_name, extensions) in leaves.items():
        (directory / f"{name}.ext").write_text(extensions)
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={common_name}", cwd=directory)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext",
                "-out", f"{name}.crt", cwd=directory)
    return {name: directory / name for name in (
        "ca.crt", "other-ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


def send(exporter, name: str) -> bool:
    """SPANS_PER_CLIENT spans, one export each; whether every export succeeded."""
    recorder = RecordingExporter(exporter)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(SimpleSpanProcessor(recorder))
    tracer = provider.get_tracer("interop.tls")
    for i in range(SPANS_PER_CLIENT):
        tracer.start_span(f"{name} {i}").end()
    provider.shutdown()
    assert len(recorder.results) == SPANS_PER_CLIENT
    return all(r == SpanExportResult.SUCCESS for _, r in recorder.results)


def grpc_exporter(port: int, ca: Path | None, client: tuple[Path, Path] | None = None):
    if ca is None:
        return GrpcSpanExporter(endpoint=f"localhost:{port}", insecure=True, timeout=2)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=client[1].read_bytes() if client else None,
        certificate_chain=client[0].read_bytes() if client else None)
    return GrpcSpanExporter(endpoint=f"localhost:{port}", credentials=credentials, timeout=2)


def http_exporter(port: int, scheme: str, ca: Path | None,
                  client: tuple[Path, Path] | None = None):
    return HttpSpanExporter(
        endpoint=f"{scheme}://localhost:{port}/v1/traces",
        certificate_file=str(ca) if ca else None,
        client_certificate_file=str(client[0]) if client else None,
        client_key_file=str(client[1]) if client else None, timeout=2)


def ports(service: Service) -> tuple[int, int]:
    grpc_port = int(service.otlp_grpc.rsplit(":", 1)[1])
    http_port = int(service.otlp_http.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    return grpc_port, http_port


@pytest.fixture(autouse=True)
def trust_only_given_cas(monkeypatch):
    """requests (under the HTTP exporter) lets these variables override the CA the exporter
    is given; some machines set them to the system bundle."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def test_otlp_over_tls(otlp_arrow_bin, tmp_path):
    pem = make_certificates(tmp_path)
    data = tmp_path / "data"
    with Service(otlp_arrow_bin, "all-in-one", "--otlp-tls-cert", str(pem["server.crt"]),
                 "--otlp-tls-key", str(pem["server.key"]), data_dir=data) as service:
        assert service.otlp_http.startswith("https://"), service.output
        assert "OTLP/gRPC listening on" in service.output and "(TLS)" in service.output
        grpc_port, http_port = ports(service)
        assert send(grpc_exporter(grpc_port, pem["ca.crt"]), "grpc-tls")
        assert send(http_exporter(http_port, "https", pem["ca.crt"]), "http-tls")
        # Refused: plaintext, and a CA that did not sign the server's certificate.
        assert not send(grpc_exporter(grpc_port, None), "grpc-plaintext")
        assert not send(grpc_exporter(grpc_port, pem["other-ca.crt"]), "grpc-untrusted")
        assert not send(http_exporter(http_port, "http", None), "http-plaintext")
        assert not send(http_exporter(http_port, "https", pem["other-ca.crt"]),
                        "http-untrusted")
        assert service.stop() == 0, service.output
    assert count_stored(data) == 2 * SPANS_PER_CLIENT


def test_otlp_over_mutual_tls(otlp_arrow_bin, tmp_path):
    pem = make_certificates(tmp_path)
    client = (pem["client.crt"], pem["client.key"])
    data = tmp_path / "data"
    with Service(otlp_arrow_bin, "all-in-one", "--otlp-tls-cert", str(pem["server.crt"]),
                 "--otlp-tls-key", str(pem["server.key"]), "--otlp-client-ca",
                 str(pem["ca.crt"]), data_dir=data) as service:
        assert "(mTLS)" in service.output
        grpc_port, http_port = ports(service)
        assert send(grpc_exporter(grpc_port, pem["ca.crt"], client), "grpc-mtls")
        assert send(http_exporter(http_port, "https", pem["ca.crt"], client), "http-mtls")
        # Refused: no client certificate, and a client certificate another CA signed.
        assert not send(grpc_exporter(grpc_port, pem["ca.crt"]), "grpc-anonymous")
        assert not send(http_exporter(http_port, "https", pem["ca.crt"]), "http-anonymous")
        stranger = tmp_path / "stranger"
        stranger.mkdir()
        other = make_certificates(stranger)
        assert not send(grpc_exporter(grpc_port, pem["ca.crt"],
                                      (other["client.crt"], other["client.key"])),
                        "grpc-stranger")
        assert service.stop() == 0, service.output
    assert count_stored(data) == 2 * SPANS_PER_CLIENT
