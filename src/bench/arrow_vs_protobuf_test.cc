// SPDX-License-Identifier: Apache-2.0
// The measuring library gives sane results: memory counters that see what they should,
// sizes and round trips that agree with the converters, JSON that parses. Not timing.

#include "otlp_arrow/bench/arrow_vs_protobuf.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/memory_pool.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "otlp_arrow/bench/memory_counter.h"
#include "otlp_arrow/model/otlp_json.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::bench {
namespace {

constexpr int64_t kMiB = 1 << 20;

// Defeats the compiler's right to elide a new/delete pair.
void* volatile g_sink = nullptr;

TEST(MemoryMeasurement, CountsOperatorNew) {
  ASSERT_TRUE(HeapCountingAvailable()) << "the test links the counting operator new";
  MemoryMeasurement m;
  m.Start();
  auto* block = new char[kMiB];
  g_sink = block;
  const MemoryStats held = m.Stop();
  EXPECT_GE(held.heap.bytes_allocated, kMiB);
  EXPECT_GE(held.heap.allocations, 1);
  EXPECT_GE(held.heap.peak_bytes, kMiB);
  EXPECT_GE(held.heap.net_bytes, kMiB);
  EXPECT_GE(held.peak_bytes, kMiB);
  EXPECT_EQ(held.pool.allocations, 0);
  delete[] block;

  m.Start();
  block = new char[kMiB];
  g_sink = block;
  delete[] block;
  const MemoryStats freed = m.Stop();
  EXPECT_GE(freed.heap.peak_bytes, kMiB);
  EXPECT_LT(freed.heap.net_bytes, kMiB / 2) << "a freed block is not live";
}

TEST(MemoryMeasurement, NothingCountedOutsideAMeasurement) {
  MemoryMeasurement m;
  m.Start();
  const MemoryStats empty = m.Stop();
  auto* block = new char[kMiB];  // after Stop(): not counted by anyone
  g_sink = block;
  delete[] block;
  EXPECT_LT(empty.heap.bytes_allocated, 4096);
  m.Start();
  const MemoryStats again = m.Stop();
  EXPECT_LT(again.heap.bytes_allocated, 4096) << "counters start from zero";
}

TEST(CountingMemoryPool, CountsItsBuffersOnly) {
  CountingMemoryPool pool;
  MemoryMeasurement m;
  m.Start();
  auto counted = arrow::AllocateBuffer(kMiB, &pool);
  auto other = arrow::AllocateBuffer(kMiB, arrow::default_memory_pool());
  ASSERT_TRUE(counted.ok() && other.ok());
  const MemoryStats stats = m.Stop();
  EXPECT_EQ(stats.pool.allocations, 1);
  EXPECT_EQ(stats.pool.bytes_allocated, kMiB);
  EXPECT_EQ(stats.pool.net_bytes, kMiB);
  EXPECT_GE(stats.peak_bytes, kMiB);
  EXPECT_EQ(pool.bytes_allocated(), kMiB);
  EXPECT_EQ(pool.num_allocations(), 1);

  m.Start();
  (*counted).reset();
  const MemoryStats released = m.Stop();
  EXPECT_EQ(released.pool.net_bytes, -kMiB);
  EXPECT_EQ(pool.bytes_allocated(), 0);
  EXPECT_EQ(pool.max_memory(), kMiB);
}

TEST(Fixture, RefusesUnknownWorkloadsAndEmptySizes) {
  EXPECT_TRUE(Fixture::Make("nope", 10).status().IsInvalid());
  EXPECT_TRUE(Fixture::Make("seed", 0).status().IsInvalid());
}

TEST(Fixture, SizesAgreeWithTheEncodings) {
  auto fixture = Fixture::Make("otel", 500);
  ASSERT_TRUE(fixture.ok()) << fixture.status();
  const auto& s = (*fixture)->sizes();
  EXPECT_EQ(s.protobuf, static_cast<int64_t>(
                            model::OtelBenchmarkSpans(500).SerializeAsString().size()));
  EXPECT_GT(s.arrow_batch, 0);
  // The IPC stream carries every buffer plus schema and message headers.
  EXPECT_GT(s.arrow_ipc, s.arrow_batch);
  EXPECT_GT(s.arrow_ipc_schema, 0);
  EXPECT_LT(s.arrow_ipc_schema, s.arrow_ipc_zstd);
  EXPECT_LT(s.arrow_ipc_zstd, s.arrow_ipc);
  EXPECT_LT(s.arrow_ipc_lz4, s.arrow_ipc);
  EXPECT_LT(s.protobuf_zstd, s.protobuf);
  EXPECT_LT(s.protobuf_lz4, s.protobuf);
  EXPECT_GT(s.parquet, 0);
  EXPECT_LT(s.parquet, s.arrow_ipc);
  auto equal = (*fixture)->CheckRoundTrips();
  ASSERT_TRUE(equal.ok()) << equal.status();
  EXPECT_TRUE(*equal);
}

class RunCaseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Options options;
    options.workloads = {"realistic"};
    options.sizes = {300, 40};
    options.repetitions = 3;
    options.min_sample_seconds = 0;  // one run per sample: sanity, not timing
    auto report = bench::Run(options, [](const std::string& workload, int64_t spans) {
      progress_->push_back(workload + "/" + std::to_string(spans));
    });
    ASSERT_TRUE(report.ok()) << report.status();
    report_ = std::make_unique<Report>(std::move(*report));
  }
  static void TearDownTestSuite() { report_.reset(); }

  static const CaseResult& First() { return report_->cases.at(0); }
  static const OperationResult& Op(Operation op) {
    const auto* r = First().Find(op);
    EXPECT_NE(r, nullptr) << OperationName(op);
    return *r;
  }

  static inline std::unique_ptr<Report> report_;
  static inline std::unique_ptr<std::vector<std::string>> progress_ =
      std::make_unique<std::vector<std::string>>();
};

