# SPDX-License-Identifier: Apache-2.0
"""The OpenTelemetry Python SDK as a real client of `otlp-arrow all-in-one`.

Four tracer providers (OTLP/gRPC, OTLP/gRPC + gzip, OTLP/HTTP protobuf, OTLP/HTTP protobuf +
gzip), each with its own resource, send the same traces: attributes of every value kind the SDK
has (str, bool, int, float, bytes, None, sequences, nested sequences and mappings), events and
links with attributes, error and ok statuses, every span kind, a remote parent with a trace
state, several instrumentation scopes with version, schema URL and attributes, and limits that
make the SDK drop attributes, events and links. Next to each OTLP exporter an
InMemorySpanExporter keeps what the SDK recorded; after force_flush and a SIGTERM of the service
every stored Parquet row is compared field by field with it.
"""

import math
import time

from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression as GrpcCompression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import (BatchSpanProcessor, SimpleSpanProcessor,
                                            SpanExportResult)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.span import (NonRecordingSpan, SpanContext, TraceFlags, TraceState)

from otlp_service import (RecordingExporter, Service, assert_every_column_compared,
                          comparable_row, compare_stored, derived_columns, python_attributes,
                          stored_rows, wait_exported_and_stored)

# OTLP numbering (opentelemetry.proto.trace.v1.Span.SpanKind); the Python API's enum starts at 0.
OTLP_KIND = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3,
             SpanKind.PRODUCER: 4, SpanKind.CONSUMER: 5}
HAS_IS_REMOTE, IS_REMOTE = 0x100, 0x200

RICH_ATTRIBUTES = {
    "str": "héllo wörld ✓ 日本",
    "str.empty": "",
    "bool.true": True,
    "bool.false": False,
    "int": 42,
    "int.negative": -7,
    "int.max": 2**63 - 1,
    "int.min": -(2**63),
    "float": 3.141592653589793,
    "float.negative_zero": -0.0,
    "float.infinity": math.inf,
    "float.nan": math.nan,
    "float.tiny": 5e-324,
    "bytes": b"\x00\x01\xfe\xff",
    "bytes.empty": b"",
    "none": None,
    "seq.str": ["a", "", "ü"],
    "seq.bool": [True, False, True],
    "seq.int": [1, -2, 2**62],
    "seq.float": [1.5, -0.25, 1e300],
    "seq.bytes": [b"ab", b"\x00"],
    "seq.empty": [],
    "seq.nested": [[1, 2], ["x"], []],
    "map": {"k": "v", "n": 1, "f": 0.5, "b": False, "inner": {"list": [1, "two"]}},
}
LIMITS = SpanLimits(max_span_attributes=30, max_events=4, max_links=3,
                    max_event_attributes=3, max_link_attributes=2)


def emit_traces(provider: TracerProvider, tag: str) -> None:
    """The same shapes of traces for every provider; names carry `tag`."""
    scoped = provider.get_tracer(
        "interop.python.scoped", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.26.0",
        attributes={"scope.str": "s", "scope.int": 7, "scope.seq": ["a", "b"],
                    "scope.bytes": b"\x01"})
    plain = provider.get_tracer("interop.python.plain")

    remote_parent = SpanContext(
        trace_id=0x0af7651916cd43dd8448eb211c80319c, span_id=0xb7ad6b7169203331,
        is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "v1"), ("other", "x-y")]))
    parent_ctx = trace_api.set_span_in_context(NonRecordingSpan(remote_parent))
    base = time.time_ns() - 5_000_000_000

    root = scoped.start_span(f"{tag} GET /api/ü", context=parent_ctx, kind=SpanKind.SERVER,
                             attributes=RICH_ATTRIBUTES, start_time=base + 1)
    root_ctx = trace_api.set_span_in_context(root)

    client = scoped.start_span(f"{tag} client call", context=root_ctx, kind=SpanKind.CLIENT,
                               start_time=base + 1_000)
    client.add_event("request.sent", {"size": 123, "ok": True, "ratio": 0.25},
                     timestamp=base + 1_500)
    client.add_event("no attributes", timestamp=base + 1_600)
    client.add_event("too many attributes", {"a": 1, "b": "2", "c": 3.0, "d": [1], "e": b"e"},
                     timestamp=base + 1_700)
    client.set_status(Status(StatusCode.ERROR, "upstream said 503: ✗"))
    client.end(end_time=base + 2_000_000)

    producer = plain.start_span(f"{tag} publish", context=root_ctx, kind=SpanKind.PRODUCER,
                                start_time=base + 3_000)
    producer.set_status(Status(StatusCode.OK))
    producer.end(end_time=base + 3_500)

    other_trace = SpanContext(trace_id=0x1, span_id=0x2, is_remote=True,
                              trace_flags=TraceFlags(TraceFlags.SAMPLED))
    consumer = plain.start_span(
        f"{tag} consume", kind=SpanKind.CONSUMER, start_time=base + 4_000,
        links=[Link(producer.get_span_context(), {"link.kind": "follows", "n": 2}),
               Link(other_trace, {"a": 1, "b": 2, "c": 3}),  # one attribute over the limit
               Link(remote_parent)])
    consumer.add_link(root.get_span_context(), {"late": True})  # over max_links: dropped
    consumer.end(end_time=base + 9_000)

    internal = plain.start_span(f"{tag} internal", context=root_ctx, start_time=base + 10_000)
    for i in range(6):  # max_events=4: two dropped
        internal.add_event(f"tick {i}", {"i": i}, timestamp=base + 10_001 + i)
    for i in range(33):  # max_span_attributes=30: the three oldest dropped
        internal.set_attribute(f"attr.{i:02d}", i)
    internal.end(end_time=base + 20_000)

    # A new root without parent, no attributes, zero duration.
    lonely = plain.start_span(f"{tag} lonely root", context=trace_api.Context(),
                              start_time=base + 30_000)
    lonely.end(end_time=base + 30_000)

    root.set_status(Status(StatusCode.ERROR, "root failed"))
    root.end(end_time=base + 50_000_000)


