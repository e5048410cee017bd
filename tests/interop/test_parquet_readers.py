# SPDX-License-Identifier: Apache-2.0
"""The Parquet files of `otlp-arrow demo`, read by independent readers: pyarrow and DuckDB.

Run: .deps/venv/bin/python -m pytest tests/interop  (OTLP_ARROW_BIN overrides build/otlp-arrow)
"""

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from conftest import DEMO_SPANS

WORKLOADS = ["realistic", "seed"]
REALISTIC_SERVICES = {"frontend", "checkout", "payments", "inventory"}


def read_with_pyarrow(data_dir) -> pa.Table:
    return ds.dataset(data_dir / "spans", format="parquet", partitioning="hive").to_table()


def parquet_files(data_dir):
    return sorted((data_dir / "spans").rglob("*.parquet"))


# --- layout -------------------------------------------------------------------------------


@pytest.mark.parametrize("workload", WORKLOADS)
def test_files_are_hive_partitioned_and_complete(demo_data, workload):
    data_dir = demo_data(workload)
    files = parquet_files(data_dir)
    assert files
    for path in files:
        relative = path.relative_to(data_dir / "spans")
        assert relative.parts[0].startswith("dt=") and relative.parts[1].startswith("hour=")
        assert relative.name.startswith("part-")
    leftovers = [p for p in data_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize("workload", WORKLOADS)
def test_start_time_is_parquet_timestamp_micros_utc(demo_data, workload):
    for path in parquet_files(demo_data(workload)):
        schema = pq.ParquetFile(path).schema
        column = schema.column(schema.names.index("start_time"))
        assert column.physical_type == "INT64"
        logical = column.logical_type.to_json()
        assert '"isAdjustedToUTC": true' in logical and '"timeUnit": "microseconds"' in logical


# --- pyarrow ------------------------------------------------------------------------------


@pytest.mark.parametrize("workload", WORKLOADS)
def test_pyarrow_reads_every_row_with_the_span_table_types(demo_data, workload):
    table = read_with_pyarrow(demo_data(workload))
    assert table.num_rows == DEMO_SPANS
    schema = table.schema
    assert schema.field("trace_id").type == pa.binary(16)
    assert schema.field("span_id").type == pa.binary(8)
    assert schema.field("parent_span_id").type == pa.binary(8)
    assert schema.field("start_time").type == pa.timestamp("us", tz="UTC")
    assert schema.field("start_time_unix_nano").type == pa.uint64()
    for name in ("attributes", "resource_attributes", "scope_attributes"):
        assert pa.types.is_map(schema.field(name).type), name
        assert schema.field(name).type.key_type == pa.string()
    assert pa.types.is_list(schema.field("events").type)
    # The Hive partition columns, added by the reader.
    assert "dt" in schema.names and "hour" in schema.names


@pytest.mark.parametrize("workload", WORKLOADS)
def test_pyarrow_values_are_consistent(demo_data, workload):
    table = read_with_pyarrow(demo_data(workload))
    for name, width in (("trace_id", 16), ("span_id", 8)):
        assert table[name].null_count == 0
        assert all(len(v) == width for v in table[name].to_pylist())
    # start_time is start_time_unix_nano truncated to microseconds, on every row.
    micros = pc.divide(table["start_time_unix_nano"], 1000).cast(pa.int64())
    assert table["start_time"].cast(pa.int64()).equals(micros)
    kinds = set(table["kind"].to_pylist())
    assert kinds <= set(range(6))
    assert pc.all(pc.equal(table["hour"], 0)).as_py()


def test_pyarrow_realistic_values(demo_data):
    table = read_with_pyarrow(demo_data("realistic"))
    services = table["service_name"].cast(pa.string()).to_pylist()
    assert set(services) == REALISTIC_SERVICES
    assert set(table["dt"].to_pylist()) == {"2026-01-01"}
    assert set(table["kind"].to_pylist()) == {1, 2, 3, 4, 5}
    # Every span's first attribute is a string http.route.0 (workloads.cc).
    first = table["attributes"].to_pylist()[0]
    assert first[0][0] == "http.route.0"
    assert first[0][1]["type"] == 1 and first[0][1]["str"] == "/api/v1/items/{id}"


def test_pyarrow_seed_values(demo_data):
    table = read_with_pyarrow(demo_data("seed"))
    assert table["service_name"].null_count == DEMO_SPANS  # the seed resource is empty
    assert set(table["dt"].to_pylist()) == {"1970-01-01"}
    assert set(table["kind"].to_pylist()) == {2}  # SERVER
    assert set(table["name"].to_pylist()) == {f"span_{i}" for i in range(DEMO_SPANS)}
    assert sorted(table["start_time_unix_nano"].to_pylist()) == [
        1_000_000_000 + i for i in range(DEMO_SPANS)]


# --- DuckDB -------------------------------------------------------------------------------


def duckdb_source(data_dir) -> str:
    return f"read_parquet('{data_dir}/spans/**/*.parquet', hive_partitioning=true)"


def query(sql: str):
    with duckdb.connect() as connection:  # in memory; kept open until fetched
        return connection.sql(sql).fetchall()


@pytest.mark.parametrize("workload", WORKLOADS)
def test_duckdb_counts_and_types(demo_data, workload):
    spans = duckdb_source(demo_data(workload))
    assert query(f"SELECT count(*) FROM {spans}") == [(DEMO_SPANS,)]
    [(start_type, nanos_type, attributes_type)] = query(
        f"SELECT typeof(start_time), typeof(start_time_unix_nano), typeof(attributes) "
        f"FROM {spans} LIMIT 1")
    assert start_type == "TIMESTAMP WITH TIME ZONE"
    assert nanos_type == "UBIGINT"
    assert attributes_type.startswith("MAP(VARCHAR, STRUCT(")
    # Same instant in both time columns, on every row (TIMESTAMPTZ never leaves SQL: the
    # Python conversion would need pytz).
    assert query(f"SELECT count(*) FROM {spans} "
                 f"WHERE epoch_us(start_time) <> start_time_unix_nano // 1000") == [(0,)]
    assert query(f"SELECT count(*) FROM {spans} WHERE octet_length(trace_id) <> 16 "
                 f"OR octet_length(span_id) <> 8") == [(0,)]


def test_duckdb_realistic_queries(demo_data):
    spans = duckdb_source(demo_data("realistic"))
    assert query(f"SELECT count(*) FROM {spans} "
                 f"WHERE attributes['http.route.0'] IS NOT NULL") == [(DEMO_SPANS,)]
    assert query(f"SELECT count(*) FROM {spans} "
                 f"WHERE attributes['http.route.0'].str = '/api/v1/items/{{id}}'") == [
        (DEMO_SPANS,)]
    # 1,000 spans per resource, the services in turn (workloads.cc).
    assert query(f"SELECT service_name, count(*) FROM {spans} GROUP BY ALL ORDER BY 1") == [
        ("checkout", 1000), ("frontend", 2000), ("inventory", 1000), ("payments", 1000)]
    assert query(f"SELECT CAST(hour AS INTEGER), count(*) FROM {spans} GROUP BY ALL") == [
        (0, DEMO_SPANS)]
    assert query(f"SELECT min(start_time) >= TIMESTAMPTZ '2026-01-01 00:00:00+00', "
                 f"max(start_time) < TIMESTAMPTZ '2026-01-01 01:00:00+00' FROM {spans}") == [
        (True, True)]
    [(with_events, exceptions)] = query(
        f"SELECT count(*) FILTER (len(events) > 0), "
        f"count(*) FILTER (events[1].name = 'exception') FROM {spans}")
    assert 0 < with_events == exceptions < DEMO_SPANS


def test_duckdb_seed_queries(demo_data):
    spans = duckdb_source(demo_data("seed"))
    assert query(f"SELECT count(*) FROM {spans} WHERE attributes['http.method'].str = 'GET' "
                 f"AND attributes['http.status_code'].int = 200") == [(DEMO_SPANS,)]
    assert query(f"SELECT service_name, count(*) FROM {spans} GROUP BY ALL") == [
        (None, DEMO_SPANS)]
    assert query(f"SELECT dt::VARCHAR, CAST(hour AS INTEGER), count(*) FROM {spans} "
                 f"GROUP BY ALL") == [("1970-01-01", 0, DEMO_SPANS)]
    assert query(f"SELECT min(start_time) = TIMESTAMPTZ '1970-01-01 00:00:01+00' "
                 f"FROM {spans}") == [(True,)]
