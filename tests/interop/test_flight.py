# SPDX-License-Identifier: Apache-2.0
"""Arrow Flight interop with an independent implementation (pyarrow.flight), both ways.

- a pyarrow.flight client uploads span-table batches to `otlp-arrow receiver` and reads them
  back with GetFlightInfo + DoGet; bad uploads get the documented errors;
- a pyarrow.flight server receives the DoPut of `otlp-arrow send` (FlightSpanExporter);
- DuckDB reads the receiver's Hive-partitioned dataset after a graceful SIGTERM.
"""

import json
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest

SPANS_PATH = ["otlp", "spans"]
# Flight maps gRPC codes to Arrow errors: NOT_FOUND → ArrowKeyError, INVALID_ARGUMENT →
# ArrowInvalid, the rest → FlightError subclasses.
REFUSED = (flight.FlightError, pa.ArrowException)
LISTEN_RE = re.compile(r"grpc(?:\+tcp)?://127\.0\.0\.1:(\d+)")


class Receiver:
    """`otlp-arrow receiver` on a free port, stopped with SIGTERM."""

    def __init__(self, binary: Path, data_dir: Path, *extra: str):
        self.data_dir = data_dir
        self.lines = []
        self.process = subprocess.Popen(
            [str(binary), "receiver", "--flight", "127.0.0.1:0", "--data-dir", str(data_dir),
             "--health", "127.0.0.1:0", "--metrics", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.port = None
        deadline = time.monotonic() + 30
        while self.port is None and time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            match = LISTEN_RE.search(line)
            if match:
                self.port = int(match.group(1))
        assert self.port, "receiver did not say where it listens:\n" + "".join(self.lines)
        # Keep draining its output so it never blocks on a full pipe.
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True).start()

    def client(self) -> flight.FlightClient:
        return flight.connect(f"grpc://127.0.0.1:{self.port}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def spans_table(demo_data) -> pa.Table:
    """5,000 realistic spans as a span table, written by the demo and read by pyarrow."""
    data_dir = demo_data("realistic")
    files = sorted((data_dir / "spans").rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(f, partitioning=None) for f in files)


def put(client, table, descriptor=None, options=None):
    """Uploads `table` in 1,000-row batches; returns the acknowledgements."""
    descriptor = descriptor or flight.FlightDescriptor.for_path(*SPANS_PATH)
    writer, reader = client.do_put(descriptor, table.schema, options=options)
    acks = []
    for batch in table.to_batches(max_chunksize=1000):
        writer.write_batch(batch)
        buf = reader.read()
        if buf is None:  # the receiver ended the call: close() raises its error
            break
        acks.append(json.loads(buf.to_pybytes()))
    writer.close()
    return acks


def test_pyarrow_client_uploads_and_reads_back(otlp_arrow_bin, tmp_path, spans_table):
    receiver = Receiver(otlp_arrow_bin, tmp_path / "data")
    try:
        client = receiver.client()
        acks = put(client, spans_table)
        assert [a["batch"] for a in acks] == list(range(len(acks)))
        assert sum(a["accepted_spans"] for a in acks) == spans_table.num_rows

        info = client.get_flight_info(flight.FlightDescriptor.for_path(*SPANS_PATH))
        got = client.do_get(info.endpoints[0].ticket).read_all()
        assert got.num_rows == spans_table.num_rows
        assert sorted(got.column("span_id").to_pylist()) == sorted(
            spans_table.column("span_id").to_pylist())

        listed = list(client.list_flights())
        assert listed and sum(max(f.total_records, 0) for f in listed) >= spans_table.num_rows

        # One trace by id, through a command descriptor holding the query.
        trace_id = spans_table.column("trace_id")[0].as_py()
        query = json.dumps({"trace_id": trace_id.hex()}).encode()
        info = client.get_flight_info(flight.FlightDescriptor.for_command(query))
        one = client.do_get(info.endpoints[0].ticket).read_all()
        expected = sum(1 for t in spans_table.column("trace_id").to_pylist() if t == trace_id)
        assert one.num_rows == expected > 0
        assert set(one.column("trace_id").to_pylist()) == {trace_id}
    finally:
        assert receiver.stop() == 0, "".join(receiver.lines)

    # After SIGTERM everything is in complete Parquet files that DuckDB reads.
    count = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/data/spans/**/*.parquet', "
        "hive_partitioning = true)").fetchone()[0]
    assert count == spans_table.num_rows
    assert not list((tmp_path / "data" / "spans").rglob("*.tmp"))


def test_bad_uploads_get_errors_and_the_receiver_keeps_serving(otlp_arrow_bin, tmp_path,
                                                              spans_table):
    receiver = Receiver(otlp_arrow_bin, tmp_path / "data")
    try:
        client = receiver.client()
        small = spans_table.slice(0, 100)

        with pytest.raises(REFUSED, match="descriptor"):
            put(client, small, flight.FlightDescriptor.for_path("otlp", "logs"))

        with pytest.raises(REFUSED, match="name"):
            put(client, small.drop_columns(["name"]))

        wrong_type = small.set_column(
            small.schema.get_field_index("kind"), "kind",
            small.column("kind").cast(pa.int64()))
        with pytest.raises(REFUSED, match="kind"):
            put(client, wrong_type)

        # Still serving: a good upload after the bad ones goes through.
        acks = put(receiver.client(), small)
        assert sum(a["accepted_spans"] for a in acks) == 100
    finally:
        assert receiver.stop() == 0, "".join(receiver.lines)


def test_token_is_required_when_configured(otlp_arrow_bin, tmp_path, spans_table):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    receiver = Receiver(otlp_arrow_bin, tmp_path / "data", "--token-file", str(token_file))
    try:
        small = spans_table.slice(0, 10)
        with pytest.raises(flight.FlightUnauthenticatedError):
            put(receiver.client(), small)
        wrong = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer nope")])
        with pytest.raises(flight.FlightUnauthenticatedError):
            put(receiver.client(), small, options=wrong)
        right = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer s3cret")])
        acks = put(receiver.client(), small, options=right)
        assert sum(a["accepted_spans"] for a in acks) == 10
    finally:
        assert receiver.stop() == 0, "".join(receiver.lines)


def test_send_reads_a_crlf_token_file_as_the_receiver_does(otlp_arrow_bin, tmp_path):
    # A token file written on Windows ends with CRLF; neither side takes the CR as part of
    # the token.
    token_file = tmp_path / "token"
    token_file.write_bytes(b"s3cret\r\n")
    receiver = Receiver(otlp_arrow_bin, tmp_path / "data", "--token-file", str(token_file))
    try:
        run = subprocess.run(
            [str(otlp_arrow_bin), "send", "--endpoint", f"grpc://127.0.0.1:{receiver.port}",
             "--token-file", str(token_file), "--spans", "100", "--workload", "otel"],
            capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        empty = tmp_path / "empty-token"
        empty.write_text("\n")
        run = subprocess.run(
            [str(otlp_arrow_bin), "send", "--endpoint", f"grpc://127.0.0.1:{receiver.port}",
             "--token-file", str(empty), "--spans", "100"],
            capture_output=True, text=True, timeout=60)
        assert run.returncode != 0 and "is empty" in run.stdout + run.stderr, (
            run.stdout + run.stderr)
    finally:
        assert receiver.stop() == 0, "".join(receiver.lines)


class AckingServer(flight.FlightServerBase):
    """A pyarrow Flight server that acknowledges every batch like the receiver does."""

    def __init__(self):
        super().__init__("grpc://127.0.0.1:0")
        self.tables = []
        self.descriptors = []

    def do_put(self, context, descriptor, reader, writer):
        self.descriptors.append(descriptor.path)
        batches = []
        index = 0
        for chunk in reader:
            batches.append(chunk.data)
            ack = json.dumps({"batch": index, "accepted_spans": chunk.data.num_rows})
            writer.write(pa.py_buffer(ack.encode()))
            index += 1
        self.tables.append(pa.Table.from_batches(batches, reader.schema))


def test_pyarrow_server_receives_our_exporter(otlp_arrow_bin):
    server = AckingServer()
    try:
        run = subprocess.run(
            [str(otlp_arrow_bin), "send", "--endpoint", f"grpc://127.0.0.1:{server.port}",
             "--spans", "3000", "--workload", "otel"],
            capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert server.descriptors and all(d == [b"otlp", b"spans"] for d in server.descriptors)
        table = pa.concat_tables(server.tables)
        assert table.num_rows == 3000
        assert table.schema.field("trace_id").type == pa.binary(16)
        # The derived start_time and duration_ns are left off the wire (the receiver
        # computes them); the exact nanosecond times are there.
        assert "start_time" not in table.schema.names
        assert "duration_ns" not in table.schema.names
        assert table.schema.field("start_time_unix_nano").type == pa.uint64()
        # Attribute keys are dictionary-encoded (span table version 2).
        key_type = table.schema.field("attributes").type.key_type
        assert pa.types.is_dictionary(key_type), key_type
        # Maps empty in the whole batch (this workload has no scope attributes) go with
        # plain string keys: an empty dictionary would be an IPC message of its own.
        assert table.schema.field("scope_attributes").type.key_type == pa.string()
        assert len(set(table.column("span_id").to_pylist())) == 3000
    finally:
        server.shutdown()