def expected_row(span) -> dict:
    """The span table row of one ReadableSpan, in the comparable form of otlp_service."""
    ctx = span.get_span_context()
    parent = span.parent
    scope = span.instrumentation_scope
    resource = span.resource
    return {
        "trace_id": ctx.trace_id.to_bytes(16, "big"),
        "span_id": ctx.span_id.to_bytes(8, "big"),
        "parent_span_id": parent.span_id.to_bytes(8, "big") if parent else None,
        "trace_state": ctx.trace_state.to_header() or None,
        # The SDK's OTLP encoder sets only the is-remote bits (not the W3C trace flags).
        "flags": HAS_IS_REMOTE | (IS_REMOTE if parent is not None and parent.is_remote else 0),
        "name": span.name,
        "kind": OTLP_KIND[span.kind],
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        **derived_columns(span.start_time, span.end_time),
        "status_code": span.status.status_code.value,
        "status_message": span.status.description or None,
        "attributes": python_attributes(span.attributes),
        "dropped_attributes_count": span.dropped_attributes,
        "events": [{"time_unix_nano": e.timestamp, "name": e.name,
                    "attributes": python_attributes(e.attributes),
                    "dropped_attributes_count": e.dropped_attributes} for e in span.events],
        "dropped_events_count": span.dropped_events,
        "links": [{"trace_id": link.context.trace_id.to_bytes(16, "big"),
                   "span_id": link.context.span_id.to_bytes(8, "big"),
                   # The SDK's OTLP encoder does not send a link's trace state.
                   "trace_state": None,
                   "attributes": python_attributes(link.attributes),
                   "dropped_attributes_count": link.dropped_attributes,
                   "flags": HAS_IS_REMOTE | (IS_REMOTE if link.context.is_remote else 0)}
                  for link in span.links],
        "dropped_links_count": span.dropped_links,
        "service_name": resource.attributes.get("service.name"),
        "resource_attributes": python_attributes(resource.attributes),
        "resource_dropped_attributes_count": 0,
        "resource_schema_url": resource.schema_url or None,
        "scope_name": scope.name,
        "scope_version": scope.version or None,
        "scope_attributes": python_attributes(scope.attributes),
        "scope_dropped_attributes_count": 0,
        "scope_schema_url": scope.schema_url or None,
    }


def make_provider(tag: str, exporter) -> tuple:
    resource = Resource({
        "service.name": f"interop-python-{tag}",
        "service.version": "9.8.7",
        "deployment.environment": "ci",
        "host.id": b"\xde\xad\xbe\xef",
        "process.pid": 4242,
        "sampling.ratio": 0.5,
        "feature.flags": ["a", "b"],
        "team": {"name": "tracing", "size": 3},
    }, schema_url="https://opentelemetry.io/schemas/1.25.0")
    provider = TracerProvider(resource=resource, span_limits=LIMITS)
    memory = InMemorySpanExporter()
    recording = RecordingExporter(exporter)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(BatchSpanProcessor(recording, schedule_delay_millis=100))
    return provider, memory, recording


