# SPDX-License-Identifier: Apache-2.0
"""Hostile uploads against `otlp-arrow receiver`, sent by an independent gRPC client (grpcio).

A decompression bomb is a small IPC message whose zstd-compressed buffers really decompress to a
gigabyte (a `name` column of zeros). Arrow IPC stores each buffer's decompressed length in its
first 8 bytes, and readers allocate that before decompressing: the receiver must refuse the
message from that length, without allocating or decompressing. Its peak resident memory (VmHWM)
stays far below what the bombs hold, alone and eight at a time, and it goes on serving.
"""

import threading

import grpc
import pyarrow as pa
import pyarrow.flight as flight

from test_flight_faults import free_port, start_receiver

DO_PUT = "/arrow.flight.protocol.FlightService/DoPut"
MIB = 1 << 20
ROWS, NAME_BYTES = 2048, 512 * 1024  # 1 GiB of names


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint((number << 3) | 2) + varint(len(payload)) + payload


def flight_data(header: bytes, body: bytes) -> bytes:
    """FlightData{descriptor: PATH ["otlp", "spans"], data_header, data_body} (Flight.proto)."""
    descriptor = b"\x08\x01" + field(3, b"otlp") + field(3, b"spans")
    return field(1, descriptor) + field(2, header) + field(1000, body)


def bomb_messages(schema: pa.Schema) -> list:
    """The zstd IPC stream of one batch whose names are 1 GiB of zeros, as FlightData."""
    name = schema.get_field_index("name")
    columns = [pa.nulls(ROWS, f.type) for f in schema]
    columns[name] = pa.array([bytes(NAME_BYTES)] * ROWS, type=pa.utf8())
    batch = pa.record_batch(columns, schema=schema)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, schema, options=options) as writer:
        writer.write_batch(batch)
    del batch, columns
    reader = pa.ipc.MessageReader.open_stream(sink.getvalue())
    return [flight_data(m.metadata.to_pybytes(),
                        m.body.to_pybytes() if m.body is not None else b"")
            for m in reader]


def send(port: int, frames: list) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.stream_stream(DO_PUT)
        try:
            for _ in call(iter(frames), timeout=30):
                pass
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK


def peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_decompression_bombs_are_refused_without_allocating(otlp_arrow_bin, tmp_path):
    port = free_port()
    receiver = start_receiver(otlp_arrow_bin, port, tmp_path / "data")
    try:
        client = flight.connect(f"grpc://127.0.0.1:{port}")
        schema = client.get_schema(flight.FlightDescriptor.for_path("otlp", "spans")).schema
        frames = bomb_messages(schema)
        size = sum(len(f) for f in frames)
        assert size < 200 * 1024, size  # small on the wire

        before = peak_rss(receiver.pid)
        assert send(port, frames) == grpc.StatusCode.RESOURCE_EXHAUSTED
        one = peak_rss(receiver.pid)

        codes = []
        threads = [threading.Thread(target=lambda: codes.append(send(port, frames)))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eight = peak_rss(receiver.pid)
        assert codes == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 8, codes
        print(f"bomb of {size} bytes holding {ROWS * NAME_BYTES // MIB} MiB: receiver peak RSS "
              f"{before / MIB:.0f} MiB before, {one / MIB:.0f} MiB after one, "
              f"{eight / MIB:.0f} MiB after eight at once")
        # Far below what one bomb holds: nothing of it was decompressed.
        assert eight < before + 256 * MIB, (before, one, eight)

        # Still serving: the schema call works and nothing was stored.
        info = client.get_flight_info(flight.FlightDescriptor.for_path("otlp", "spans"))
        assert info.total_records == 0
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
