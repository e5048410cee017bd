# SPDX-License-Identifier: Apache-2.0
"""Faults under load, with `otlp-arrow loadgen` (gRPC and HTTP) as the clients.

- Backpressure: `otlp-arrow gateway` with a small queue in front of `otlp-arrow receiver`. The
  receiver is stopped (SIGTERM, or SIGSTOP) while the load runs: the queue fills, clients are refused with
  RESOURCE_EXHAUSTED + RetryInfo (gRPC) and 429 + Retry-After (HTTP), /ready turns 503, and the
  gateway's memory stays bounded although far more data is offered than the queue holds; the
  OpenTelemetry Python SDK's exporters are refused and keep retrying. The receiver restarts on
  the same port and data dir (or gets SIGCONT): the SDK exports succeed, every accepted span is stored,
  duplicates come only from retries and are counted.
- SIGTERM during load: `otlp-arrow all-in-one` exits 0 within its deadline and every span it
  accepted is in the Parquet.
"""

import json
import os
import signal
import socket
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import grpc
import pyarrow.parquet as pq
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otlp_service import Service, count_stored, wait_for

# Every request of the loads has a multiple of 200 spans, and so has every export batch: the
# queue's level is a multiple of 200 too. Once a 200-span request is refused the queue holds
# exactly BUFFER_SPANS, and no request of any size fits until the receiver is back.
BUFFER_SPANS = 4000
BATCH_SPANS = 400
ENQUEUE_TIMEOUT_MS = 50
# How much the gateway's RSS may grow while its queue is full and clients flood it.
RSS_GROWTH_BOUND_MIB = 96
SHUTDOWN_GRACE_S = 10
SDK_SPANS = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Loadgen:
    """`otlp-arrow loadgen` in the background; result() is its --json output."""

    def __init__(self, binary: Path, json_file: Path, protocol: str, endpoint: str, *args: str):
        self.json_file = json_file
        self.command = [str(binary), "loadgen", "--protocol", protocol, "--endpoint", endpoint,
                        "--json", str(json_file), *args]
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)

    def result(self, timeout: float = 60) -> dict:
        output, _ = self.process.communicate(timeout=timeout)
        self.output = output
        assert self.json_file.exists(), f"{self.command}: no JSON\n{output}"
        return json.loads(self.json_file.read_text())

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def one_span_request() -> trace_service_pb2.ExportTraceServiceRequest:
    span = trace_pb2.Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="probe",
                          start_time_unix_nano=1, end_time_unix_nano=2)
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=[span])])])


def grpc_export(endpoint: str) -> grpc.RpcError | None:
    """One Export call with grpcio; None on success, else the error."""
    with grpc.insecure_channel(endpoint) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        try:
            stub.Export(one_span_request(), timeout=10)
            return None
        except grpc.RpcError as error:
            return error


