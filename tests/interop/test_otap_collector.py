# SPDX-License-Identifier: Apache-2.0
"""OTAP (OpenTelemetry Arrow Protocol) from an OpenTelemetry Collector into otlp-arrow.

The sender is the Collector peer of tests/peers/otelcol: OTLP receiver → `otelarrowlite`, the
stand-in for the contrib otelarrow exporter that runs the same OTel-Arrow producer (otel-arrow
v0.46.0) with the exporter's defaults (gRPC compression zstdarrow5, Arrow IPC zstd, one stream per
NumCPU/2, 30 s stream lifetime). `otap-oracle send` replays recorded requests into its OTLP port,
one Export after the other; with the exporter's wait_for_result, an acknowledged request is one
whose spans otlp-arrow acknowledged.

- Lossless: into `otlp-arrow all-in-one` and `gateway` (OTAP on the OTLP/gRPC port) and
  `receiver --otap`, with the OTel and realistic workloads, the random corpus and real instrumentation, with
  gRPC compression zstdarrow5, gzip and none and IPC payload compression zstd and none: the
  stored spans are, as a multiset, exactly what the Go consumer decodes from the producer's
  batches of the same requests (`otap-oracle roundtrip`), field by field, each span with its
  resource and scope (the batches differ: the exporter regroups, so spans are compared one by
  one, not batch by batch). One case recycles the stream every ~2 s.
- Faults: the Collector killed mid-stream (every span it acknowledged is stored); otlp-arrow
  killed and restarted on the same port mid-stream (the exporter sends unacknowledged batches
  again: every span stored at least once, nothing else); a bearer token in the batches' HPACK
  headers, right (stored) and wrong (nothing stored, the Collector logs UNAUTHENTICATED).
- The oracle check: `otap_oracle_check BARS EXPECTED` (build/src/convert, or $OTAP_ORACLE_CHECK)
  on `otap-oracle encode` of the OTel workload and `otap-oracle random` corpora (one of them
  past 65,535 distinct values, so that a dictionary is reset and others turn plain), with and
  without IPC zstd: the C++ decoder's spans equal the Go consumer's.
- The stand-in itself, against the Collector's own otelarrow receiver (no otlp-arrow involved):
  with each compression it delivers exactly the Go round trip.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from otelcol_peer import (REPO, Collector, Sender, arrow_exporter_yaml, canonical_span,
                          collector_config, expected_spans, free_port, oracle,
                          otelarrow_receiver_yaml, otlp_receiver_yaml, peer_binaries, port_open,
                          record_workload, span_differences)
from otlp_service import Service, comparable_row, stored_rows, wait_for

WORKLOAD_SPANS = 6000
# Spans made by real OpenTelemetry instrumentation (tests/fixtures/real/README.md): the Collector
# file exporter's length-prefixed protobuf (4-byte big-endian lengths), zstd-compressed.
REAL_TRACES = REPO / "tests" / "fixtures" / "real" / "real_traces.binpb.zst"


def real_traces(out: Path, spans: int) -> Path:
    """The first requests of the real-instrumentation fixture holding at least `spans` spans,
    as otap-oracle's otlp-proto-lp (4-byte little-endian lengths): the SDK's own requests,
    unchanged."""
    import struct

    import zstandard
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    with open(REAL_TRACES, "rb") as f:
        data = zstandard.ZstdDecompressor().stream_reader(f).read()
    at, total, records = 0, 0, []
    while at < len(data) and total < spans:
        (length,) = struct.unpack_from(">I", data, at)
        message = data[at + 4:at + 4 + length]
        at += 4 + length
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(message)
        total += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        records.append(struct.pack("<I", len(message)) + message)
    assert total >= spans, f"{REAL_TRACES} holds {total} spans"
    out.write_bytes(b"".join(records))
    return out
FLUSH = ("--flush-interval-ms", "100")


@pytest.fixture(scope="module")
def peer():
    """(otelcol-peer, otap-oracle)."""
    return peer_binaries()


@pytest.fixture(scope="module")
def corpus(peer, otlp_arrow_bin, tmp_path_factory):
    """corpus(name) -> a file of OTLP requests: "otel" and "realistic" recorded from
    `otlp-arrow loadgen` (6,000 spans, requests of 100), "random" the random corpus (12
    batches of 250 spans, seed 11) as OTLP/JSON lines, "real" the first 6,000 spans of the
    real-instrumentation fixture as the SDK exported them. Made once per module."""
    _, oracle_bin = peer
    made = {}
    work = tmp_path_factory.mktemp("otap-corpora")

    def make(name: str) -> Path:
        if name not in made:
            if name == "real":
                path = real_traces(work / "real.lp", WORKLOAD_SPANS)
            elif name == "random":
                path = work / "random.jsonl"
                oracle(oracle_bin, "random", "--seed", "11", "--batches", "12",
                       "--spans-per-batch", "250", "--bars", str(work / "random.bars"),
                       "--expected", str(work / "random.expected"), "--otlp", str(path))
            else:
                path = record_workload(otlp_arrow_bin, oracle_bin, name, WORKLOAD_SPANS,
                                       work / f"{name}.lp")
            made[name] = path
        return made[name]

    return make


def go_roundtrip(oracle_bin: Path, requests: Path, out: Path,
                 payload_compression: str = "zstd") -> list[tuple]:
    """What the Go consumer decodes from the producer's batches of `requests`, span by span."""
    oracle(oracle_bin, "roundtrip", "--input", str(requests), "--output", str(out),
           "--payload-compression", payload_compression)
    return expected_spans(out)


