# SPDX-License-Identifier: Apache-2.0
"""The gateway's peak memory under many large OTLP requests at once (issue #13, case 4).

`otlp-arrow gateway` exports to a port where nothing listens, so its queue fills and stays full.
16 OTLP/HTTP and 16 OTLP/gRPC clients then each send 14 MiB protobuf requests, all at once,
round after round until the queue is full: far more than the queue and the in-flight budget
hold. The peak resident
memory of the process (VmHWM, the kernel's own high-water mark) must stay under the bound that
docs/operations.md ("Memory") derives from the configuration:

    peak RSS <= 2 × buffer_bytes + 2 × limits.max_inflight_bytes + 128 MiB

Run with -s to see the figures.
"""

import os
import socket
import threading
import http.client
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from otlp_service import Service

MIB = 1 << 20
REQUEST_BYTES = 14 * MIB
CLIENTS_PER_PROTOCOL = 16
ROUNDS = 3
MAX_ROUNDS = 12
EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def bound_bytes(buffer_bytes: int, max_inflight_bytes: int) -> int:
    """docs/operations.md, "Memory": the gateway's resident memory at most."""
    return 2 * buffer_bytes + 2 * max_inflight_bytes + 128 * MIB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def large_request(size: int) -> bytes:
    """An ExportTraceServiceRequest of about `size` bytes: spans with distinct ids, names and
    attribute values (nothing that dictionary encoding or compression would shrink), 4 KiB
    each so that the queue fills by bytes (buffer_bytes) before it does by spans."""
    spans = []
    filler = os.urandom(size // 2).hex()  # text that does not repeat
    at = 0
    i = 0
    while at < len(filler) and len(spans) * 4230 < size:
        value = filler[at:at + 4096]
        at += 4096
        spans.append(trace_pb2.Span(
            trace_id=i.to_bytes(16, "big"), span_id=(i + 1).to_bytes(8, "big"),
            name=f"operation {value[:24]}", start_time_unix_nano=1_700_000_000_000_000_000 + i,
            end_time_unix_nano=1_700_000_000_000_001_000 + i,
            attributes=[common_pb2.KeyValue(key="http.url",
                                            value=common_pb2.AnyValue(string_value=value)),
                        common_pb2.KeyValue(key="n", value=common_pb2.AnyValue(int_value=i))]))
        i += 1
    request = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[
        trace_pb2.ResourceSpans(scope_spans=[trace_pb2.ScopeSpans(spans=spans)])])
    body = request.SerializeToString()
    assert size * 0.9 < len(body) <= size, len(body)
    return body


def vm_hwm_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


def http_send(endpoint: str, body: bytes, outcomes: list):
    host, port = endpoint.removeprefix("http://").split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", "/v1/traces", body=body,
                           headers={"Content-Type": "application/x-protobuf"})
        outcomes.append(("http", connection.getresponse().status))
    except OSError as error:  # a refusal may close the connection before the body is sent
        outcomes.append(("http", type(error).__name__))
    finally:
        connection.close()


def grpc_send(endpoint: str, body: bytes, outcomes: list):
    # A channel of its own: each client is a connection of its own, as separate SDKs are.
    with grpc.insecure_channel(endpoint, options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
        call = ch.unary_unary(EXPORT_METHOD)
        try:
            call(body, timeout=60)
            outcomes.append(("grpc", "OK"))
        except grpc.RpcError as error:
            outcomes.append(("grpc", error.code().name, (error.details() or "")[:50]))


@pytest.mark.parametrize("settings", ["defaults", "k8s"])
def test_peak_memory_stays_under_the_documented_bound(otlp_arrow_bin, tmp_path, settings):
    # k8s: deploy/k8s/configmap.yaml's buffer_bytes (its memory limit is 1 GiB).
    config = tmp_path / "gateway.yaml"
    config.write_text("buffer_bytes: 128MiB\n" if settings == "k8s" else "")
    buffer_bytes = 128 * MIB if settings == "k8s" else 256 * MIB
    max_inflight_bytes = 256 * MIB
    body = large_request(REQUEST_BYTES)
    with Service(otlp_arrow_bin, "gateway", "--config", str(config),
                 "--endpoint", f"grpc://127.0.0.1:{free_port()}") as gateway:
        outcomes = []
        for round_ in range(MAX_ROUNDS):
            # Until the queue is full, and a round more: its worst case is a full queue
            # besides a full budget.
            if round_ >= ROUNDS and (gateway.metrics().value("otlp_arrow_queue_bytes")
                                     >= 0.9 * buffer_bytes):
                break
            threads = [threading.Thread(target=send, args=(endpoint, body, outcomes))
                       for send, endpoint in ((http_send, gateway.otlp_http),
                                              (grpc_send, gateway.otlp_grpc))
                       for _ in range(CLIENTS_PER_PROTOCOL)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not any(t.is_alive() for t in threads), "a client hung"
        peak = vm_hwm_bytes(gateway.pid)
        metrics = gateway.metrics()
        queue = metrics.value("otlp_arrow_queue_bytes")
        assert gateway.process.poll() is None, gateway.output
        # Still serving: a small request is answered (refused: the queue is full).
        outcome = []
        http_send(gateway.otlp_http, b"", outcome)
        assert outcome == [("http", 200)], outcome

    bound = bound_bytes(buffer_bytes, max_inflight_bytes)
    summary = {k: sum(1 for o in outcomes if o == k) for k in set(outcomes)}
    print(f"\n{settings}: peak RSS {peak / MIB:.0f} MiB, bound {bound / MIB:.0f} MiB, "
          f"queue {queue / MIB:.0f} MiB, outcomes {summary}")
    assert len(outcomes) % (2 * CLIENTS_PER_PROTOCOL) == 0 and outcomes
    assert peak < bound, f"peak RSS {peak / MIB:.0f} MiB over the bound {bound / MIB:.0f} MiB"