def retry_delay_of(error: grpc.RpcError) -> float | None:
    """The RetryInfo delay (seconds) in the google.rpc.Status details of a gRPC error."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    return info.retry_delay.ToTimedelta().total_seconds()
    return None


def http_export(url: str) -> tuple[int, dict]:
    import urllib.error
    import urllib.request
    request = urllib.request.Request(url, data=one_span_request().SerializeToString(),
                                     headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def sdk_spans(count: int, tag: str) -> list:
    """`count` finished spans of the OpenTelemetry Python SDK (random, unique ids)."""
    provider = TracerProvider(resource=Resource({"service.name": f"backpressure-{tag}"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("interop.backpressure")
    for i in range(count):
        tracer.start_span(f"{tag} {i}", attributes={"i": i}).end()
    return list(memory.get_finished_spans())


class SdkExport(threading.Thread):
    """One export() of an OpenTelemetry Python SDK exporter, which retries on its own
    (RESOURCE_EXHAUSTED; 429 after Retry-After) until it succeeds or its timeout passes."""

    def __init__(self, exporter, spans):
        super().__init__(daemon=True)
        self.exporter, self.spans, self.result = exporter, spans, None
        self.start()

    def run(self):
        self.result = self.exporter.export(self.spans)
        self.exporter.shutdown()


def stored_span_ids(data_dir: Path) -> list[bytes]:
    ids = []
    for f in sorted((data_dir / "spans").rglob("*.parquet")):
        ids += pq.read_table(f, columns=["span_id"]).column("span_id").to_pylist()
    return ids


class RssSampler:
    """Samples a process's VmRSS every 20 ms on a thread; `peak_kib` is the largest seen."""

    def __init__(self, service: Service):
        self.service = service
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak_kib = max(self.peak_kib, self.service.vmrss_kib())
            except (OSError, AssertionError):
                return
            self._stop.wait(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak_kib


def accepted(metrics) -> int:
    return int(metrics.value("otlp_arrow_otlp_spans_accepted_total"))


@pytest.mark.parametrize("outage", ["sigterm", "sigstop"])
def test_backpressure_refuses_then_stores_every_accepted_span(otlp_arrow_bin, tmp_path, outage):
    """outage: the receiver exits (SIGTERM) and a new one starts on the same port and data
    dir, or it hangs (SIGSTOP: connections stay open, nothing answers) and goes on
    (SIGCONT)."""
    port = free_port()
    data_dir = tmp_path / "data"
    config = tmp_path / "gateway.yaml"
    config.write_text(f"enqueue_timeout_ms: {ENQUEUE_TIMEOUT_MS}\n"
                      "retry_backoff_ms: 50\n"
                      "retry_max_backoff_ms: 300\n"
                      "export_timeout_ms: 3000\n")
    services, loads, sampler = [], [], None
    try:
        receiver = Service(otlp_arrow_bin, "receiver", "--flight", f"127.0.0.1:{port}",
                           data_dir=data_dir)
        services.append(receiver)
        gateway = Service(otlp_arrow_bin, "gateway", "--endpoint", f"grpc://127.0.0.1:{port}",
                          "--buffer-size", str(BUFFER_SPANS), "--batch-size", str(BATCH_SPANS),
                          "--flush-interval-ms", "50", "--config", str(config))
        services.append(gateway)
        assert f"queue {BUFFER_SPANS} spans" in gateway.output, gateway.output
        assert gateway.ready() == 200, gateway.get("/ready")
        baseline_kib = gateway.vmrss_kib()
        sampler = RssSampler(gateway)
        # A steady load over the whole test, gRPC and HTTP (gzip).
        steady = ["--duration", "9", "--spans-per-request", "200", "--connections", "2"]
        loads = [
            Loadgen(otlp_arrow_bin, tmp_path / "grpc.json", "grpc", gateway.otlp_grpc,
                    "--rate", "4000", *steady),
            Loadgen(otlp_arrow_bin, tmp_path / "http.json", "http", gateway.otlp_http,
                    "--rate", "2000", "--gzip", *steady),
        ]

        # 1. The load flows through to the receiver.
        wait_for(lambda: gateway.metrics().value("otlp_arrow_export_spans_total") >= 2000, 15,
                 "2,000 spans exported before the receiver stops")

        # 2. The receiver goes away; the queue fills and clients are refused.
        if outage == "sigterm":
            assert receiver.stop() == 0, receiver.output
        else:
            os.kill(receiver.pid, signal.SIGSTOP)
        down_at = gateway.metrics()

        def refused_both():
            m = gateway.metrics()
            return (m.value("otlp_arrow_otlp_spans_refused_total", protocol="grpc",
                            reason="queue_full") > 0 and
                    m.value("otlp_arrow_otlp_spans_refused_total", protocol="http",
                            reason="queue_full") > 0) and m
        full = wait_for(refused_both, 10, "both protocols refused with queue_full")
        assert full.value("otlp_arrow_queue_spans") == BUFFER_SPANS
        assert full.value("otlp_arrow_queue_capacity_spans") == BUFFER_SPANS

        # Clients of our own hear the codes of the OTLP specification.
        error = grpc_export(gateway.otlp_grpc)
        assert error is not None and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
        delay = retry_delay_of(error)
        assert delay is not None and delay > 0, "RESOURCE_EXHAUSTED without RetryInfo"
        status, headers = http_export(gateway.otlp_http)
        assert status == 429, (status, headers)
        assert int(headers["Retry-After"]) >= 1, headers

        status, body, _ = gateway.get("/ready")
        assert status == 503, body
        assert gateway.get("/health")[0] == 200  # alive, though not ready

        # Real SDK exporters meet the full queue; they retry on their own.
        sdk_exports = {
            "grpc": SdkExport(GrpcSpanExporter(endpoint=gateway.otlp_grpc, insecure=True,
                                               timeout=40), sdk_spans(SDK_SPANS, "grpc")),
            "http": SdkExport(HttpSpanExporter(endpoint=gateway.otlp_http, timeout=40),
                              sdk_spans(SDK_SPANS, "http")),
        }

        # A flood while the queue is full: far more data than the queue holds is offered
        # (and refused); memory must not follow it.
        flood = ["--rate", "0", "--duration", "3.5", "--spans-per-request", "1000",
                 "--connections", "4"]
        floods = [
            Loadgen(otlp_arrow_bin, tmp_path / "flood-grpc.json", "grpc", gateway.otlp_grpc,
                    *flood),
            Loadgen(otlp_arrow_bin, tmp_path / "flood-http.json", "http", gateway.otlp_http,
                    "--gzip", *flood),
        ]
        loads += floods
        flood_results = [load.result(timeout=30) for load in floods]
        flood_peak_kib = sampler.peak_kib

        # 3. The receiver comes back on the same port and data dir (or resumes).
        refused_sdk = [name for name, export in sdk_exports.items() if export.is_alive()]
        if outage == "sigterm":
            receiver = Service(otlp_arrow_bin, "receiver", "--flight", f"127.0.0.1:{port}",
                               data_dir=data_dir)
            services.append(receiver)
        else:
            os.kill(receiver.pid, signal.SIGCONT)
        up_at = gateway.metrics()
        results = [load.result(timeout=60) for load in loads[:2]]
        for load in loads[:2]:
            assert load.process.returncode == 0, load.output
        for export in sdk_exports.values():
            export.join(timeout=45)

        def drained():
            m = gateway.metrics()
            return (m.value("otlp_arrow_queue_spans") == 0 and
                    m.value("otlp_arrow_export_spans_total") == accepted(m)) and m
        final = wait_for(drained, 45, "the gateway's queue drained to the restarted receiver")
        wait_for(lambda: gateway.ready() == 200, 10, "/ready back to 200")
        sampler.stop()

        assert gateway.stop() == 0, gateway.output
        assert receiver.stop() == 0, receiver.output
    finally:
        if sampler is not None:
            sampler.stop()
        for load in loads:
            load.kill()
        for service in services:
            service.kill()

    # The clients heard only OK or backpressure, and some of each.
    grpc_result, http_result = results
    for result in results + flood_results:
        assert result["failed_requests"] == 0, result
    for result in (grpc_result, flood_results[0]):
        assert set(result["outcomes"]) <= {"OK", "RESOURCE_EXHAUSTED"}, result
    for result in (http_result, flood_results[1]):
        assert set(result["outcomes"]) <= {"OK", "HTTP 429"}, result
    assert grpc_result["outcomes"].get("OK", 0) > 0 and http_result["outcomes"].get("OK", 0) > 0
    assert grpc_result["outcomes"].get("RESOURCE_EXHAUSTED", 0) > 0, grpc_result
    assert http_result["outcomes"].get("HTTP 429", 0) > 0, http_result

    # The SDK exporters were refused while the receiver was down, kept retrying, and
    # succeeded once it was back.
    assert refused_sdk == ["grpc", "http"], "an SDK export succeeded into a full queue"
    for name, export in sdk_exports.items():
        assert export.result == SpanExportResult.SUCCESS, name

    # What the clients heard accepted is what the gateway counts as accepted (the two probes
    # were refused).
    total_accepted = accepted(final)
    client_accepted = sum(r["spans_accepted"] for r in results + flood_results)
    assert client_accepted + 2 * SDK_SPANS == total_accepted
    assert final.value("otlp_arrow_otlp_spans_accepted_total", protocol="grpc") == (
        grpc_result["spans_accepted"] + flood_results[0]["spans_accepted"] + SDK_SPANS)
    assert final.value("otlp_arrow_export_send_failed_spans_total") == 0

    # Memory stayed bounded while much more was offered than the queue holds.
    offered_mib = (
        up_at.value("otlp_arrow_otlp_received_bytes_total", stage="decompressed") -
        down_at.value("otlp_arrow_otlp_received_bytes_total", stage="decompressed")) / 2**20
    queue_mib = final.value("otlp_arrow_queue_capacity_bytes") / 2**20
    growth_mib = (flood_peak_kib - baseline_kib) / 1024
    print(f"\nbackpressure ({outage}): gateway RSS {baseline_kib / 1024:.0f} MiB at start, "
          f"{flood_peak_kib / 1024:.0f} MiB at most while the receiver was down "
          f"(+{growth_mib:.0f} MiB, bound {RSS_GROWTH_BOUND_MIB} MiB); {offered_mib:.0f} MiB "
          f"of OTLP offered meanwhile; queue {BUFFER_SPANS} spans, at most "
          f"{full.value('otlp_arrow_queue_bytes') / 2**20:.1f} MiB of Arrow seen "
          f"(capacity {queue_mib:.0f} MiB)")
    assert offered_mib > 1.5 * RSS_GROWTH_BOUND_MIB, "the flood was too small to tell"
    assert growth_mib < RSS_GROWTH_BOUND_MIB

    # Every accepted span is stored; more rows than that only from retries.
    rows = count_stored(data_dir)
    retries = final.value("otlp_arrow_export_retries_total")
    duplicates = rows - total_accepted
    print(f"backpressure ({outage}): {total_accepted} spans accepted, {rows} stored, {duplicates} "
          f"duplicates, {retries:.0f} export retries; refused requests: gRPC "
          f"{grpc_result['outcomes'].get('RESOURCE_EXHAUSTED', 0)} + flood "
          f"{flood_results[0]['outcomes'].get('RESOURCE_EXHAUSTED', 0)}, HTTP "
          f"{http_result['outcomes'].get('HTTP 429', 0)} + flood "
          f"{flood_results[1]['outcomes'].get('HTTP 429', 0)}")
    assert rows >= total_accepted, f"{total_accepted - rows} accepted spans were lost"
    assert duplicates == 0 or retries > 0
    assert duplicates <= retries * BATCH_SPANS
    # The SDK's spans (unique ids, unlike the loadgens' repeated requests) are all there.
    stored_ids = stored_span_ids(data_dir)
    for name, export in sdk_exports.items():
        missing = [s.name for s in export.spans
                   if s.get_span_context().span_id.to_bytes(8, "big") not in stored_ids]
        assert not missing, f"{name}: {len(missing)} SDK spans not stored: {missing[:5]}"


def test_sigterm_during_load_drains_everything_accepted(otlp_arrow_bin, tmp_path):
    data_dir = tmp_path / "data"
    # Large batches and a long flush interval: thousands of spans wait in the queue when
    # SIGTERM comes, and the drain has to send them.
    with Service(otlp_arrow_bin, "all-in-one", "--batch-size", "5000", "--flush-interval-ms",
                 "3000", "--shutdown-grace", str(SHUTDOWN_GRACE_S),
                 data_dir=data_dir) as service:
        load_args = ["--duration", "4", "--spans-per-request", "100", "--connections", "2",
                     "--workload", "realistic"]
        load_started = datetime.now(timezone.utc)
        loads = [
            Loadgen(otlp_arrow_bin, tmp_path / "grpc.json", "grpc", service.otlp_grpc,
                    "--rate", "6000", *load_args),
            Loadgen(otlp_arrow_bin, tmp_path / "http.json", "http", service.otlp_http,
                    "--rate", "3000", *load_args),
        ]
        try:
            def backlog():
                m = service.metrics()
                return (m.value("otlp_arrow_receiver_spans_stored_total") >= 5000 and
                        m.value("otlp_arrow_queue_spans") >= 1000) and m
            before = wait_for(backlog, 20, "5,000 spans stored and 1,000 waiting in the queue")
            sent_at = time.monotonic()
            rc = service.stop(timeout=SHUTDOWN_GRACE_S + 10)
            took = time.monotonic() - sent_at
            results = [load.result(timeout=30) for load in loads]
        finally:
            for load in loads:
                load.kill()
    assert rc == 0, service.output
    assert took < SHUTDOWN_GRACE_S, f"stopping took {took:.1f} s, past the deadline"
    # Both loads were still running: they met the stopping and stopped service.
    assert all(r["refused_requests"] + r["failed_requests"] > 0 for r in results), results

    drained = [line for line in service.lines if "export queue drained:" in line]
    assert len(drained) == 1, service.output
    queued_at_stop = int(drained[0].split("export queue drained:")[1].split()[0])
    assert queued_at_stop > 0 and f"{queued_at_stop} delivered" in drained[0], drained
    stopped = [line for line in service.lines if line.startswith("stopped:")]
    assert len(stopped) == 2, service.output
    server_accepted = int(stopped[0].split()[1])
    assert f"{server_accepted} exported" in stopped[0] and ", 0 not sent" in stopped[0], stopped
    assert stopped[1].startswith(f"stopped: {server_accepted} spans stored"), stopped

    client_accepted = sum(r["spans_accepted"] for r in results)
    rows = count_stored(data_dir)
    print(f"\nSIGTERM under load: {before.value('otlp_arrow_queue_spans'):.0f} spans queued at "
          f"the last scrape, {queued_at_stop} drained after SIGTERM; stopped in {took:.2f} s; "
          f"clients heard OK for {client_accepted} spans, the service accepted "
          f"{server_accepted}, stored {rows}")
    # A client may miss an OK the service sent as it closed; it never hears OK for a span the
    # service did not take.
    assert client_accepted <= server_accepted
    assert rows == server_accepted
    # loadgen stamps its spans with the time it runs: they are in today's partition (or
    # tomorrow's, across midnight), where a query for the last hour looks.
    days = {f"dt={day:%Y-%m-%d}" for day in (load_started, datetime.now(timezone.utc))}
    partitions = {p.name for p in (data_dir / "spans").glob("dt=*")}
    assert partitions and partitions <= days, f"spans stored in {partitions}, not in {days}"
