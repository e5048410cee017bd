# SPDX-License-Identifier: Apache-2.0
"""The OpenTelemetry Node.js SDK as a real client of `otlp-arrow all-in-one`.

node/send_spans.js records traces through six tracer providers (OTLP/gRPC, OTLP/HTTP protobuf
and OTLP/HTTP JSON, each plain and with gzip; each with its own resource holding strings,
numbers, bytes, arrays and a nested object) and writes what the SDK recorded, with every
attribute value tagged by its JavaScript type. After a SIGTERM of the service every stored
Parquet row is compared field by field with it. The packages are pinned in node/package.json and
node/package-lock.json; `scripts/setup.sh --test-peers` runs `npm ci` there.
"""

import json
import math
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from otlp_service import (Service, assert_every_column_compared, comparable_row,
                          compare_stored, derived_columns, stored_rows,
                          wait_exported_and_stored)

NODE_DIR = Path(__file__).resolve().parent / "node"
HAS_IS_REMOTE, IS_REMOTE = 0x100, 0x200


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "@opentelemetry").is_dir():
        pytest.fail("Node.js or tests/interop/node/node_modules missing: run "
                    "scripts/setup.sh --test-peers (npm ci in tests/interop/node)")
    return node


def tagged_value(tagged: dict, json: bool = False):
    """A value tagged by send_spans.js → comparable form, as the SDK's OTLP transformer
    encodes it (integral numbers → intValue, other numbers → doubleValue, null → empty).

    `json`: sent by the OTLP/JSON exporter, whose JSON.stringify turns NaN and ±Infinity into
    `{"doubleValue": null}`, which is an AnyValue without a value."""
    (kind, v), = tagged.items()
    if kind == "empty":
        return ("empty",)
    if kind == "str":
        return ("str", v)
    if kind == "bool":
        return ("bool", v)
    if kind == "number":
        if isinstance(v, str):  # NaN, Infinity, -Infinity
            if json:
                return ("empty",)
            return ("double", struct.pack("<d", float(v.replace("Infinity", "inf"))))
        if isinstance(v, int) or (math.isfinite(v) and float(v).is_integer()):
            return ("int", int(v))
        return ("double", struct.pack("<d", v))
    if kind == "bytes":
        import base64
        return ("bytes", base64.b64decode(v))
    if kind == "array":
        return ("array", [tagged_value(x, json) for x in v])
    if kind == "kvlist":
        return ("kvlist", [(k, tagged_value(x, json)) for k, x in v])
    raise AssertionError(f"unknown tag {kind}")


def ns(hr_time) -> int:
    seconds, nanos = hr_time
    return seconds * 1_000_000_000 + nanos


def flags(trace_flags: int, is_remote) -> int:
    return (trace_flags & 0xFF) | HAS_IS_REMOTE | (IS_REMOTE if is_remote else 0)


def expected_row(span: dict) -> dict:
    json_sent = span["exporter"].startswith("http-json")

    def tagged_attributes(pairs) -> list:
        return [(k, tagged_value(v, json_sent)) for k, v in pairs]

    start, end = ns(span["startTime"]), ns(span["endTime"])
    resource = span["resource"]
    scope = span["scope"]
    resource_attributes = tagged_attributes(resource["attributes"])
    service = [v for k, v in resource_attributes if k == "service.name"]
    return {
        "trace_id": bytes.fromhex(span["traceId"]),
        "span_id": bytes.fromhex(span["spanId"]),
        "parent_span_id": bytes.fromhex(span["parentSpanId"]) if span["parentSpanId"] else None,
        "trace_state": span["traceState"] or None,
        "flags": flags(span["traceFlags"], span["parentIsRemote"]),
        "name": span["name"],
        "kind": span["kind"] + 1,  # the API's SpanKind starts at INTERNAL = 0
        "start_time_unix_nano": start,
        "end_time_unix_nano": end,
        **derived_columns(start, end),
        "status_code": span["status"]["code"],
        "status_message": span["status"]["message"] or None,
        "attributes": tagged_attributes(span["attributes"]),
        "dropped_attributes_count": span["droppedAttributesCount"],
        "events": [{"time_unix_nano": ns(e["time"]), "name": e["name"],
                    "attributes": tagged_attributes(e["attributes"]),
                    "dropped_attributes_count": e["droppedAttributesCount"]}
                   for e in span["events"]],
        "dropped_events_count": span["droppedEventsCount"],
        "links": [{"trace_id": bytes.fromhex(link["traceId"]),
                   "span_id": bytes.fromhex(link["spanId"]),
                   "trace_state": link["traceState"] or None,
                   "attributes": tagged_attributes(link["attributes"]),
                   "dropped_attributes_count": link["droppedAttributesCount"],
                   "flags": flags(link["traceFlags"], link["isRemote"])}
                  for link in span["links"]],
        "dropped_links_count": span["droppedLinksCount"],
        "service_name": service[0][1] if service and service[0][0] == "str" else None,
        "resource_attributes": resource_attributes,
        "resource_dropped_attributes_count": 0,
        "resource_schema_url": resource["schemaUrl"] or None,
        "scope_name": scope["name"],
        "scope_version": scope["version"] or None,
        "scope_attributes": [],  # the Node API has no instrumentation scope attributes
        "scope_dropped_attributes_count": 0,
        "scope_schema_url": scope["schemaUrl"] or None,
    }


