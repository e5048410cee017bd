# SPDX-License-Identifier: Apache-2.0
"""A bounded OTLP/HTTP connection load on loopback (issue #13, case 5), with asyncio so that
the client side stays cheap: `clients` keep-alive connections each POST a small OTLP request
every `interval` seconds, while `slowloris` connections send a request head one byte at a time
(a byte every `drip` seconds, never finishing) and `idle` connections open and say nothing.

    .deps/venv/bin/python tests/interop/http_load.py http://127.0.0.1:4318/v1/traces \\
        --clients 300 --slowloris 64 --duration 20

prints p50/p99 latency of the requests sent and the fraction served (answered with 200 within
`timeout` seconds, 10 as the OpenTelemetry SDKs wait by default). test_http_connections.py uses the same pieces for its functional checks.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import urlsplit

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def small_request() -> bytes:
    span = trace_pb2.Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="load",
                          start_time_unix_nano=1, end_time_unix_nano=2)
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=[span])])]).SerializeToString()


def request_bytes(url: str, body: bytes) -> bytes:
    parts = urlsplit(url)
    return (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/x-protobuf\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Reads one response (head and Content-Length body); returns its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def open_connection(url: str):
    parts = urlsplit(url)
    return await asyncio.open_connection(parts.hostname, parts.port)


async def client(url: str, payload: bytes, interval: float, until: float, timeout: float,
                 results: list):
    """One keep-alive SDK: a request every `interval` s; results get (latency or None)."""
    connection = None
    next_at = time.monotonic()
    while next_at < until:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        start = time.monotonic()
        try:
            if connection is None:
                connection = await asyncio.wait_for(open_connection(url), timeout)
            reader, writer = connection
            writer.write(payload)
            status = await asyncio.wait_for(read_response(reader), timeout)
            results.append(time.monotonic() - start if status == 200 else None)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            results.append(None)
            if connection is not None:
                connection[1].close()
            connection = None
    if connection is not None:
        connection[1].close()


async def slowloris(url: str, drip: float, until: float):
    """Opens a connection and sends a request head a byte at a time, never ending it;
    reconnects when the server closes it."""
    head = request_bytes(url, b"x" * 100)[:-104] + b"X-Slow: " + b"a" * 10_000
    while time.monotonic() < until:
        try:
            reader, writer = await open_connection(url)
            for byte in head:
                if time.monotonic() >= until or reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(drip)
            writer.close()
        except OSError:
            await asyncio.sleep(drip)


async def idle(url: str, until: float):
    """Opens a connection and says nothing; reconnects when the server closes it."""
    while time.monotonic() < until:
        try:
            reader, writer = await open_connection(url)
            await asyncio.wait_for(reader.read(1), max(0.01, until - time.monotonic()))
            writer.close()
        except (OSError, asyncio.TimeoutError):
            pass


async def run_load(url: str, clients: int, interval: float, slow: int, idle_connections: int,
                   duration: float, drip: float = 1.0, timeout: float = 10.0) -> dict:
    payload = request_bytes(url, small_request())
    until = time.monotonic() + duration
    results: list = []
    tasks = [asyncio.create_task(slowloris(url, drip, until)) for _ in range(slow)]
    tasks += [asyncio.create_task(idle(url, until)) for _ in range(idle_connections)]
    await asyncio.sleep(min(1.0, duration / 10))  # the bad connections are in place first
    tasks += [asyncio.create_task(client(url, payload, interval, until, timeout, results))
              for _ in range(clients)]
    await asyncio.wait(tasks, timeout=duration + timeout + 5)
    for task in tasks:
        task.cancel()
    return summarize(results)


def summarize(results: list) -> dict:
    served = sorted(r for r in results if r is not None)

    def quantile(q):
        return served[min(len(served) - 1, int(q * len(served)))] if served else None

    return {"requests": len(results), "served": len(served),
            "served_fraction": len(served) / len(results) if results else 0.0,
            "p50_s": quantile(0.5), "p99_s": quantile(0.99)}


async def timed_request(url: str, timeout: float) -> float | None:
    """One request on a new connection: its latency in seconds, None if not served."""
    start = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(open_connection(url), timeout)
        writer.write(request_bytes(url, small_request()))
        status = await asyncio.wait_for(read_response(reader), timeout)
        writer.close()
        return time.monotonic() - start if status == 200 else None
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--slowloris", type=int, default=64)
    parser.add_argument("--idle", type=int, default=0)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--drip", type=float, default=1.0)
    args = parser.parse_args()
    summary = asyncio.run(run_load(args.url, args.clients, args.interval, args.slowloris,
                                   args.idle, args.duration, args.drip))
    print(summary)


if __name__ == "__main__":
    main()