TEST_F(RunCaseTest, MeasuresEveryOperationOfEveryCase) {
  ASSERT_NE(report_, nullptr);
  EXPECT_EQ(*progress_, (std::vector<std::string>{"realistic/300", "realistic/40"}));
  ASSERT_EQ(report_->cases.size(), 2u);
  for (const auto& c : report_->cases) {
    EXPECT_TRUE(c.round_trips_equal) << c.workload << "/" << c.spans;
    ASSERT_EQ(c.operations.size(), AllOperations().size());
    for (const auto& r : c.operations) {
      EXPECT_GT(r.cpu_ns, 0) << OperationName(r.op);
      EXPECT_LE(r.cpu_ns_min, r.cpu_ns);
      EXPECT_GE(r.cpu_ns_max, r.cpu_ns);
      EXPECT_EQ(r.samples, 3);
      EXPECT_GT(r.memory.bytes_allocated(), 0) << OperationName(r.op);
      EXPECT_GE(r.memory.peak_bytes, r.memory.net_bytes) << OperationName(r.op);
    }
  }
  EXPECT_GT(report_->cases[0].sizes.protobuf, report_->cases[1].sizes.protobuf);
  EXPECT_TRUE(report_->machine.heap_counted);
  EXPECT_FALSE(report_->machine.arrow_pool.empty());
}

