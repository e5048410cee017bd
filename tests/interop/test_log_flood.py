# SPDX-License-Identifier: Apache-2.0
"""A client cannot flood the service's log: each OTLP request with invalid UTF-8 in a nested
string makes libprotobuf log an error, which goes through the service's log rate-limited."""

import urllib.error
import urllib.request

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from otlp_service import Service, wait_for

REQUESTS = 200
LINE = "contains invalid UTF-8 data"


def invalid_utf8_request() -> bytes:
    """A span whose array attribute holds a string with invalid UTF-8 (protobuf's Python
    library refuses to make one, so the bytes are patched)."""
    span = trace_pb2.Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="flood",
                          start_time_unix_nano=1, end_time_unix_nano=2)
    attribute = span.attributes.add()
    attribute.key = "array"
    attribute.value.array_value.values.add().string_value = "PLACEHOLDER"
    body = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=[span])])]).SerializeToString()
    return body.replace(b"PLACEHOLDER", b"\xff\xfeLACEHOLDER")


def test_invalid_utf8_flood_is_rate_limited_in_the_log(otlp_arrow_bin, tmp_path):
    with Service(otlp_arrow_bin, "all-in-one", data_dir=tmp_path / "data") as service:
        body = invalid_utf8_request()
        for _ in range(REQUESTS):
            request = urllib.request.Request(service.otlp_http, data=body,
                                             headers={"Content-Type": "application/x-protobuf"})
            try:
                urllib.request.urlopen(request, timeout=10)
                raise AssertionError("a request with invalid UTF-8 was accepted")
            except urllib.error.HTTPError as error:
                assert error.code == 400, error.read()
        wait_for(lambda: LINE in service.output, 5, "libprotobuf's line in the log")
        assert service.stop() == 0, service.output
    lines = [line for line in service.lines if LINE in line]
    assert len(lines) <= 10, f"{len(lines)} lines for {REQUESTS} requests"
    assert lines[0].startswith("error: libprotobuf "), lines[0]  # spdlog's format