def stored_spans(data_dir: Path) -> list[tuple]:
    return [canonical_span(comparable_row(row)) for row in stored_rows(data_dir)]


def multiset_problems(expected: list[tuple], stored: list[tuple]) -> list[str]:
    """What is missing from `stored` and what it holds in excess, as counted multisets; for a
    few missing spans, how they differ from the stored span with the same span id."""
    want, have = Counter(expected), Counter(stored)
    missing, extra = want - have, have - want
    by_id = {dict(span)["span_id"]: span for span in extra}
    problems = []
    for span in list(missing)[:3]:
        other = by_id.get(dict(span)["span_id"])
        if other is None:
            problems.append(f"missing: {dict(span)}")
        else:
            problems.append(f"span {dict(span)['name']!r} differs: "
                            + "; ".join(span_differences(span, other)))
    problems += [f"not expected: {dict(span)}" for span in list(extra)[:3]
                 if dict(span)["span_id"] not in {dict(m)["span_id"] for m in missing}]
    if missing or extra:
        problems.append(f"{sum(missing.values())} expected spans missing, "
                        f"{sum(extra.values())} stored spans not expected, of {len(expected)}")
    return problems


class OtlpArrow:
    """The otlp-arrow side of a test: `all-in-one`, `gateway` (with a receiver behind it) or
    `receiver --otap`, writing to `data_dir`; `endpoint` is where OTAP goes."""

    def __init__(self, binary: Path, target: str, data_dir: Path, *extra: str,
                 otap_port: int | None = None):
        self.target = target
        self.services: list[Service] = []
        try:
            if target == "all-in-one":
                service = Service(binary, "all-in-one", *FLUSH, *extra, data_dir=data_dir)
                self.services.append(service)
                self.endpoint = service.otlp_grpc
            elif target == "gateway":
                receiver = Service(binary, "receiver", data_dir=data_dir)
                self.services.append(receiver)
                gateway = Service(binary, "gateway", *FLUSH, *extra, "--endpoint",
                                  f"grpc://127.0.0.1:{receiver.flight_port}")
                self.services.insert(0, gateway)  # stopped first: it drains into the receiver
                self.endpoint = gateway.otlp_grpc
            else:
                port = otap_port or free_port()
                receiver = Service(binary, "receiver", "--otap", f"127.0.0.1:{port}", *extra,
                                   data_dir=data_dir)
                self.services.append(receiver)
                wait_for(lambda: port_open(port), 10, f"OTAP listening on {port}")
                self.endpoint = f"127.0.0.1:{port}"
        except BaseException:
            self.kill()
            raise

    @property
    def output(self) -> str:
        return "".join(s.output for s in self.services)

    def stop(self):
        for service in self.services:
            assert service.stop() == 0, f"{service.role} exited non-zero:\n{service.output}"

    def kill(self):
        for service in self.services:
            service.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def otap_exporter(endpoint: str, **settings) -> str:
    """The exporter block for otlp-arrow: downgrade to OTLP disabled, so that only OTAP can
    deliver (otlp-arrow serves OTLP on the same port)."""
    return arrow_exporter_yaml(endpoint, disable_downgrade="true", **settings)


