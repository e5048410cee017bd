# SPDX-License-Identifier: Apache-2.0
"""curl posts OTLP/JSON (`Content-Type: application/json`, once plain and once gzip'd) to
`otlp-arrow all-in-one`; the stored rows equal the JSON's spans, field by field. A malformed
body and a wrong content type get their documented answers and store nothing.
"""

import gzip
import json
import subprocess

from otlp_service import (Service, assert_every_column_compared, comparable_row,
                          compare_stored, derived_columns, json_attributes, stored_rows,
                          wait_exported_and_stored)

KIND_NAMES = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
              "SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}
STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}

EVERY_KIND = [
    {"key": "str", "value": {"stringValue": "héllo ✓ \"quoted\" \\ \u0000 nul"}},
    {"key": "str.empty", "value": {"stringValue": ""}},
    {"key": "int.string", "value": {"intValue": "-9223372036854775808"}},
    {"key": "int.number", "value": {"intValue": 9007199254740993}},
    {"key": "int.max", "value": {"intValue": "9223372036854775807"}},
    {"key": "double", "value": {"doubleValue": 2.5}},
    {"key": "double.negative_zero", "value": {"doubleValue": -0.0}},
    {"key": "double.nan", "value": {"doubleValue": "NaN"}},
    {"key": "double.infinity", "value": {"doubleValue": "-Infinity"}},
    {"key": "bool", "value": {"boolValue": True}},
    {"key": "bytes", "value": {"bytesValue": "AAH+/w=="}},
    {"key": "empty", "value": {}},
    {"key": "array", "value": {"arrayValue": {"values": [
        {"stringValue": "a"}, {"intValue": "3"}, {"doubleValue": 0.125}, {"boolValue": False},
        {"bytesValue": "AQI="}, {}, {"arrayValue": {"values": [{"intValue": "-1"}]}},
        {"kvlistValue": {"values": [{"key": "in", "value": {"stringValue": "array"}}]}}]}}},
    {"key": "array.empty", "value": {"arrayValue": {}}},
    {"key": "kvlist", "value": {"kvlistValue": {"values": [
        {"key": "k", "value": {"stringValue": "v"}},
        {"key": "n", "value": {"intValue": "12345678901234"}},
        {"key": "nested", "value": {"kvlistValue": {"values": [
            {"key": "deep", "value": {"doubleValue": "Infinity"}}]}}}]}}},
]