def test_node_sdk_spans_are_stored_field_by_field(otlp_arrow_bin, node, tmp_path):
    data_dir = tmp_path / "data"
    recorded_file = tmp_path / "recorded.json"
    with Service(otlp_arrow_bin, "all-in-one", "--flush-interval-ms", "100",
                 data_dir=data_dir) as service:
        run = subprocess.run(
            [node, str(NODE_DIR / "send_spans.js"), "--grpc", f"http://{service.otlp_grpc}",
             "--http", service.otlp_http, "--out", str(recorded_file)],
            capture_output=True, text=True, timeout=60, cwd=NODE_DIR)
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{service.output}"
        recorded = json.loads(recorded_file.read_text())
        spans = recorded["spans"]
        assert len(spans) == 36, recorded["exports"]
        assert set(recorded["exports"]) == {"grpc", "grpc-gzip", "http", "http-gzip",
                                            "http-json", "http-json-gzip"}

        metrics = wait_exported_and_stored(service, 36)
        assert metrics.value("otlp_arrow_otlp_spans_accepted_total", protocol="grpc") == 12
        assert metrics.value("otlp_arrow_otlp_spans_accepted_total", protocol="http",
                             encoding="protobuf") == 12
        assert metrics.value("otlp_arrow_otlp_spans_accepted_total", protocol="http",
                             encoding="json") == 12
        assert metrics.value("otlp_arrow_otlp_spans_refused_total") == 0
        assert metrics.value("otlp_arrow_export_spans_total") == 36
        assert metrics.value("otlp_arrow_receiver_spans_stored_total") == 36
        assert service.stop() == 0, service.output

    rows = stored_rows(data_dir)
    assert len(rows) == len(spans)
    by_id = {row["span_id"]: comparable_row(row) for row in rows}
    assert len(by_id) == len(rows), "span ids are not unique among the stored rows"
    assert_every_column_compared(expected_row(spans[0]), rows)
    problems = compare_stored([expected_row(span) for span in spans], by_id)
    assert not problems, "\n".join(problems)

    # What the test claims to cover is there.
    stored = list(by_id.values())
    kinds = {v[0] for row in stored for _, v in row["attributes"]}
    assert kinds == {"str", "int", "double", "bool", "array", "empty"}  # empty: JSON's NaN
    assert {v[0] for row in stored for _, v in row["resource_attributes"]} == {
        "str", "int", "double", "bytes", "array", "kvlist"}
    assert {row["kind"] for row in stored} == {1, 2, 3, 4, 5}
    assert {row["status_code"] for row in stored} == {0, 1, 2}
    assert all(row["dropped_attributes_count"] == 3 for row in stored
               if row["name"].endswith(" internal"))
    assert any(row["dropped_events_count"] for row in stored)
    assert any(row["dropped_links_count"] for row in stored)
    assert any(link["trace_state"] for row in stored for link in row["links"])