def send_through_collector(peer, requests: Path, endpoint: str, work: Path, **exporter) -> dict:
    """Replays `requests` into a Collector exporting OTAP to `endpoint` (downgrade disabled);
    every request must be acknowledged. The Collector's log on failure."""
    collector_bin, oracle_bin = peer
    port = free_port()
    config = collector_config(otlp_receiver_yaml(port), otap_exporter(endpoint, **exporter),
                              "otelarrowlite")
    with Collector(collector_bin, config, work, port) as collector:
        sender = Sender(oracle_bin, requests, f"127.0.0.1:{port}", work / "acked.jsonl")
        rc, result, err = sender.result(timeout=120)
        assert rc == 0, f"send: {result} {err}\n{collector.log_tail()}"
        assert collector.stop() == 0, collector.log_tail()
    return result


# ---------------------------------------------------------------------------------------------
# Lossless.

LOSSLESS = [
    # target, corpus, gRPC compression, IPC payload compression
    ("all-in-one", "otel", "zstd", "zstd"),     # the exporter's defaults
    ("gateway", "otel", "gzip", "zstd"),
    ("receiver", "otel", "none", "none"),
    ("all-in-one", "random", "gzip", "none"),
    ("receiver", "random", "zstd", "zstd"),
    ("gateway", "random", "none", "zstd"),
    ("gateway", "realistic", "zstd", "none"),
    ("receiver", "realistic", "gzip", "zstd"),
    ("all-in-one", "real", "zstd", "zstd"),
    ("gateway", "real", "gzip", "none"),
]


@pytest.mark.parametrize("target,workload,compression,payload", LOSSLESS,
                         ids=["-".join(case) for case in LOSSLESS])
def test_collector_to_otlp_arrow_is_lossless(peer, corpus, otlp_arrow_bin, tmp_path, target,
                                             workload, compression, payload):
    requests = corpus(workload)
    expected = go_roundtrip(peer[1], requests, tmp_path / "roundtrip.jsonl", payload)
    data_dir = tmp_path / "data"
    with OtlpArrow(otlp_arrow_bin, target, data_dir) as service:
        result = send_through_collector(peer, requests, service.endpoint, tmp_path,
                                        compression=compression, payload_compression=payload,
                                        num_streams=1)
        assert result["spans_acknowledged"] == len(expected)
        service.stop()
    problems = multiset_problems(expected, stored_spans(data_dir))
    assert not problems, "\n".join(problems)


def test_recycled_streams_are_lossless(peer, corpus, otlp_arrow_bin, tmp_path):
    """Two streams, each recycled after ~2 s (CloseSend, then otlp-arrow answers what it has
    and ends the call) while 12 batches come in over ~6 s: new producers, new schemas and
    dictionaries on each stream, and nothing lost or doubled."""
    collector_bin, oracle_bin = peer
    requests = corpus("random")
    expected = go_roundtrip(oracle_bin, requests, tmp_path / "roundtrip.jsonl")
    data_dir = tmp_path / "data"
    port = free_port()
    with OtlpArrow(otlp_arrow_bin, "all-in-one", data_dir) as service:
        config = collector_config(otlp_receiver_yaml(port), otap_exporter(
            service.endpoint, num_streams=2, max_stream_lifetime="2s"), "otelarrowlite")
        with Collector(collector_bin, config, tmp_path, port) as collector:
            sender = Sender(oracle_bin, requests, f"127.0.0.1:{port}", tmp_path / "acked.jsonl",
                            concurrency=2, interval_ms=500)
            rc, result, err = sender.result(timeout=120)
            assert rc == 0, f"send: {result} {err}\n{collector.log_tail()}"
            assert collector.stop() == 0, collector.log_tail()
            assert "arrow stream ended" not in collector.log(), collector.log_tail()
        service.stop()
    problems = multiset_problems(expected, stored_spans(data_dir))
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Faults.

