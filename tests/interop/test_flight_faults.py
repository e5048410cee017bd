# SPDX-License-Identifier: Apache-2.0
"""Faults between `otlp-arrow send` (FlightSpanExporter) and `otlp-arrow receiver`.

The receiver is killed with SIGKILL while the exporter sends, then restarted on the same port:
every span must end up stored (the exporter retries what was not acknowledged; the receiver
replays its write-ahead log), duplicates may come only from retries and are counted, and no
broken Parquet file is ever visible.
"""

import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

BATCHES = 12
SPANS_PER_BATCH = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_receiver(binary: Path, port: int, data_dir: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(binary), "receiver", "--flight", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
         "--health", "127.0.0.1:0", "--metrics", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if re.search(rf"127\.0\.0\.1:{port}", line):
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process
    raise AssertionError("receiver did not start:\n" + "".join(lines))


def test_kill_9_mid_stream_then_restart_loses_no_span(otlp_arrow_bin, tmp_path):
    port = free_port()
    data_dir = tmp_path / "data"
    receiver = start_receiver(otlp_arrow_bin, port, data_dir)
    sender = subprocess.Popen(
        [str(otlp_arrow_bin), "send", "--endpoint", f"grpc://127.0.0.1:{port}",
         "--workload", "realistic", "--spans", str(SPANS_PER_BATCH),
         "--batches", str(BATCHES), "--max-retries", "100"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        # Kill the receiver once a few batches are acknowledged, mid-transfer.
        while sum(1 for line in output if line.startswith("batch ")) < 3:
            line = sender.stdout.readline()
            assert line, "sender ended early:\n" + "".join(output)
            output.append(line)
        receiver.send_signal(signal.SIGKILL)
        receiver.wait(timeout=10)
        # Nothing half-written is visible while the receiver is down.
        for f in (data_dir / "spans").rglob("*.parquet"):
            pq.ParquetFile(f).metadata  # raises on a truncated file
        time.sleep(0.5)  # the exporter meets a closed port and backs off
        receiver = start_receiver(otlp_arrow_bin, port, data_dir)
        output.extend(sender.stdout)
        assert sender.wait(timeout=120) == 0, "".join(output)
    finally:
        if sender.poll() is None:
            sender.kill()
        receiver.send_signal(signal.SIGTERM)
        assert receiver.wait(timeout=30) == 0

    files = sorted((data_dir / "spans").rglob("*.parquet"))
    assert files
    for f in files:
        pq.ParquetFile(f).metadata
    rows, distinct = duckdb.sql(
        f"SELECT count(*), count(DISTINCT (trace_id, span_id, start_time_unix_nano)) "
        f"FROM read_parquet('{data_dir}/spans/**/*.parquet')").fetchone()
    # The realistic workload repeats its spans from batch to batch (same seed), so count
    # distinct spans within one batch's worth.
    expected = BATCHES * SPANS_PER_BATCH
    duplicates = rows - expected
    print(f"stored {rows} rows for {expected} spans sent: {duplicates} duplicates from retries")
    assert rows >= expected
    assert distinct == SPANS_PER_BATCH
    assert duplicates <= SPANS_PER_BATCH  # at most the one batch in flight at the kill
