# SPDX-License-Identifier: Apache-2.0
"""No acknowledged span is ever dropped (issue #13), with real processes:

- Refused credentials: a gateway whose token the receiver does not take keeps every span it
  acknowledged, goes unready, logs and counts the refusals, and delivers everything once the
  receiver takes its token, or once its token file holds the receiver's (read again, as
  Kubernetes updates a Secret volume in place).
- A large span: a default gateway acknowledges a request with one span of a 15 MiB
  incompressible attribute only because it can deliver it, and does; a span larger than
  `max_span_bytes` is refused up front (HTTP 413), never acknowledged and dropped.
- A full disk: a receiver killed with spans in its write-ahead log restarts on a full disk
  (a small tmpfs), serves reads, refuses uploads (the gateway retries), goes unready, logs
  and counts it, and publishes everything once there is room again.
"""

import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow.flight as flight
import pyarrow.parquet as pq

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from otlp_service import Service, count_stored, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


START_NS = 1_700_000_000_000_000_000


def request_of(spans: list) -> bytes:
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]).SerializeToString()


def spans_request(count: int, tag: int) -> bytes:
    """`count` spans with ids unique per `tag`."""
    return request_of([trace_pb2.Span(trace_id=bytes([tag]) * 16,
                                      span_id=(tag * 1000 + i + 1).to_bytes(8, "big"),
                                      name=f"span {tag}.{i}", start_time_unix_nano=START_NS,
                                      end_time_unix_nano=START_NS + 1)
                       for i in range(count)])