def test_collector_killed_mid_stream_loses_nothing_acknowledged(peer, corpus, otlp_arrow_bin,
                                                                  tmp_path):
    """SIGKILL to the Collector after a few acknowledged requests: every span of an
    acknowledged request is stored; nothing stored is foreign (duplicates only of sent
    spans)."""
    collector_bin, oracle_bin = peer
    requests = corpus("random")
    data_dir = tmp_path / "data"
    port = free_port()
    acked = tmp_path / "acked.jsonl"
    with OtlpArrow(otlp_arrow_bin, "all-in-one", data_dir) as service:
        config = collector_config(otlp_receiver_yaml(port),
                                  otap_exporter(service.endpoint), "otelarrowlite")
        with Collector(collector_bin, config, tmp_path, port) as collector:
            sender = Sender(oracle_bin, requests, f"127.0.0.1:{port}", acked, concurrency=2,
                            interval_ms=300, timeout_s=5)
            try:
                wait_for(lambda: sender.acked_requests() >= 4, 60, "4 requests acknowledged")
                collector.process.send_signal(signal.SIGKILL)
                collector.process.wait(timeout=10)
                rc, result, _ = sender.result(timeout=60)
            finally:
                sender.kill()
            assert rc != 0, f"the sender did not notice the Collector's death: {result}"
            assert result["requests_acknowledged"] < 12, result
        service.stop()
    stored = set(stored_spans(data_dir))
    acked_spans = go_roundtrip(oracle_bin, acked, tmp_path / "acked-roundtrip.jsonl")
    every_span = set(go_roundtrip(oracle_bin, requests, tmp_path / "roundtrip.jsonl"))
    lost = [s for s in acked_spans if s not in stored]
    assert not lost, f"{len(lost)} acknowledged spans not stored, e.g. {dict(lost[0])}"
    foreign = stored - every_span
    assert not foreign, f"{len(foreign)} stored spans never sent, e.g. {dict(next(iter(foreign)))}"


def test_otlp_arrow_restarted_mid_stream_gets_every_span(peer, corpus, otlp_arrow_bin,
                                                          tmp_path):
    """`receiver --otap` killed (SIGKILL) while the Collector streams into it, and started
    again on the same port and data dir: the exporter sends what was not acknowledged again
    on a new stream, every request is acknowledged in the end, and every span is stored at
    least once (what was acknowledged before the kill was in the write-ahead log)."""
    collector_bin, oracle_bin = peer
    requests = corpus("random")
    data_dir = tmp_path / "data"
    otap_port = free_port()
    port = free_port()
    service = OtlpArrow(otlp_arrow_bin, "receiver", data_dir, otap_port=otap_port)
    try:
        config = collector_config(otlp_receiver_yaml(port),
                                  otap_exporter(service.endpoint), "otelarrowlite")
        with Collector(collector_bin, config, tmp_path, port) as collector:
            sender = Sender(oracle_bin, requests, f"127.0.0.1:{port}", tmp_path / "acked.jsonl",
                            concurrency=2, interval_ms=300, timeout_s=60)
            try:
                wait_for(lambda: sender.acked_requests() >= 3, 60, "3 requests acknowledged")
                service.kill()
                service = OtlpArrow(otlp_arrow_bin, "receiver", data_dir, otap_port=otap_port)
                rc, result, err = sender.result(timeout=180)
            finally:
                sender.kill()
            assert rc == 0, f"send: {result} {err}\n{collector.log_tail()}"
            assert collector.stop() == 0, collector.log_tail()
        service.stop()
    finally:
        service.kill()
    stored = stored_spans(data_dir)
    expected = set(go_roundtrip(oracle_bin, requests, tmp_path / "roundtrip.jsonl"))
    missing = expected - set(stored)
    assert not missing, f"{len(missing)} spans never stored, e.g. {dict(next(iter(missing)))}"
    foreign = set(stored) - expected
    assert not foreign, f"{len(foreign)} stored spans never sent, e.g. {dict(next(iter(foreign)))}"


