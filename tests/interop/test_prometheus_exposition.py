# SPDX-License-Identifier: Apache-2.0
"""Our Prometheus exposition, read by an independent parser (the Prometheus Python client's).

telemetry_exposition_dump (src/telemetry/exposition_dump.cc) registers a fixed set of metrics
and prints or serves them; the expected values below are written out here, not read from the
C++ code.
"""

import json
import math
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO

LATENCY_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                  30, 60]
LATENCY_OBSERVATIONS = [0.0005, 0.001, 0.003, 0.02, 0.02, 0.7, 100.0]

PROCESS_FAMILIES = {
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_cpu_seconds": "counter",  # the parser strips _total from a counter's family
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
    "process_threads": "gauge",
    "otlp_arrow_arrow_memory_pool_bytes": "gauge",
    "otlp_arrow_arrow_memory_pool_max_bytes": "gauge",
    "otlp_arrow_arrow_memory_pool_allocations": "counter",
    "otlp_arrow_arrow_memory_pool_allocated_bytes": "counter",
}


@pytest.fixture(scope="session")
def dump_bin() -> Path:
    """telemetry_exposition_dump of the build that $OTLP_ARROW_BIN (or build/) belongs to,
    or the program named by $OTLP_ARROW_TELEMETRY_DUMP."""
    default_build = Path(os.environ.get("OTLP_ARROW_BIN", REPO / "build" / "otlp-arrow")).parent
    path = Path(os.environ.get("OTLP_ARROW_TELEMETRY_DUMP",
                               default_build / "src" / "telemetry" / "telemetry_exposition_dump"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no telemetry_exposition_dump at {path}: build it or set "
                    "OTLP_ARROW_TELEMETRY_DUMP")
    return path


@pytest.fixture(scope="session")
def exposition(dump_bin) -> str:
    run = subprocess.run([str(dump_bin)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def families_by_name(text: str) -> dict:
    families = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in families, f"family {family.name} appears twice"
        families[family.name] = family
    return families


def samples(family) -> list:
    return [(s.name, s.labels, s.value) for s in family.samples]


def check_fixed_metrics(text: str) -> None:
    families = families_by_name(text)

    received = families["otlp_arrow_spans_received"]
    assert received.type == "counter"
    assert received.documentation == "Spans received, by protocol."
    assert samples(received) == [
        ("otlp_arrow_spans_received_total", {"protocol": "grpc"}, 1234.0),
        ("otlp_arrow_spans_received_total", {"protocol": "http"}, 56.0),
    ]

    escapes = families["otlp_arrow_test_escapes"]
    assert escapes.documentation == "Help with a back\\slash\nand a second line."
    assert samples(escapes) == [
        ("otlp_arrow_test_escapes_total", {"value": 'back\\slash "quoted" new\nline ü'}, 1.0)]

    values = {s.labels["case"]: s.value for s in families["otlp_arrow_test_values"].samples}
    assert families["otlp_arrow_test_values"].type == "gauge"
    assert values.pop("inf") == math.inf
    assert values.pop("minus_inf") == -math.inf
    assert math.isnan(values.pop("nan"))
    # Exact equality: the text must round-trip to the same double.
    assert values == {"third": 1 / 3, "tiny": 5e-324, "huge": 1.7976931348623157e308,
                      "negative": -2.5, "integer": 2.0 ** 53}

    latency = families["otlp_arrow_export_duration_seconds"]
    assert latency.type == "histogram"
    buckets = [s for s in latency.samples if s.name.endswith("_bucket")]
    assert all(s.labels["exporter"] == "flight" for s in latency.samples)
    assert [float(s.labels["le"]) for s in buckets] == LATENCY_BOUNDS + [math.inf]
    expected = [sum(1 for v in LATENCY_OBSERVATIONS if v <= le) for le in LATENCY_BOUNDS]
    assert [s.value for s in buckets] == expected + [len(LATENCY_OBSERVATIONS)]
    by_name = {s.name: s.value for s in latency.samples if not s.name.endswith("_bucket")}
    assert by_name["otlp_arrow_export_duration_seconds_count"] == len(LATENCY_OBSERVATIONS)
    assert by_name["otlp_arrow_export_duration_seconds_sum"] == pytest.approx(
        sum(LATENCY_OBSERVATIONS), rel=1e-12)

    unlabelled = families["otlp_arrow_test_unlabelled"]
    assert samples(unlabelled) == [
        ("otlp_arrow_test_unlabelled_bucket", {"le": "1"}, 1.0),
        ("otlp_arrow_test_unlabelled_bucket", {"le": "2"}, 1.0),
        ("otlp_arrow_test_unlabelled_bucket", {"le": "+Inf"}, 3.0),
        ("otlp_arrow_test_unlabelled_sum", {}, 7.5),
        ("otlp_arrow_test_unlabelled_count", {}, 3.0),
    ]

    for name, type_ in PROCESS_FAMILIES.items():
        assert name in families, f"missing {name}"
        assert families[name].type == type_, name
    process = {name: families[name].samples[0].value for name in PROCESS_FAMILIES}
    assert process["process_resident_memory_bytes"] > 1 << 20
    assert process["process_virtual_memory_bytes"] >= process["process_resident_memory_bytes"]
    assert process["process_cpu_seconds"] >= 0
    assert 3 <= process["process_open_fds"] <= process["process_max_fds"]
    assert process["process_threads"] >= 1
    assert time.time() - 600 < process["process_start_time_seconds"] <= time.time() + 1
    pool = families["otlp_arrow_arrow_memory_pool_bytes"].samples[0]
    assert pool.labels["backend"] in {"jemalloc", "mimalloc", "system"}
    assert pool.value >= 0


def test_exposition_parses_with_the_prometheus_client(exposition):
    check_fixed_metrics(exposition)


def test_help_and_type_once_per_family(exposition):
    # The parser merges repeated families silently, so count the comment lines themselves.
    for kind in ("HELP", "TYPE"):
        names = re.findall(rf"^# {kind} (\S+) ", exposition, flags=re.MULTILINE)
        assert len(names) == len(set(names)), f"repeated # {kind}: {names}"
        assert len(names) == len(list(text_string_to_metric_families(exposition)))
    assert exposition.endswith("\n")


def test_served_over_http(dump_bin):
    server = subprocess.Popen([str(dump_bin), "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        match = re.fullmatch(r"health_port=(\d+) metrics_port=(\d+)\n", line)
        assert match, f"unexpected first line {line!r}; stderr: {server.stderr.read()}"
        health_port, metrics_port = int(match[1]), int(match[2])
        assert health_port != metrics_port

        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics",
                                    timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            check_fixed_metrics(response.read().decode("utf-8"))

        with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/health",
                                    timeout=10) as response:
            assert (response.status, response.read()) == (200, b"ok\n")
        with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/ready",
                                    timeout=10) as response:
            assert response.status == 200
            assert json.loads(response.read()) == {"ready": True, "draining": False,
                                                   "failing": [], "checks": []}
        with pytest.raises(urllib.error.HTTPError) as not_found:
            urllib.request.urlopen(f"http://127.0.0.1:{health_port}/metrics", timeout=10)
        assert not_found.value.code == 404
    finally:
        server.stdin.close()  # the program serves until its stdin closes
        try:
            assert server.wait(timeout=20) == 0, server.stderr.read()
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