def test_python_sdk_spans_are_stored_field_by_field(otlp_arrow_bin, tmp_path):
    data_dir = tmp_path / "data"
    with Service(otlp_arrow_bin, "all-in-one", "--flush-interval-ms", "100",
                 data_dir=data_dir) as service:
        exporters = {
            "grpc": GrpcSpanExporter(endpoint=service.otlp_grpc, insecure=True, timeout=10),
            "grpc-gzip": GrpcSpanExporter(endpoint=service.otlp_grpc, insecure=True, timeout=10,
                                          compression=GrpcCompression.Gzip),
            "http": HttpSpanExporter(endpoint=service.otlp_http, timeout=10),
            "http-gzip": HttpSpanExporter(endpoint=service.otlp_http, timeout=10,
                                          compression=HttpCompression.Gzip),
        }
        providers = {tag: make_provider(tag, exporter) for tag, exporter in exporters.items()}
        for tag, (provider, _, _) in providers.items():
            emit_traces(provider, tag)
        for tag, (provider, _, recording) in providers.items():
            assert provider.force_flush(20_000), tag
            provider.shutdown()
            assert recording.results, f"{tag}: nothing exported"
            assert all(r == SpanExportResult.SUCCESS for _, r in recording.results), (
                f"{tag}: {recording.results}\n{service.output}")

        recorded = {tag: memory.get_finished_spans() for tag, (_, memory, _) in
                    providers.items()}
        per_provider = len(recorded["grpc"])
        assert per_provider == 6 and all(len(s) == per_provider for s in recorded.values())
        total = 4 * per_provider

        # /metrics agrees with what was sent: per protocol, then exported and stored.
        metrics = wait_exported_and_stored(service, total)
        grpc_spans = 2 * per_provider
        http_spans = 2 * per_provider
        assert metrics.value("otlp_arrow_otlp_spans_received_total",
                             protocol="grpc") == grpc_spans
        assert metrics.value("otlp_arrow_otlp_spans_accepted_total",
                             protocol="grpc") == grpc_spans
        assert metrics.value("otlp_arrow_otlp_spans_accepted_total", protocol="http",
                             encoding="protobuf") == http_spans
        assert metrics.value("otlp_arrow_otlp_spans_accepted_total", protocol="http",
                             encoding="json") == 0
        assert metrics.value("otlp_arrow_otlp_spans_refused_total") == 0
        assert metrics.value("otlp_arrow_export_spans_total") == total
        assert metrics.value("otlp_arrow_receiver_spans_stored_total") == total
        assert metrics.value("otlp_arrow_export_send_failed_spans_total") == 0
        # Every provider sent at least one request; the gzip ones were compressed on the wire.
        assert metrics.value("otlp_arrow_otlp_requests_total", protocol="grpc") >= 2
        assert metrics.value("otlp_arrow_otlp_requests_total", protocol="http",
                             encoding="protobuf") >= 2

        assert service.stop() == 0, service.output
        assert f"stopped: {total} spans accepted over OTLP, {total} exported" in service.output

    rows = stored_rows(data_dir)
    assert len(rows) == total
    by_id = {row["span_id"]: comparable_row(row) for row in rows}
    assert len(by_id) == total, "span ids are not unique among the stored rows"
    assert_every_column_compared(expected_row(recorded["grpc"][0]), rows)
    problems = compare_stored(
        [expected_row(span) for spans in recorded.values() for span in spans], by_id)
    assert not problems, "\n".join(problems)

    # The test exercised what it claims: every value kind, drops, remote parent, statuses.
    kinds = {value[0] for row in by_id.values() for _, value in row["attributes"]}
    assert kinds == {"empty", "str", "int", "double", "bool", "bytes", "array", "kvlist"}
    assert {row["kind"] for row in by_id.values()} == {1, 2, 3, 4, 5}
    assert {row["status_code"] for row in by_id.values()} == {0, 1, 2}
    assert any(row["dropped_attributes_count"] for row in by_id.values())
    assert any(row["dropped_events_count"] for row in by_id.values())
    assert any(row["dropped_links_count"] for row in by_id.values())
    assert any(e["dropped_attributes_count"] for row in by_id.values() for e in row["events"])
    assert any(link["dropped_attributes_count"] for row in by_id.values()
               for link in row["links"])
    assert any(row["flags"] & IS_REMOTE for row in by_id.values())
    assert any(row["trace_state"] for row in by_id.values())