def test_bearer_token_in_hpack_headers(peer, corpus, otlp_arrow_bin, tmp_path):
    """`receiver --otap --token-file`: a Collector whose batches carry `authorization: Bearer
    <token>` in their HPACK headers (only there: not in the stream's metadata) is stored; one
    with a wrong token has nothing stored and logs UNAUTHENTICATED."""
    collector_bin, oracle_bin = peer
    requests = corpus("random")
    token = tmp_path / "token"
    token.write_text("s3cr3t-t0ken\n")
    data_dir = tmp_path / "data"
    with OtlpArrow(otlp_arrow_bin, "receiver", data_dir, "--token-file", str(token)) as service:
        # Wrong token first: nothing may be stored.
        port = free_port()
        config = collector_config(otlp_receiver_yaml(port), otap_exporter(
            service.endpoint, batch_headers={"authorization": "Bearer wrong-token"}),
            "otelarrowlite")
        with Collector(collector_bin, config, tmp_path / "wrong", port) as collector:
            sender = Sender(oracle_bin, requests, f"127.0.0.1:{port}",
                            tmp_path / "wrong-acked.jsonl", timeout_s=20)
            rc, result, _ = sender.result(timeout=60)
            assert rc != 0 and result["requests_acknowledged"] == 0, result
            wait_for(lambda: "unauthenticated" in collector.log().lower(), 10,
                     "UNAUTHENTICATED in the Collector's log")
            collector.kill()  # its exporter may still be retrying

        port = free_port()
        config = collector_config(otlp_receiver_yaml(port), otap_exporter(
            service.endpoint, batch_headers={"authorization": "Bearer s3cr3t-t0ken"}),
            "otelarrowlite")
        with Collector(collector_bin, config, tmp_path / "right", port) as collector:
            sender = Sender(oracle_bin, requests, f"127.0.0.1:{port}",
                            tmp_path / "right-acked.jsonl")
            rc, result, err = sender.result(timeout=120)
            assert rc == 0, f"send: {result} {err}\n{collector.log_tail()}"
            collector.stop()
        service.stop()
    expected = go_roundtrip(oracle_bin, requests, tmp_path / "roundtrip.jsonl")
    problems = multiset_problems(expected, stored_spans(data_dir))
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# The C++ decoder against the Go consumer, on the same BatchArrowRecords.

def oracle_check_bin() -> Path:
    path = Path(os.environ.get("OTAP_ORACLE_CHECK",
                               REPO / "build" / "src" / "convert" / "otap_oracle_check"))
    assert os.access(path, os.X_OK), (
        f"no otap_oracle_check at {path}: build it (cmake --build build --target "
        "otap_oracle_check) or set OTAP_ORACLE_CHECK")
    return path


ORACLE_CASES = [
    # name, how to make the stream, payload compression
    ("otel", "otel", "zstd"),
    ("otel", "otel", "none"),
    ("real", "real", "zstd"),
    ("random-seed-1", ("random", "--seed", "1", "--batches", "30"), "zstd"),
    ("random-seed-2", ("random", "--seed", "2", "--batches", "30", "--spans-per-batch", "37"),
     "none"),
    ("random-seed-3", ("random", "--seed", "3", "--batches", "5", "--spans-per-batch", "2000"),
     "zstd"),
    # 70 batches of 1,000 spans: past 65,535 distinct values the span names' dictionary turns
    # plain and the attribute strings' is reset (a replacement dictionary).
    ("dictionary-overflow", ("random", "--seed", "4", "--batches", "70", "--spans-per-batch",
                             "1000", "--dictionary-overflow"), "zstd"),
    ("dictionary-overflow", ("random", "--seed", "5", "--batches", "70", "--spans-per-batch",
                             "1000", "--dictionary-overflow"), "none"),
]


