# SPDX-License-Identifier: Apache-2.0
"""OTLP/HTTP with many connections (issue #13, case 5): `otlp-arrow gateway` serves ordinary
requests at once while idle and slowloris connections are open, and a fleet of keep-alive
clients all get their answers. Functional checks only; http_load.py measures latency.
"""

import asyncio
import socket
import time

import http_load
from otlp_service import Service

SLOW = 64
IDLE = 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway(binary):
    # Exports go nowhere; the queue takes these few small requests.
    return Service(binary, "gateway", "--endpoint", f"grpc://127.0.0.1:{free_port()}")


async def probes_beside_bad_connections(url: str, probes: int) -> list:
    until = time.monotonic() + 30
    tasks = [asyncio.create_task(http_load.slowloris(url, 1.0, until)) for _ in range(SLOW)]
    tasks += [asyncio.create_task(http_load.idle(url, until)) for _ in range(IDLE)]
    await asyncio.sleep(1)  # the bad connections are open first
    latencies = [await http_load.timed_request(url, timeout=5) for _ in range(probes)]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return latencies


def test_request_is_served_beside_slowloris_and_idle_connections(otlp_arrow_bin):
    with gateway(otlp_arrow_bin) as service:
        latencies = asyncio.run(probes_beside_bad_connections(service.otlp_http, 3))
        print(f"\nbeside {SLOW} slowloris and {IDLE} idle connections: {latencies}")
        # None: not answered within 5 s (the 16 threads of the old server were all taken).
        assert None not in latencies, latencies


def test_every_keep_alive_client_is_served(otlp_arrow_bin):
    with gateway(otlp_arrow_bin) as service:
        summary = asyncio.run(http_load.run_load(service.otlp_http, clients=100, interval=0.5,
                                                 slow=SLOW, idle_connections=IDLE, duration=5))
        print(f"\n100 keep-alive clients beside {SLOW} slowloris and {IDLE} idle connections: "
              f"{summary}")
        assert summary["requests"] >= 900, summary
        # Every request answered with 200 within the SDKs' 10 s.
        assert summary["served"] == summary["requests"], summary
