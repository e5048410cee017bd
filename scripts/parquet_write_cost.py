#!/usr/bin/env python3
"""CPU-seconds per million spans that Arrow's Parquet writer (pyarrow) spends on a stored
span file, whole and without some of its nested columns: where the receiver's Parquet time
goes (docs/benchmarks.md, issue #3). Best of N writes each, zstd level 3, min/max statistics
only on the columns the store keeps them for.

    .deps/venv/bin/python scripts/parquet_write_cost.py data/spans/dt=…/hour=…/part-….parquet
"""
import os
import resource
import sys
import tempfile

import pyarrow.parquet as pq

STATISTICS = ["start_time_unix_nano", "end_time_unix_nano", "start_time", "duration_ns",
              "service_name"]
REPEATS = 7


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_cost(table, path):
    best = float("inf")
    for _ in range(REPEATS):
        start = cpu_seconds()
        pq.write_table(table, path, compression="zstd", compression_level=3,
                       write_statistics=STATISTICS)
        best = min(best, cpu_seconds() - start)
    return best / table.num_rows * 1e6, pq.ParquetFile(path).metadata.num_columns


def main():
    table = pq.read_table(sys.argv[1])
    nested = ["events", "links", "resource_attributes", "scope_attributes"]
    variants = [
        ("whole span table", table),
        ("without events, links", table.drop_columns(["events", "links"])),
        ("flat columns and span attributes", table.drop_columns(nested)),
        ("flat columns only", table.drop_columns(nested + ["attributes"])),
    ]
    print(f"{table.num_rows} spans from {sys.argv[1]}")
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "spans.parquet")
        for name, variant in variants:
            per_million, leaves = write_cost(variant, path)
            print(f"  {name:34s} {leaves:3d} leaf columns  {per_million:.2f} CPU-s per million")


if __name__ == "__main__":
    main()
