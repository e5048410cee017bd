# SPDX-License-Identifier: Apache-2.0
"""Spans made by real OpenTelemetry instrumentation (tests/fixtures/real).

- The committed corpus, replayed once by `otlp-arrow loadgen --input` into an all-in-one, is
  stored losslessly: every stored row equals the file's span, field by field, its times moved
  by the one offset loadgen applied (the file's earliest span now starts at the time of the
  run), so durations and the spacing of spans are kept.
- A second pass through the file renews the ids (the same spans, other trace and span ids,
  parent links kept) rather than sending identical spans twice.
- The generator runs (a few hundred spans) and writes requests that decode, so CI notices
  when a new version of the instrumentation breaks it.
"""

import base64
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otlp_service import (Service, assert_every_column_compared, comparable_row, compare_rows,
                          stored_rows, wait_exported_and_stored)
from test_otlp_json import expected_rows

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "real" / "real_traces.binpb.zst"
GENERATOR = ROOT / "tests" / "fixtures" / "real" / "make_real_traces.py"


def read_requests(path: Path) -> list[ExportTraceServiceRequest]:
    """A file of 4-byte big-endian length-prefixed requests, zstd-compressed as a whole when it
    starts with the zstd magic number (read independently of the C++ reader under test)."""
    import zstandard
    data = path.read_bytes()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    requests, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        request = ExportTraceServiceRequest()
        request.ParseFromString(data[offset + 4:offset + 4 + length])
        requests.append(request)
        offset += 4 + length
    return requests


def as_otlp_json(request: ExportTraceServiceRequest, time_offset: int) -> dict:
    """The request in the OTLP/JSON form test_otlp_json.expected_rows reads (ids as hex), every
    time moved by `time_offset`."""
    body = MessageToDict(request, use_integers_for_enums=True)

    def hex_id(value: str) -> str:
        return base64.b64decode(value).hex()

    for rs in body.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = hex_id(span[key])
                for key in ("startTimeUnixNano", "endTimeUnixNano"):
                    span[key] = str(int(span[key]) + time_offset)
                for event in span.get("events", []):
                    event["timeUnixNano"] = str(int(event["timeUnixNano"]) + time_offset)
                for link in span.get("links", []):
                    link["traceId"], link["spanId"] = (hex_id(link["traceId"]),
                                                       hex_id(link["spanId"]))
    return body


def earliest_start(requests) -> int:
    return min(span.start_time_unix_nano for r in requests for rs in r.resource_spans
               for ss in rs.scope_spans for span in ss.spans)


def loadgen(otlp_arrow_bin: Path, service: Service, *args: str) -> str:
    run = subprocess.run(
        [str(otlp_arrow_bin), "loadgen", "--endpoint", service.otlp_grpc,
         "--connections", "2", "--duration", "60", *args],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_fixture_replayed_by_loadgen_is_stored_losslessly(otlp_arrow_bin, tmp_path):
    requests = read_requests(FIXTURE)
    spans = sum(len(ss.spans) for r in requests for rs in r.resource_spans
                for ss in rs.scope_spans)
    assert spans == 30003
    data_dir = tmp_path / "data"
    with Service(otlp_arrow_bin, "all-in-one", data_dir=data_dir) as service:
        out = loadgen(otlp_arrow_bin, service, "--input", str(FIXTURE), "--passes", "1")
        assert f"accepted {spans} spans" in out, out
        wait_exported_and_stored(service, spans, timeout=60)
        assert service.stop() == 0, service.output()
    rows = stored_rows(data_dir)
    assert len(rows) == spans
    # One offset moved every time of the file: the earliest stored start is the earliest span
    # of the file, moved.
    offset = min(row["start_time_unix_nano"] for row in rows) - earliest_start(requests)
    assert offset > 0
    expected = [row for r in requests for row in expected_rows(as_otlp_json(r, offset))]
    assert_every_column_compared(expected[0], rows)
    by_id = {row["span_id"]: comparable_row(row) for row in rows}
    assert len(by_id) == spans, "span ids repeat in the stored rows"
    problems = []
    for want in expected:
        got = by_id.get(want["span_id"])
        if got is None:
            problems.append(f"{want['name']}: not stored")
        else:
            problems += compare_rows(want, got, f"{want['name']}: ")
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} problems)"


def test_second_pass_renews_ids_and_keeps_parent_links(otlp_arrow_bin, tmp_path):
    data_dir = tmp_path / "data"
    requests = read_requests(FIXTURE)[:4]  # a few requests are enough
    small = tmp_path / "small.binpb"
    small.write_bytes(b"".join(struct.pack(">I", len(r.SerializeToString()))
                               + r.SerializeToString() for r in requests))
    spans = sum(len(ss.spans) for r in requests for rs in r.resource_spans
                for ss in rs.scope_spans)
    with Service(otlp_arrow_bin, "all-in-one", data_dir=data_dir) as service:
        out = loadgen(otlp_arrow_bin, service, "--input", str(small), "--passes", "2")
        assert f"accepted {2 * spans} spans" in out, out
        wait_exported_and_stored(service, 2 * spans, timeout=60)
        assert service.stop() == 0, service.output()
    rows = stored_rows(data_dir)
    assert len(rows) == 2 * spans
    assert len({row["span_id"] for row in rows}) == 2 * spans, "a pass repeated span ids"
    # Each span twice, under other ids: (name, duration) pairs come an even number of times.
    shape = Counter((row["name"], row["duration_ns"]) for row in rows)
    assert all(n % 2 == 0 for n in shape.values()), shape.most_common(3)
    # Parents are still found in the same pass: every parent id that the file resolves within
    # itself resolves within the stored rows, as often as in the file (twice).
    ids = {row["span_id"] for row in rows}
    in_file = {span.span_id for r in requests for rs in r.resource_spans
               for ss in rs.scope_spans for span in ss.spans}
    resolved_in_file = sum(1 for r in requests for rs in r.resource_spans
                           for ss in rs.scope_spans for span in ss.spans
                           if span.parent_span_id in in_file)
    assert resolved_in_file > 0
    assert sum(1 for row in rows if row["parent_span_id"] in ids) == 2 * resolved_in_file


def test_generator_writes_decodable_requests(tmp_path):
    out = tmp_path / "small.binpb.zst"
    run = subprocess.run([sys.executable, str(GENERATOR), "--spans", "300", str(out)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    requests = read_requests(out)
    spans = [(rs, ss.scope.name, span) for r in requests for rs in r.resource_spans
             for ss in rs.scope_spans for span in ss.spans]
    assert len(spans) >= 300
    services = {a.value.string_value for rs, _, _ in spans for a in rs.resource.attributes
                if a.key == "service.name"}
    assert services == {"frontend", "orders", "inventory", "worker"}
    scopes = {scope for _, scope, _ in spans}
    for scope in ("opentelemetry.instrumentation.flask", "opentelemetry.instrumentation.requests",
                  "opentelemetry.instrumentation.sqlite3", "shop.worker"):
        assert scope in scopes, scopes
    assert all(len(span.trace_id) == 16 and len(span.span_id) == 8 for _, _, span in spans)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