@pytest.mark.parametrize("name,make,payload", ORACLE_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in ORACLE_CASES])
def test_cpp_decoder_equals_go_consumer(peer, corpus, tmp_path, name, make, payload):
    _, oracle_bin = peer
    bars, expected = tmp_path / "stream.bars", tmp_path / "stream.expected"
    outputs = ("--bars", str(bars), "--expected", str(expected), "--payload-compression", payload)
    if make in ("otel", "real"):
        summary = oracle(oracle_bin, "encode", "--input", str(corpus(make)),
                         "--spans-per-batch", "1000", *outputs)
    else:
        summary = oracle(oracle_bin, *make, *outputs)
        kinds = summary["value_kinds"]
        assert set(kinds) == {"str", "int", "double", "bool", "bytes", "map", "slice",
                              "empty"}, kinds
        assert summary["producer"]["dictionary_upgrades"], summary  # u8 indices widened
    assert summary["decoded_spans"] == summary["spans"] > 0, summary
    events = summary["producer"]
    if name == "dictionary-overflow":
        assert "traces:name" in events["dictionary_overflows"], events
        assert "span-attrs:str" in events["dictionary_resets"], events
    # The Go side first: a fresh consumer decodes the stream to EXPECTED again.
    oracle(oracle_bin, "verify", "--bars", str(bars), "--expected", str(expected))
    run = subprocess.run([str(oracle_check_bin()), str(bars), str(expected)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"otap_oracle_check {name}:\n{run.stdout}\n{run.stderr}"


# ---------------------------------------------------------------------------------------------
# The stand-in exporter against the Collector's own otelarrow receiver.

@pytest.mark.parametrize("compression,payload", [("zstd", "zstd"), ("gzip", "none"),
                                                 ("none", "zstd")])
def test_stand_in_exporter_speaks_to_the_collector_receiver(peer, corpus, tmp_path,
                                                            compression, payload):
    """Collector A (OTLP → otelarrowlite) → Collector B (contrib otelarrow receiver → OTLP
    exporter) → `otap-oracle capture`: B delivers exactly the Go round trip, so the stand-in's
    streams (compression, HPACK headers, statuses) are what the real receiver takes."""
    collector_bin, oracle_bin = peer
    requests = corpus("random")
    expected = go_roundtrip(oracle_bin, requests, tmp_path / "roundtrip.jsonl", payload)
    captured = tmp_path / "captured.jsonl"
    capture = subprocess.Popen([str(oracle_bin), "capture", "--listen", "127.0.0.1:0",
                                "--output", str(captured)], stdout=subprocess.PIPE, text=True)
    try:
        capture_addr = capture.stdout.readline().split()[-1]
        arrow_port = free_port()
        b_config = collector_config(otelarrow_receiver_yaml(arrow_port), f"""  otlp:
    endpoint: {capture_addr}
    tls:
      insecure: true""", "otlp", receiver="otelarrow")
        with Collector(collector_bin, b_config, tmp_path, arrow_port, name="b") as b:
            send_through_collector(peer, requests, f"127.0.0.1:{arrow_port}", tmp_path / "a",
                                   compression=compression, payload_compression=payload,
                                   batch_headers={"x-test": "hpack"})
            assert b.stop() == 0, b.log_tail()
        capture.send_signal(signal.SIGTERM)
        capture.communicate(timeout=30)
        assert capture.returncode == 0
    finally:
        if capture.poll() is None:
            capture.kill()
    problems = multiset_problems(expected, expected_spans(captured))
    assert not problems, "\n".join(problems)


def test_stand_in_exporter_downgrades_to_otlp(peer, corpus, tmp_path):
    """Against a Collector with only the OTLP receiver (ArrowTraces: UNIMPLEMENTED) the
    stand-in downgrades to unary OTLP Export, as the contrib exporter does: the requests arrive
    as they were sent, without the Arrow round trip."""
    collector_bin, oracle_bin = peer
    requests = corpus("random")
    captured = tmp_path / "captured.jsonl"
    capture = subprocess.Popen([str(oracle_bin), "capture", "--listen", "127.0.0.1:0",
                                "--output", str(captured)], stdout=subprocess.PIPE, text=True)
    try:
        capture_addr = capture.stdout.readline().split()[-1]
        b_port, a_port = free_port(), free_port()
        b_config = collector_config(otlp_receiver_yaml(b_port), f"""  otlp:
    endpoint: {capture_addr}
    tls:
      insecure: true""", "otlp")
        a_config = collector_config(otlp_receiver_yaml(a_port), arrow_exporter_yaml(
            f"127.0.0.1:{b_port}"), "otelarrowlite")
        with Collector(collector_bin, b_config, tmp_path, b_port, name="b") as b, \
                Collector(collector_bin, a_config, tmp_path, a_port, name="a") as a:
            sender = Sender(oracle_bin, requests, f"127.0.0.1:{a_port}", tmp_path / "acked.jsonl")
            rc, result, err = sender.result(timeout=120)
            assert rc == 0, f"send: {result} {err}\n{a.log_tail()}"
            assert "downgrading to standard OTLP export" in a.log(), a.log_tail()
            assert a.stop() == 0 and b.stop() == 0
        capture.send_signal(signal.SIGTERM)
        capture.communicate(timeout=30)
    finally:
        if capture.poll() is None:
            capture.kill()
    problems = multiset_problems(expected_spans(requests), expected_spans(captured))
    assert not problems, "\n".join(problems)