def post(url: str, body: bytes) -> tuple[int, str]:
    """An OTLP/HTTP protobuf request: (status, body)."""
    request = urllib.request.Request(url, data=body,
                                     headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


# --- refused credentials -----------------------------------------------------------------

def write_token(path: Path, token: str) -> Path:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def test_refused_token_keeps_every_acknowledged_span_until_fixed(otlp_arrow_bin, tmp_path):
    port = free_port()
    data_dir = tmp_path / "data"
    gateway_token = write_token(tmp_path / "gateway.token", "old-token")
    receiver_token = write_token(tmp_path / "receiver.token", "rotated-token")
    config = tmp_path / "gateway.yaml"
    config.write_text("retry_backoff_ms: 50\nretry_max_backoff_ms: 300\n"
                      "flush_interval_ms: 50\n")
    receiver = Service(otlp_arrow_bin, "receiver", "--flight", f"127.0.0.1:{port}",
                       "--token-file", str(receiver_token), data_dir=data_dir)
    gateway = Service(otlp_arrow_bin, "gateway", "--endpoint", f"grpc://127.0.0.1:{port}",
                      "--token-file", str(gateway_token), "--config", str(config))
    with gateway, receiver:
        accepted = 0
        for tag in range(1, 6):
            status, body = post(gateway.otlp_http, spans_request(20, tag))
            assert status == 200, body
            accepted += 20

        def refusing():
            m = gateway.metrics()
            return m.value("otlp_arrow_export_operator_action_failures_total") >= 2 and m
        m = wait_for(refusing, 15, "the gateway counts the receiver's refusals of its token")
        assert m.value("otlp_arrow_export_send_failed_spans_total") == 0
        assert m.value("otlp_arrow_queue_spans") == accepted
        status, body, _ = gateway.get("/ready")
        assert status == 503 and "upstream" in body, body
        wait_for(lambda: "refuses this gateway's credentials" in gateway.output, 10,
                 "an error line naming the refused credentials")
        # Rate-limited: one line per 5 s, not one per retry.
        assert gateway.output.count("refuses this gateway's credentials") <= 2, gateway.output

        # The operator fixes it: the receiver comes back with the token the gateway has.
        assert receiver.stop() == 0, receiver.output
        receiver = Service(otlp_arrow_bin, "receiver", "--flight", f"127.0.0.1:{port}",
                           "--token-file", str(gateway_token), data_dir=data_dir)
        with receiver:
            def delivered():
                m = gateway.metrics()
                return m.value("otlp_arrow_export_spans_total") == accepted and m
            m = wait_for(delivered, 20, "every acknowledged span delivered")
            assert m.value("otlp_arrow_export_send_failed_spans_total") == 0
            wait_for(lambda: gateway.ready() == 200, 10, "/ready back to 200")
            assert gateway.stop() == 0, gateway.output
            assert receiver.stop() == 0, receiver.output
    assert count_stored(data_dir) == accepted


def test_rotated_token_file_is_read_again_without_a_restart(otlp_arrow_bin, tmp_path):
    """A rotation as Kubernetes does it: the receiver comes back with the new token, and the
    Secret volume updates the gateway's token file in place."""
    port = free_port()
    data_dir = tmp_path / "data"
    gateway_token = write_token(tmp_path / "gateway.token", "old-token")
    receiver_token = write_token(tmp_path / "receiver.token", "rotated-token")
    config = tmp_path / "gateway.yaml"
    config.write_text("retry_backoff_ms: 50\nretry_max_backoff_ms: 300\n"
                      "flush_interval_ms: 50\n")
    with Service(otlp_arrow_bin, "receiver", "--flight", f"127.0.0.1:{port}",
                 "--token-file", str(receiver_token), data_dir=data_dir) as receiver, \
         Service(otlp_arrow_bin, "gateway", "--endpoint", f"grpc://127.0.0.1:{port}",
                 "--token-file", str(gateway_token), "--config", str(config)) as gateway:
        assert post(gateway.otlp_http, spans_request(25, 7))[0] == 200
        wait_for(lambda: gateway.metrics().value(
            "otlp_arrow_export_operator_action_failures_total") >= 1, 15, "the token refused")
        write_token(gateway_token, "rotated-token")
        wait_for(lambda: gateway.metrics().value("otlp_arrow_export_spans_total") == 25, 15,
                 "the spans delivered with the rotated token, without a restart")
        assert gateway.metrics().value("otlp_arrow_export_send_failed_spans_total") == 0
        assert gateway.stop() == 0, gateway.output
        assert receiver.stop() == 0, receiver.output
    assert count_stored(data_dir) == 25


# --- a span too large ---------------------------------------------------------------------

def span_with_blob(blob: bytes) -> bytes:
    """One span with a string attribute `blob`."""
    span = trace_pb2.Span(trace_id=b"\x07" * 16, span_id=b"\x08" * 8, name="large",
                          start_time_unix_nano=START_NS, end_time_unix_nano=START_NS + 1)
    attribute = span.attributes.add()
    attribute.key = "blob"
    attribute.value.string_value = blob.decode("latin-1")
    return request_of([span])


def incompressible_text(size: int) -> bytes:
    """`size` random bytes as ASCII letters (a string attribute must be UTF-8)."""
    return bytes(0x41 + b % 26 for b in os.urandom(size))


def test_large_span_acknowledged_is_delivered(otlp_arrow_bin, tmp_path):
    data_dir = tmp_path / "data"
    blob = incompressible_text(15 << 20)
    with Service(otlp_arrow_bin, "all-in-one", data_dir=data_dir) as service:
        status, body = post(service.otlp_http, span_with_blob(blob))
        assert status == 200, body

        def stored():
            m = service.metrics()
            return m.value("otlp_arrow_receiver_spans_stored_total") == 1 and m
        m = wait_for(stored, 30, "the large span stored")
        assert m.value("otlp_arrow_export_send_failed_spans_total") == 0
        assert service.stop() == 0, service.output
    files = sorted((data_dir / "spans").rglob("*.parquet"))
    rows = [row for f in files for row in pq.read_table(f, partitioning=None).to_pylist()]
    assert len(rows) == 1
    assert dict(rows[0]["attributes"])["blob"]["str"].encode("latin-1") == blob


def test_span_larger_than_max_span_bytes_is_refused_up_front(otlp_arrow_bin, tmp_path):
    with Service(otlp_arrow_bin, "all-in-one", data_dir=tmp_path / "data",
                 env={"OTLP_ARROW_MAX_SPAN_BYTES": str(4 << 20)}) as service:
        status, body = post(service.otlp_http, span_with_blob(incompressible_text(5 << 20)))
        assert status == 413, body
        assert "max_span_bytes" in body, body
        m = service.metrics()
        assert m.value("otlp_arrow_otlp_spans_accepted_total", protocol="http",
                       encoding="protobuf") == 0
        assert m.value("otlp_arrow_otlp_spans_refused_total", protocol="http",
                       encoding="protobuf", reason="too_large") == 1
        assert service.stop() == 0, service.output


# --- a full disk -------------------------------------------------------------------------

def stored_spans_over_flight(port: int) -> int:
    """DoGet of every stored span (the receiver publishes its open files first)."""
    client = flight.connect(f"grpc://127.0.0.1:{port}")
    try:
        info = client.get_flight_info(flight.FlightDescriptor.for_path("otlp", "spans"))
        return client.do_get(info.endpoints[0].ticket).read_all().num_rows
    finally:
        client.close()


def fill(path: Path) -> None:
    """Writes `path` until the file system is full, down to its last 4 KiB page."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 4096):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_receiver_restarts_on_a_full_disk_and_publishes_when_room_returns(
        otlp_arrow_bin, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)], check=True)
    try:
        data_dir = disk / "data"
        port = free_port()
        config = tmp_path / "gateway.yaml"
        config.write_text("retry_backoff_ms: 50\nretry_max_backoff_ms: 300\n"
                          "flush_interval_ms: 50\n")
        receiver = Service(otlp_arrow_bin, "receiver", "--flight", f"127.0.0.1:{port}",
                           data_dir=data_dir)
        gateway = Service(otlp_arrow_bin, "gateway", "--endpoint", f"grpc://127.0.0.1:{port}",
                          "--config", str(config))
        with gateway, receiver:
            def exported(n):
                return lambda: gateway.metrics().value("otlp_arrow_export_spans_total") == n

            # Published: a DoGet makes the receiver publish its open files.
            assert post(gateway.otlp_http, spans_request(30, 1))[0] == 200
            wait_for(exported(30), 15, "the first spans exported")
            assert stored_spans_over_flight(port) == 30
            # Acknowledged, in the WAL only, when the receiver is killed.
            assert post(gateway.otlp_http, spans_request(40, 2))[0] == 200
            wait_for(exported(70), 15, "the second spans exported")
            os.kill(receiver.pid, signal.SIGKILL)
            receiver.process.wait(timeout=10)
            assert list((data_dir / "wal").glob("*.wal")), "nothing left in the WAL"

            fill(disk / "filler")
            receiver = Service(otlp_arrow_bin, "receiver", "--flight", f"127.0.0.1:{port}",
                               data_dir=data_dir)
            with receiver:
                # Up, serving reads, not ready, saying why.
                assert receiver.get("/health")[0] == 200
                status, body, _ = receiver.get("/ready")
                assert status == 503 and "storage" in body, body
                assert stored_spans_over_flight(port) == 30
                m = receiver.metrics()
                assert m.value("otlp_arrow_store_unpublished_segments") == 1
                assert m.value("otlp_arrow_store_publish_failures_total") >= 1
                assert "cannot publish" in receiver.output, receiver.output

                # Uploads are refused (UNAVAILABLE): the gateway keeps them and retries.
                assert post(gateway.otlp_http, spans_request(50, 3))[0] == 200
                wait_for(lambda: receiver.metrics().value(
                    "otlp_arrow_receiver_storage_failures_total") >= 2, 15,
                    "uploads refused while the disk is full")
                m = gateway.metrics()
                assert m.value("otlp_arrow_export_spans_total") == 70
                assert m.value("otlp_arrow_export_send_failed_spans_total") == 0
                # Rate-limited: not one line per retry.
                assert receiver.output.count("cannot publish") <= 3, receiver.output

                # Room again: the WAL is published, the gateway's retry is taken.
                (disk / "filler").unlink()
                wait_for(exported(120), 20, "the queued spans exported after room returned")
                wait_for(lambda: receiver.ready() == 200, 10, "/ready back to 200")
                assert receiver.metrics().value("otlp_arrow_store_unpublished_segments") == 0
                assert stored_spans_over_flight(port) == 120
                assert gateway.stop() == 0, gateway.output
                assert receiver.stop() == 0, receiver.output
        assert count_stored(data_dir) == 120
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
