# SPDX-License-Identifier: Apache-2.0
"""Helpers of the OTAP tests (test_otap_collector.py): the Collector peer of tests/peers/otelcol
(OTLP receiver → `otelarrowlite`, the stand-in for the contrib otelarrow exporter, or the contrib
otelarrow receiver) as a child process, the `otap-oracle` tool built beside it, workloads
recorded from `otlp-arrow loadgen`, and spans in a comparable, hashable form.

Both binaries come from scripts/build_otelcol.sh (.deps/otelcol/otelcol-peer and otap-oracle),
or from $OTELCOL_BIN and $OTAP_ORACLE.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
from pathlib import Path

from otlp_service import wait_for

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def peer_binaries() -> tuple[Path, Path]:
    """(otelcol-peer, otap-oracle): from the environment, else built (or found up to date) by
    scripts/build_otelcol.sh."""
    collector, oracle = os.environ.get("OTELCOL_BIN"), os.environ.get("OTAP_ORACLE")
    if not (collector and oracle):
        run = subprocess.run([str(REPO / "scripts" / "build_otelcol.sh")], capture_output=True,
                             text=True, timeout=900)
        assert run.returncode == 0, f"scripts/build_otelcol.sh failed:\n{run.stderr}"
        built = Path(run.stdout.strip().splitlines()[-1])
        collector = collector or str(built)
        oracle = oracle or str(built.parent / "otap-oracle")
    for path in (collector, oracle):
        assert os.access(path, os.X_OK), f"no program at {path}"
    return Path(collector), Path(oracle)


# ---------------------------------------------------------------------------------------------
# The Collector.

def arrow_exporter_yaml(endpoint: str, compression: str = "zstd",
                        payload_compression: str = "zstd", **arrow: object) -> str:
    """The `otelarrowlite` exporter block: defaults but for the compressions (gRPC `zstd` means
    the exporter's zstdarrow5) and the `arrow:` settings given (num_streams=1, …);
    batch_headers={name: value} go in each batch's HPACK block."""
    lines = ["  otelarrowlite:", f"    endpoint: {endpoint}", "    tls:", "      insecure: true",
             f"    compression: {compression}", "    arrow:",
             f"      payload_compression: {payload_compression}"]
    for key, value in arrow.items():
        if isinstance(value, dict):
            lines.append(f"      {key}:")
            lines += [f"        {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
        else:
            lines.append(f"      {key}: {value}")
    return "\n".join(lines)


def collector_config(receiver_yaml: str, exporter_yaml: str, exporter: str,
                     receiver: str = "otlp") -> str:
    """One traces pipeline receiver → exporter; the Collector's own telemetry: logs at info on
    stderr (the exporter's errors are what the fault tests look for), no metrics server."""
    return f"""receivers:
{receiver_yaml}
exporters:
{exporter_yaml}
service:
  telemetry:
    logs:
      level: info
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [{receiver}]
      exporters: [{exporter}]
"""


def otlp_receiver_yaml(port: int) -> str:
    return f"""  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}"""


def otelarrow_receiver_yaml(port: int) -> str:
    return f"""  otelarrow:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}"""


class Collector:
    """otelcol-peer with a config, its output in a log file; waits until `port` accepts."""

    def __init__(self, binary: Path, config: str, work_dir: Path, port: int, name: str = "otelcol"):
        work_dir.mkdir(parents=True, exist_ok=True)
        self.config_file = work_dir / f"{name}.yaml"
        self.config_file.write_text(config)
        self.log_file = work_dir / f"{name}.log"
        self._log = open(self.log_file, "w")
        self.process = subprocess.Popen([str(binary), "--config", str(self.config_file)],
                                        stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: port_open(port) or self.process.poll() is not None, 30,
                     f"the Collector listening on {port}")
            assert self.process.poll() is None, f"the Collector exited:\n{self.log()}"
        except BaseException:
            self.kill()
            raise

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_file.read_text(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        """The end of the log, for assertion messages (its whole path is given too)."""
        tail = self.log().splitlines()[-lines:]
        return f"{self.log_file} (last {len(tail)} lines):\n" + "\n".join(tail)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        rc = self.process.wait(timeout=timeout)
        self._log.close()
        return rc

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if not self._log.closed:
            self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


# ---------------------------------------------------------------------------------------------
# otap-oracle.

def oracle(binary: Path, *args: str, timeout: float = 120) -> dict:
    """One otap-oracle run; its JSON summary (the last line of its output)."""
    run = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, f"otap-oracle {' '.join(args)}:\n{run.stdout}\n{run.stderr}"
    return json.loads(run.stdout.strip().splitlines()[-1])


class Sender:
    """`otap-oracle send`: the requests of a file into an OTLP/gRPC endpoint, `concurrency`
    Export calls at a time (the Collector's exporter batches 1,000 to 1,500 spans and waits up
    to a second for more, so one request at a time would wait that second each); the
    acknowledged ones written to `acked` as they are acknowledged."""

    def __init__(self, binary: Path, input_file: Path, endpoint: str, acked: Path,
                 concurrency: int = 16, interval_ms: int = 0, timeout_s: float = 30):
        self.acked = acked
        self.process = subprocess.Popen(
            [str(binary), "send", "--input", str(input_file), "--endpoint", endpoint,
             "--acked", str(acked), "--concurrency", str(concurrency),
             "--interval", f"{interval_ms}ms", "--timeout", f"{timeout_s}s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def acked_requests(self) -> int:
        return len(self.acked.read_text().splitlines()) if self.acked.exists() else 0

    def result(self, timeout: float = 120) -> tuple[int, dict, str]:
        out, err = self.process.communicate(timeout=timeout)
        lines = out.strip().splitlines()
        return self.process.returncode, json.loads(lines[-1]) if lines else {}, err

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def record_workload(otlp_arrow_bin: Path, oracle_bin: Path, workload: str, spans: int,
                    out: Path) -> Path:
    """`otlp-arrow loadgen --workload W` into `otap-oracle capture`: the first `spans` spans
    (whole requests of 100) as length-prefixed OTLP protobuf."""
    capture = subprocess.Popen([str(oracle_bin), "capture", "--listen", "127.0.0.1:0",
                                "--output", str(out), "--max-spans", str(spans)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = capture.stdout.readline()
        m = re.match(r"capturing OTLP/gRPC on (\S+)", line)
        assert m, f"otap-oracle capture: {line}{capture.stderr.read()}"
        # rate × duration spans in all: exactly `spans`, within a second
        run = subprocess.run([str(otlp_arrow_bin), "loadgen", "--endpoint", m.group(1),
                              "--workload", workload, "--spans-per-request", "100",
                              "--connections", "1", "--rate", str(spans), "--duration", "1"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        capture.send_signal(signal.SIGTERM)
        out_text, err = capture.communicate(timeout=30)
        assert capture.returncode == 0, err
        recorded = json.loads(out_text.strip().splitlines()[-1])
        assert recorded["spans"] == spans, recorded
        return out
    finally:
        if capture.poll() is None:
            capture.kill()


# ---------------------------------------------------------------------------------------------
# Spans in comparable, hashable form.

def _canonical(value):
    """A comparable AnyValue (otlp_service's form) with nested kvlists sorted by key (the Go
    consumer decodes maps inside values through a Go map, in random order) and every NaN the
    same (Go's math.NaN() has payload bits that OTLP/JSON cannot carry)."""
    kind = value[0]
    if kind == "double" and math.isnan(struct.unpack("<d", value[1])[0]):
        return ("double", "NaN")
    if kind == "array":
        return ("array", tuple(_canonical(v) for v in value[1]))
    if kind == "kvlist":
        return ("kvlist", tuple(sorted((k, _canonical(v)) for k, v in value[1])))
    return value


def _frozen(x):
    if isinstance(x, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(_frozen(v) for v in x)
    return x


def canonical_span(row: dict) -> tuple:
    """A span row (test_otlp_json.expected_rows form, or otlp_service.comparable_row) as a
    hashable value: attribute lists keep their order, values nested in them are canonical,
    events and links are sorted (the Go producer sorts them by name / trace id with an unstable
    sort, so equal names may come in any order when the batches differ)."""
    out = dict(row)
    for key in ("attributes", "resource_attributes", "scope_attributes"):
        out[key] = tuple((k, _canonical(v)) for k, v in row[key])
    for key in ("events", "links"):
        items = []
        for item in row[key]:
            item = dict(item)
            item["attributes"] = tuple((k, _canonical(v)) for k, v in item["attributes"])
            items.append(_frozen(item))
        out[key] = tuple(sorted(items, key=repr))
    return _frozen(out)


def span_differences(want: tuple, have: tuple) -> list[str]:
    """The fields in which two canonical spans differ."""
    w, h = dict(want), dict(have)
    return [f"{k}: expected {w.get(k)!r}, got {h.get(k)!r}"
            for k in sorted(set(w) | set(h)) if w.get(k) != h.get(k)]


def _json_number(text: str):
    # OTLP/JSON from Go writes the double -0.0 as -0, which json.loads would make the int 0.
    return -0.0 if text == "-0" else int(text)


def read_otlp_json_lines(path: Path) -> list[dict]:
    return [json.loads(line, parse_int=_json_number)
            for line in path.read_text().splitlines() if line.strip()]


def expected_spans(path: Path) -> list[tuple]:
    """The spans of an OTLP/JSON lines file (e.g. `otap-oracle roundtrip` output) as
    canonical_span values."""
    from test_otlp_json import expected_rows
    return [canonical_span(row) for body in read_otlp_json_lines(path)
            for row in expected_rows(body)]
