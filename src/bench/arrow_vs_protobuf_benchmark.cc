// SPDX-License-Identifier: Apache-2.0
// Google Benchmark suite for issue #5: every Operation of the bench library (encode,
// decode, round trip, each on its own and through the wire with and without
// compression) on the three workloads at 100 / 1K / 10K / 100K spans. Memory comes from
// a benchmark::MemoryManager backed by the counting operator new and the counting Arrow
// pool: GB runs each benchmark once more under it and reports, in its JSON output only
// (--benchmark_format=json), allocs_per_iter, max_bytes_used (the peak) and
// total_allocated_bytes (summed over that run's iterations).
//
//   build/src/bench/arrow_vs_protobuf_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_filter='/10000$'  (one line)
//
// The medians of `otlp-arrow bench` (docs/benchmarks.md) interleave the operations in
// one process, which this runner does not; use it for profiles and single operations.

#include <map>
#include <memory>
#include <string>
#include <utility>

#include <benchmark/benchmark.h>

#include "otlp_arrow/bench/arrow_vs_protobuf.h"
#include "otlp_arrow/bench/memory_counter.h"

namespace otlp_arrow::bench {
namespace {

// Fixtures are costly at 100K spans: made once per workload and size.
Fixture* GetFixture(const std::string& workload, int64_t spans) {
  static std::map<std::pair<std::string, int64_t>, std::unique_ptr<Fixture>> fixtures;
  auto& slot = fixtures[{workload, spans}];
  if (slot == nullptr) slot = Fixture::Make(workload, spans).ValueOrDie();
  return slot.get();
}

void Measure(benchmark::State& state, const std::string& workload, Operation op) {
  Fixture* fixture = GetFixture(workload, state.range(0));
  auto runner = fixture->NewRunner(op).ValueOrDie();
  for (auto _ : state) {
    auto status = runner->Run();
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  const auto& sizes = fixture->sizes();
  state.counters["pb_bytes"] = static_cast<double>(sizes.protobuf);
  state.counters["pb_zstd_bytes"] = static_cast<double>(sizes.protobuf_zstd);
  state.counters["ipc_bytes"] = static_cast<double>(sizes.arrow_ipc);
  state.counters["ipc_zstd_bytes"] = static_cast<double>(sizes.arrow_ipc_zstd);
}

/// GB's memory hooks on top of MemoryMeasurement (heap and Arrow pool together).
class CountingMemoryManager : public benchmark::MemoryManager {
 public:
  void Start() override { measurement_.Start(); }
  void Stop(Result* result) override { Fill(result); }
  void Stop(Result& result) override { Fill(&result); }

 private:
  void Fill(Result* result) {
    const MemoryStats stats = measurement_.Stop();
    result->num_allocs = stats.allocations();
    result->max_bytes_used = stats.peak_bytes;
    result->total_allocated_bytes = stats.bytes_allocated();
    result->net_heap_growth = stats.net_bytes;
  }
  MemoryMeasurement measurement_;
};

[[maybe_unused]] const bool kRegistered = [] {
  for (const char* workload : {"seed", "otel", "realistic"}) {
    for (Operation op : AllOperations()) {
      const std::string name = std::string(OperationName(op)) + "/" + workload;
      benchmark::RegisterBenchmark(name.c_str(), Measure, std::string(workload), op)
          ->Arg(100)
          ->Arg(1000)
          ->Arg(10000)
          ->Arg(100000)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  return true;
}();

}  // namespace
}  // namespace otlp_arrow::bench

int main(int argc, char** argv) {
  otlp_arrow::bench::CountingMemoryManager memory;
  benchmark::RegisterMemoryManager(&memory);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  benchmark::RegisterMemoryManager(nullptr);
  return 0;
}