TEST_F(RunCaseTest, MemoryLandsWhereEachSideAllocates) {
  ASSERT_NE(report_, nullptr);
  const auto& sizes = First().sizes;
  // The batch's buffers come from the Arrow pool and stay with the result; a one-shot
  // encoder keeps nothing else (buffers are sized by doubling: under twice the batch).
  const auto& encode = Op(Operation::kArrowEncode).memory;
  EXPECT_GE(encode.pool.net_bytes, sizes.arrow_batch);
  EXPECT_LT(encode.pool.net_bytes, 2 * sizes.arrow_batch);
  EXPECT_GE(encode.peak_bytes, encode.pool.net_bytes);
  // Serializing holds the bytes in a std::string: heap, no pool.
  const auto& serialize = Op(Operation::kProtobufSerialize).memory;
  EXPECT_GE(serialize.heap.net_bytes, sizes.protobuf);
  EXPECT_EQ(serialize.pool.allocations, 0);
  // Parsed and decoded messages live on an arena (heap) and are the same spans.
  const auto& parse = Op(Operation::kProtobufParse).memory;
  const auto& decode = Op(Operation::kArrowDecode).memory;
  EXPECT_GT(parse.heap.net_bytes, sizes.protobuf);
  EXPECT_GT(decode.heap.net_bytes, sizes.protobuf);
  EXPECT_EQ(decode.pool.allocations, 0);
  // Uncompressed IPC is read without copying buffers; zstd IPC is decompressed into
  // pool buffers.
  EXPECT_LT(Op(Operation::kArrowReadIpc).memory.pool.bytes_allocated,
            sizes.arrow_batch / 10);
  EXPECT_GE(Op(Operation::kArrowReadIpcZstd).memory.pool.bytes_allocated,
            sizes.arrow_batch / 2);
}

TEST_F(RunCaseTest, ColumnSizesAddUpToTheBatch) {
  ASSERT_NE(report_, nullptr);
  const auto& c = First();
  // One per column the encoder writes (the derived time columns are the store's).
  ASSERT_EQ(c.columns.size(), 26u) << "one per encoded span-table column";
  int64_t bytes = 0, zstd_bytes = 0;
  for (const auto& col : c.columns) {
    bytes += col.bytes;
    zstd_bytes += col.zstd_bytes;
    EXPECT_GT(col.zstd_bytes, 0) << col.column;
  }
  EXPECT_EQ(bytes, c.sizes.arrow_batch);
  // The IPC stream adds framing (8 bytes a buffer, padding, headers) to the same frames.
  EXPECT_LT(zstd_bytes, c.sizes.arrow_ipc_zstd);
  EXPECT_GT(zstd_bytes, c.sizes.arrow_ipc_zstd / 2);
  EXPECT_NE(FormatColumnSizes(*report_).find("resource_attributes"), std::string::npos);
}

TEST_F(RunCaseTest, JsonParsesAndHoldsEveryFigure) {
  ASSERT_NE(report_, nullptr);
  const auto json = nlohmann::json::parse(ToJson(*report_));
  EXPECT_EQ(json["machine"]["cpus"].get<int>(), report_->machine.cpus);
  EXPECT_EQ(json["options"]["zstd_level"].get<int>(), 1);
  ASSERT_EQ(json["cases"].size(), 2u);
  const auto& c = json["cases"][0];
  EXPECT_EQ(c["workload"], "realistic");
  EXPECT_EQ(c["spans"], 300);
  EXPECT_EQ(c["round_trips_equal"], true);
  EXPECT_EQ(c["sizes"]["arrow_ipc_zstd"].get<int64_t>(), First().sizes.arrow_ipc_zstd);
  EXPECT_EQ(c["columns"].size(), 26u);
  std::set<std::string> names;
  for (const auto& op : c["operations"]) {
    names.insert(op["name"].get<std::string>());
    EXPECT_GT(op["cpu_ns"].get<double>(), 0);
    EXPECT_GT(op["memory"]["heap"]["allocations"].get<int64_t>() +
                  op["memory"]["pool"]["allocations"].get<int64_t>(),
              0);
  }
  EXPECT_EQ(names.size(), AllOperations().size()) << "names are distinct";
  EXPECT_TRUE(names.count("arrow.encode") && names.count("protobuf.parse_zstd"));
}

