# SPDX-License-Identifier: Apache-2.0
"""Helpers of the tests with real OTLP clients (test_sdk_*.py, test_otlp_json.py,
test_gateway_faults.py): `otlp-arrow all-in-one | gateway | receiver` as a child process, its
/metrics and /ready, the Parquet it stores, and OTLP values in one comparable form.

Comparable form of an OTLP AnyValue (what both the expected side and the stored side are turned
into before they are compared):
    ("empty",) ("str", s) ("int", i) ("double", 8 bytes of the IEEE value) ("bool", b)
    ("bytes", b) ("array", [value, ...]) ("kvlist", [(key, value), ...])
Doubles are compared by their bits, so -0.0 and NaN count.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client.parser import text_string_to_metric_families

# Variables that would change the configuration of the service under test.
_CONFIG_ENV = ("OTLP_ARROW_CONFIG", "ARROW_FLIGHT_ENDPOINT", "BATCH_SIZE", "FLUSH_INTERVAL_MS",
               "BUFFER_SIZE", "OTLP_ARROW_LOG")

_GRPC_RE = re.compile(r"^OTLP/gRPC listening on (\S+)")
_HTTP_RE = re.compile(r"^OTLP/HTTP listening on (\S+)")
_FLIGHT_RE = re.compile(r"^otlp-arrow receiver listening on grpc://([\d.]+):(\d+)")
_OPS_RE = re.compile(r"^health on (http://\S+)/health and \S+; metrics on (http://\S+)")


class Service:
    """`otlp-arrow ROLE` with every listener on a free port (unless `args` names one).

    Output is read on a thread into `lines`; `stop()` sends SIGTERM and waits; `kill()` is for
    clean-up. Use as a context manager: leaving the block kills a process still running.
    """

    def __init__(self, binary: Path, role: str, *args: str, data_dir: Path | None = None,
                 env: dict | None = None, start_timeout: float = 30):
        self.role = role
        command = [str(binary), role]
        given = set(a for a in args if a.startswith("--"))
        listeners = {"gateway": ["--otlp-grpc", "--otlp-http"],
                     "receiver": ["--flight"],
                     "all-in-one": ["--otlp-grpc", "--otlp-http", "--flight"]}[role]
        for flag in listeners + ["--health", "--metrics"]:
            if flag not in given:
                command += [flag, "127.0.0.1:0"]
        if data_dir is not None:
            command += ["--data-dir", str(data_dir)]
        command += list(args)
        full_env = {k: v for k, v in os.environ.items() if k not in _CONFIG_ENV}
        full_env.update(env or {})
        self.command = command
        self.lines: list[str] = []
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env=full_env)
        self.otlp_grpc = self.otlp_http = self.health = self.metrics_url = None
        self.flight_port = None
        deadline = time.monotonic() + start_timeout
        try:
            while time.monotonic() < deadline:
                line = self.process.stdout.readline()
                if not line:
                    break
                self.lines.append(line)
                if m := _GRPC_RE.match(line):
                    self.otlp_grpc = m.group(1)
                elif m := _HTTP_RE.match(line):
                    self.otlp_http = m.group(1)
                elif m := _FLIGHT_RE.match(line):
                    self.flight_port = int(m.group(2))
                elif m := _OPS_RE.match(line):  # the banner's last line
                    self.health, self.metrics_url = m.group(1), m.group(2)
                    break
            assert self.health, f"{role} did not start:\n{self.output}"
        except BaseException:
            self.kill()
            raise
        # Keep draining the output so that the process never blocks on a full pipe.
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self):
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit code (after the output is read to its end)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        rc = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc

    def kill(self):
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGCONT)  # in case a test stopped it
            except ProcessLookupError:
                pass
            self.process.kill()
            self.process.wait(timeout=10)

    def get(self, path: str, timeout: float = 5) -> tuple[int, str, dict]:
        """GET on the health/metrics server: (status, body, headers)."""
        url = (self.metrics_url if path == "/metrics" else self.health + path)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def ready(self) -> int:
        return self.get("/ready")[0]

    def metrics(self) -> "Metrics":
        status, body, _ = self.get("/metrics")
        assert status == 200, body
        return Metrics(body)

    def vmrss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError(f"no VmRSS for pid {self.pid}")


class Metrics:
    """One scrape, parsed by the Prometheus client library."""

    def __init__(self, text: str):
        self.text = text
        self.samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                self.samples[key] = sample.value

    def value(self, name: str, **labels) -> float:
        """The sum of every sample of `name` whose labels include `labels`."""
        found = [v for (n, ls), v in self.samples.items()
                 if n == name and set(labels.items()) <= set(ls)]
        assert found, f"no sample {name} {labels} in\n{self.text}"
        return sum(found)


class RecordingExporter:
    """Forwards to an OpenTelemetry SDK span exporter and keeps every export's span count
    and result. (The SDK's span processors only call these methods; not subclassing its
    SpanExporter keeps this module free of the SDK for the deployment tests.)"""

    def __init__(self, inner):
        self.inner = inner
        self.results = []

    def export(self, spans):
        result = self.inner.export(spans)
        self.results.append((len(spans), result))
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def wait_for(predicate, timeout: float, message: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message}")
        time.sleep(interval)


def wait_exported_and_stored(service: Service, spans: int, timeout: float = 20) -> Metrics:
    """The scrape in which all-in-one has both exported and stored `spans` spans. (The receiver
    counts a batch as stored before the gateway half reads its acknowledgement, so one scrape
    may show it stored and not yet exported.)"""
    def done():
        m = service.metrics()
        return (m.value("otlp_arrow_export_spans_total") >= spans and
                m.value("otlp_arrow_receiver_spans_stored_total") >= spans) and m
    return wait_for(done, timeout, f"{spans} spans exported and stored (metrics)")


# ---------------------------------------------------------------------------------------------
# What is stored.

def read_spans(data_dir: Path) -> pa.Table:
    """Every Parquet file under <data_dir>/spans, as one table (no `*.tmp` may be left)."""
    spans = data_dir / "spans"
    assert not list(spans.rglob("*.tmp")), "temporary files left in the dataset"
    files = sorted(spans.rglob("*.parquet"))
    if not files:
        return None
    tables = []
    for f in files:
        table = pq.read_table(f, partitioning=None)
        # Each file sits in the partition of its spans' start time.
        dt, hour = f.parent.parent.name, f.parent.name
        for start in set(table.column("start_time").to_pylist()):
            assert (dt, hour) == (f"dt={start:%Y-%m-%d}", f"hour={start:%H}"), (
                f"{f.relative_to(spans)} holds a span that started at {start}")
        tables.append(table)
    return pa.concat_tables(tables)


def stored_rows(data_dir: Path) -> list[dict]:
    table = read_spans(data_dir)
    return [] if table is None else table.to_pylist()


def count_stored(data_dir: Path) -> int:
    files = sorted((data_dir / "spans").rglob("*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


_TYPE_FIELD = {0: None, 1: "str", 2: "int", 3: "double", 4: "bool", 5: "ser", 6: "ser",
               7: "bytes"}
_FIELDS = ("str", "int", "double", "bool", "bytes", "ser")


def stored_value(value: dict):
    """One stored attribute value (the struct of the attribute map) in comparable form."""
    kind = value["type"]
    assert kind in _TYPE_FIELD, f"unknown attribute type {kind}"
    field = _TYPE_FIELD[kind]
    set_fields = [f for f in _FIELDS if value[f] is not None]
    assert set_fields == ([field] if field else []), (
        f"type {kind} must have exactly field {field} set, got {set_fields}: {value}")
    if kind == 0:
        return ("empty",)
    if kind == 1:
        return ("str", value["str"])
    if kind == 2:
        return ("int", value["int"])
    if kind == 3:
        return ("double", struct.pack("<d", value["double"]))
    if kind == 4:
        return ("bool", value["bool"])
    if kind == 7:
        return ("bytes", value["bytes"])
    ser = json.loads(value["ser"])
    if kind == 6:
        return ("array", [json_value(v) for v in ser.get("values", [])])
    return ("kvlist", [(kv.get("key", ""), json_value(kv.get("value", {})))
                       for kv in ser.get("values", [])])


def stored_attributes(entries) -> list:
    """A stored attribute map (list of (key, struct) pairs) → [(key, comparable value)]."""
    return [(key, stored_value(value)) for key, value in entries]


def json_value(any_value: dict):
    """An OTLP/JSON AnyValue → comparable form."""
    if not any_value:
        return ("empty",)
    assert len(any_value) == 1, f"AnyValue with several values: {any_value}"
    (kind, v), = any_value.items()
    if kind == "stringValue":
        return ("str", v)
    if kind == "intValue":
        return ("int", int(v))
    if kind == "doubleValue":
        special = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
        return ("double", struct.pack("<d", special[v] if isinstance(v, str) else float(v)))
    if kind == "boolValue":
        return ("bool", v)
    if kind == "bytesValue":
        return ("bytes", base64.b64decode(v))
    if kind == "arrayValue":
        return ("array", [json_value(x) for x in v.get("values", [])])
    if kind == "kvlistValue":
        return ("kvlist", [(kv.get("key", ""), json_value(kv.get("value", {})))
                           for kv in v.get("values", [])])
    raise AssertionError(f"unknown AnyValue kind {kind}")


def json_attributes(key_values) -> list:
    return [(kv.get("key", ""), json_value(kv.get("value", {}))) for kv in key_values or []]


def python_value(value):
    """A Python attribute value as the OpenTelemetry Python SDK sends it (its OTLP encoder:
    bool, str, int, float, bytes, sequences → arrays, mappings → kvlists, None → empty)."""
    if value is None:
        return ("empty",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("double", struct.pack("<d", value))
    if isinstance(value, bytes):
        return ("bytes", value)
    if isinstance(value, (list, tuple)):
        return ("array", [python_value(v) for v in value])
    if isinstance(value, dict) or hasattr(value, "items"):
        return ("kvlist", [(k, python_value(v)) for k, v in value.items()])
    raise AssertionError(f"no OTLP value for {type(value)}: {value!r}")


def python_attributes(attributes) -> list:
    return [(k, python_value(v)) for k, v in (attributes or {}).items()]


def compare_rows(expected: dict, got: dict, where: str = "") -> list[str]:
    """Field-by-field differences between an expected span row and a stored one (both in
    comparable form); [] when equal. Every key of `expected` is compared."""
    problems = []
    for key, want in expected.items():
        have = got.get(key, "<missing column>")
        if have == want:
            continue
        if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
            # Name the entries that differ rather than print two long lists.
            for i, (w, h) in enumerate(zip(want, have)):
                if w != h:
                    problems.append(f"{where}{key}[{i}]: expected {w!r}, stored {h!r}")
        else:
            problems.append(f"{where}{key}: expected {want!r}, stored {have!r}")
    return problems


def compare_stored(expected: list[dict], by_id: dict) -> list[str]:
    """compare_rows of each expected row against the stored row with its span id (both in
    comparable form), named by the span's name; a row not stored is a problem too."""
    problems = []
    for want in expected:
        where = f"{want['name']}: "
        got = by_id.get(want["span_id"])
        if got is None:
            problems.append(where + "not stored")
            continue
        problems += compare_rows(want, got, where)
    return problems