def request(tag: str) -> dict:
    """Two resources, three scopes, five spans; ids differ per `tag`."""
    t = {"plain": "1", "gzip": "2"}[tag]
    trace = f"5b8efff798038103d269b633813fc60{t}"
    return {"resourceSpans": [
        {"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": f"curl-{tag}"}},
            {"key": "host.name", "value": {"stringValue": "ci"}},
            *EVERY_KIND], "droppedAttributesCount": 2},
         "schemaUrl": "https://opentelemetry.io/schemas/1.24.0",
         "scopeSpans": [
             {"scope": {"name": "curl.scope", "version": "0.1",
                        "attributes": [{"key": "scope.k", "value": {"intValue": "5"}}],
                        "droppedAttributesCount": 1},
              "schemaUrl": "https://opentelemetry.io/schemas/1.23.0",
              "spans": [
                  {"traceId": trace, "spanId": f"eee19b7ec3c1b17{t}",
                   "traceState": "rojo=00f067aa0ba902b7", "flags": 769,
                   "name": f"{tag} root ü", "kind": 2,
                   "startTimeUnixNano": "1795770000000000123",
                   "endTimeUnixNano": "1795770001500000456",
                   "attributes": EVERY_KIND, "droppedAttributesCount": 3,
                   "events": [
                       {"timeUnixNano": "1795770000100000000", "name": "ev1",
                        "attributes": [{"key": "e", "value": {"boolValue": False}}],
                        "droppedAttributesCount": 4},
                       {"timeUnixNano": "1795770000200000000", "name": "ev2"}],
                   "droppedEventsCount": 5,
                   "links": [
                       {"traceId": "0af7651916cd43dd8448eb211c80319c",
                        "spanId": "b7ad6b7169203331", "traceState": "congo=t61rcWkgMzE",
                        "attributes": [{"key": "l", "value": {"stringValue": "x"}}],
                        "droppedAttributesCount": 6, "flags": 257},
                       {"traceId": "0AF7651916CD43DD8448EB211C80319D",
                        "spanId": "B7AD6B7169203332"}],
                   "droppedLinksCount": 7,
                   "status": {"code": 2, "message": "boom"}},
                  {"traceId": trace, "spanId": f"aaa19b7ec3c1b17{t}",
                   "parentSpanId": f"eee19b7ec3c1b17{t}",
                   "name": f"{tag} child named enums", "kind": "SPAN_KIND_CLIENT",
                   "startTimeUnixNano": "1795770000500000000",
                   "endTimeUnixNano": "1795770000600000000",
                   "status": {"code": "STATUS_CODE_OK"}}]},
             {"scope": {"name": "curl.other"},
              "spans": [
                  {"traceId": trace, "spanId": f"bbb19b7ec3c1b17{t}",
                   "parentSpanId": f"eee19b7ec3c1b17{t}", "name": f"{tag} minimal",
                   "startTimeUnixNano": "1795770000700000000",
                   "endTimeUnixNano": "1795770000700000000"}]}]},
        {"resource": {"attributes": []},
         "scopeSpans": [{"spans": [
             {"traceId": f"00000000000000000000000000000{t}ff", "spanId": f"000000000000{t}fff",
              "name": "", "kind": 5, "startTimeUnixNano": "1795770000000000000",
              "endTimeUnixNano": "1795770000000000001",
              "status": {"message": "message without a code"}},
             {"traceId": f"00000000000000000000000000000{t}fe", "spanId": f"000000000000{t}ffe",
              "name": f"{tag} producer", "kind": 4,
              "startTimeUnixNano": 1795770000000000000,  # a number, not a string
              "endTimeUnixNano": "1795770000000009999"}]}]},
    ]}


def enum(value, names):
    return names[value] if isinstance(value, str) else value


def expected_rows(body: dict) -> list[dict]:
    rows = []
    for rs in body["resourceSpans"]:
        resource = rs.get("resource", {})
        resource_attributes = json_attributes(resource.get("attributes"))
        service = [v for k, v in resource_attributes if k == "service.name" and v[0] == "str"]
        for ss in rs.get("scopeSpans", []):
            scope = ss.get("scope", {})
            for span in ss["spans"]:
                start = int(span["startTimeUnixNano"])
                end = int(span["endTimeUnixNano"])
                status = span.get("status", {})
                rows.append({
                    "trace_id": bytes.fromhex(span["traceId"]),
                    "span_id": bytes.fromhex(span["spanId"]),
                    "parent_span_id": (bytes.fromhex(span["parentSpanId"])
                                       if span.get("parentSpanId") else None),
                    "trace_state": span.get("traceState") or None,
                    "flags": span.get("flags", 0),
                    "name": span.get("name", ""),
                    "kind": enum(span.get("kind", 0), KIND_NAMES),
                    "start_time_unix_nano": start,
                    "end_time_unix_nano": end,
                    **derived_columns(start, end),
                    "status_code": enum(status.get("code", 0), STATUS_NAMES),
                    "status_message": status.get("message") or None,
                    "attributes": json_attributes(span.get("attributes")),
                    "dropped_attributes_count": span.get("droppedAttributesCount", 0),
                    "events": [{"time_unix_nano": int(e.get("timeUnixNano", 0)),
                                "name": e.get("name", ""),
                                "attributes": json_attributes(e.get("attributes")),
                                "dropped_attributes_count": e.get("droppedAttributesCount", 0)}
                               for e in span.get("events", [])],
                    "dropped_events_count": span.get("droppedEventsCount", 0),
                    "links": [{"trace_id": bytes.fromhex(link["traceId"]),
                               "span_id": bytes.fromhex(link["spanId"]),
                               "trace_state": link.get("traceState") or None,
                               "attributes": json_attributes(link.get("attributes")),
                               "dropped_attributes_count": link.get("droppedAttributesCount", 0),
                               "flags": link.get("flags", 0)}
                              for link in span.get("links", [])],
                    "dropped_links_count": span.get("droppedLinksCount", 0),
                    "service_name": service[0][1] if service else None,
                    "resource_attributes": resource_attributes,
                    "resource_dropped_attributes_count": resource.get(
                        "droppedAttributesCount", 0),
                    "resource_schema_url": rs.get("schemaUrl") or None,
                    "scope_name": scope.get("name") or None,
                    "scope_version": scope.get("version") or None,
                    "scope_attributes": json_attributes(scope.get("attributes")),
                    "scope_dropped_attributes_count": scope.get("droppedAttributesCount", 0),
                    "scope_schema_url": ss.get("schemaUrl") or None,
                })
    return rows