TEST_F(RunCaseTest, TableHasTheDesignDocumentsRowsAndSizes) {
  ASSERT_NE(report_, nullptr);
  const std::string table = FormatTable(*report_);
  for (const char* row :
       {"encode: spans → batch | → bytes (300 spans)", "decode: batch → spans",
        "round trip (40 spans)", "memory: encode, peak heap (300 spans)",
        "size on the wire, zstd (300 spans)", "workload realistic: round trips equal"}) {
    EXPECT_NE(table.find(row), std::string::npos) << row << "\n" << table;
  }
}

// The issue's workload (c): "a resource of about 10 attributes shared by each batch,
// spans with 5–20 attributes of mixed types, names from a small vocabulary, 20% with
// events, 5% with links, 1% error status". The tables in docs/benchmarks.md rest on it.
TEST(Workloads, RealisticMatchesTheIssuesDescription) {
  const int64_t n = 20000;
  const auto request = model::RealisticSpans(n);
  std::set<std::string> names;
  std::set<int> value_kinds;
  int64_t spans = 0, with_events = 0, with_links = 0, errors = 0;
  for (const auto& rs : request.resource_spans()) {
    EXPECT_EQ(rs.resource().attributes_size(), 10);
    int64_t in_resource = 0;
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        ++spans;
        ++in_resource;
        EXPECT_GE(span.attributes_size(), 5);
        EXPECT_LE(span.attributes_size(), 20);
        for (const auto& kv : span.attributes())
          value_kinds.insert(kv.value().value_case());
        names.insert(span.name());
        with_events += span.events_size() > 0;
        with_links += span.links_size() > 0;
        errors += span.status().code() == otlp::Status::STATUS_CODE_ERROR;
      }
    }
    // A resource is shared by a whole batch of spans, as one SDK exporter sends them.
    EXPECT_GE(in_resource, 1000);
  }
  EXPECT_EQ(spans, n);
  EXPECT_GE(value_kinds.size(), 4u) << "string, int, double, bool";
  EXPECT_LE(names.size(), 20u);
  EXPECT_NEAR(static_cast<double>(with_events) / n, 0.20, 0.015);
  EXPECT_NEAR(static_cast<double>(with_links) / n, 0.05, 0.008);
  EXPECT_NEAR(static_cast<double>(errors) / n, 0.01, 0.004);
}

}  // namespace
}  // namespace otlp_arrow::bench

namespace otlp_arrow::bench {
namespace {

// `otlp-arrow bench --input FILE`: the first N spans of the file at each size, the
// sizes past its spans becoming all of them once.
TEST(RunInput, MeasuresTheFirstSpansOfAFileAtEachSize) {
  const std::string path = ::testing::TempDir() + "bench_input.json";
  {
    std::ofstream out(path);
    for (int i = 0; i < 3; ++i) {
      std::string json;
      ASSERT_TRUE(
          model::TraceRequestToJson(model::RealisticSpans(40, 3 + i), &json).ok());
      out << json << "\n";
    }
  }
  Options options;
  options.input = path;
  options.sizes = {50, 500, 1000};
  options.repetitions = 1;
  options.min_sample_seconds = 0;
  std::vector<std::string> progress;
  auto report = bench::Run(options, [&](const std::string& workload, int64_t spans) {
    progress.push_back(workload + "/" + std::to_string(spans));
  });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(progress,
            (std::vector<std::string>{"bench_input.json/50", "bench_input.json/120"}));
  ASSERT_EQ(report->cases.size(), 2u);
  for (const auto& c : report->cases) EXPECT_TRUE(c.round_trips_equal) << c.spans;
  EXPECT_EQ(report->cases[0].spans, 50);
  EXPECT_EQ(report->cases[1].spans, 120);
  EXPECT_GT(report->cases[1].sizes.protobuf, report->cases[0].sizes.protobuf);

  options.input = "/nonexistent/traces.json";
  EXPECT_THAT(bench::Run(options).status().message(),
              ::testing::HasSubstr("/nonexistent/traces.json"));
}

}  // namespace
}  // namespace otlp_arrow::bench