def assert_every_column_compared(expected: dict, rows: list[dict]) -> None:
    """The expected rows name every stored column, no more and no fewer."""
    assert rows, "nothing stored"
    columns = set(rows[0])
    assert set(expected) == columns, (
        f"not compared: {sorted(columns - set(expected))}; "
        f"not stored: {sorted(set(expected) - columns)}")


def comparable_row(row: dict) -> dict:
    """A stored row (pyarrow to_pylist) with every attribute map, event and link made
    comparable."""
    out = dict(row)
    for key in ("attributes", "resource_attributes", "scope_attributes"):
        out[key] = stored_attributes(row[key])
    out["events"] = [
        {"time_unix_nano": e["time_unix_nano"], "name": e["name"],
         "attributes": stored_attributes(e["attributes"]),
         "dropped_attributes_count": e["dropped_attributes_count"]}
        for e in row["events"]]
    out["links"] = [
        {"trace_id": link["trace_id"], "span_id": link["span_id"],
         "trace_state": link["trace_state"],
         "attributes": stored_attributes(link["attributes"]),
         "dropped_attributes_count": link["dropped_attributes_count"],
         "flags": link["flags"]}
        for link in row["links"]]
    return out


def derived_columns(start_ns: int, end_ns: int) -> dict:
    """start_time (timestamp[us, UTC] as pyarrow gives it) and duration_ns of a span."""
    import datetime as dt
    start = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
        microseconds=start_ns // 1000)
    return {"start_time": start, "duration_ns": end_ns - start_ns}