def curl(url: str, body_file, *headers: str) -> tuple[int, str]:
    run = subprocess.run(
        ["curl", "-sS", "-X", "POST", "--data-binary", f"@{body_file}",
         "-o", "-", "-w", "\n%{http_code}", *[a for h in headers for a in ("-H", h)], url],
        capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    body, _, code = run.stdout.rpartition("\n")
    return int(code), body


def test_curl_json_bodies_are_stored_field_by_field(otlp_arrow_bin, tmp_path):
    data_dir = tmp_path / "data"
    plain, zipped = request("plain"), request("gzip")
    plain_file = tmp_path / "plain.json"
    plain_file.write_text(json.dumps(plain))
    zipped_file = tmp_path / "zipped.json.gz"
    zipped_file.write_bytes(gzip.compress(json.dumps(zipped).encode()))
    bad_file = tmp_path / "bad.json"
    bad_file.write_text('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"')

    with Service(otlp_arrow_bin, "all-in-one", "--flush-interval-ms", "100",
                 data_dir=data_dir) as service:
        url = service.otlp_http
        code, body = curl(url, plain_file, "Content-Type: application/json")
        assert (code, json.loads(body)) == (200, {}), body
        code, body = curl(url, zipped_file, "Content-Type: application/json",
                          "Content-Encoding: gzip")
        assert (code, json.loads(body)) == (200, {}), body

        # Malformed JSON: 400 with a google.rpc.Status in JSON; a wrong type: 415.
        code, body = curl(url, bad_file, "Content-Type: application/json")
        assert code == 400, body
        assert json.loads(body)["code"] == 3 and json.loads(body)["message"]
        code, body = curl(url, plain_file, "Content-Type: text/plain")
        assert code == 415, body

        spans = len(expected_rows(plain)) * 2
        metrics = wait_exported_and_stored(service, spans)
        assert metrics.value("otlp_arrow_otlp_spans_accepted_total", protocol="http",
                             encoding="json") == spans
        assert metrics.value("otlp_arrow_otlp_requests_total", protocol="http",
                             encoding="json") == 3
        assert metrics.value("otlp_arrow_otlp_spans_accepted_total", protocol="grpc") == 0
        assert metrics.value("otlp_arrow_export_spans_total") == spans
        assert metrics.value("otlp_arrow_receiver_spans_stored_total") == spans
        assert service.stop() == 0, service.output

    rows = stored_rows(data_dir)
    assert len(rows) == spans
    by_id = {row["span_id"]: comparable_row(row) for row in rows}
    assert_every_column_compared(expected_rows(plain)[0], rows)
    problems = compare_stored(expected_rows(plain) + expected_rows(zipped), by_id)
    assert not problems, "\n".join(problems)
    kinds = {v[0] for row in by_id.values() for _, v in row["attributes"]}
    assert kinds == {"empty", "str", "int", "double", "bool", "bytes", "array", "kvlist"}
