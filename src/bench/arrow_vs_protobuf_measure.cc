// SPDX-License-Identifier: Apache-2.0
// Measuring the Arrow-vs-Protobuf operations: CPU time, heap and the machine they ran on.

#include "otlp_arrow/bench/arrow_vs_protobuf.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <arrow/config.h>
#include <arrow/memory_pool.h>
#include <fmt/format.h>
#include <google/protobuf/stubs/common.h>

#include "otlp_arrow/model/trace_request_file.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::bench {

namespace {

double CpuNow() {
  // Process CPU time: Arrow could use helper threads (it is told not to).
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double WallNow() {
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double PageFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt);
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string ReadCpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        return value;
      }
    }
  }
  return "unknown";
}

double LoadAverage() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

}  // namespace

const OperationResult* CaseResult::Find(Operation op) const {
  for (const auto& r : operations) {
    if (r.op == op) return &r;
  }
  return nullptr;
}

Machine DescribeMachine() {
  Machine m;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  m.date = date;
  utsname u{};
  if (uname(&u) == 0) m.host = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
  m.cpu = ReadCpuModel();
  m.cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  m.load_before = m.load_after = LoadAverage();
  m.arrow_version = arrow::GetBuildInfo().version_string;
  m.arrow_pool = arrow::default_memory_pool()->backend_name();
  m.protobuf_version = google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION);
  m.heap_counted = HeapCountingAvailable();
  return m;
}

arrow::Result<CaseResult> RunCase(Fixture* fixture, const Options& options) {
  if (options.repetitions < 1) return arrow::Status::Invalid("repetitions must be ≥ 1");
  CaseResult result;
  result.workload = fixture->workload();
  result.spans = fixture->spans();
  result.sizes = fixture->sizes();
  ARROW_ASSIGN_OR_RAISE(result.round_trips_equal, fixture->CheckRoundTrips());
  ARROW_ASSIGN_OR_RAISE(result.columns, fixture->ColumnSizes());

  const size_t n = options.operations.size();
  std::vector<std::unique_ptr<Fixture::Runner>> runners(n);
  std::vector<int64_t> runs(n, 1);
  for (size_t i = 0; i < n; ++i) {
    ARROW_ASSIGN_OR_RAISE(runners[i], fixture->NewRunner(options.operations[i]));
    ARROW_RETURN_NOT_OK(runners[i]->Run());  // warm: buffers sized, code and data cached
    const double start = CpuNow();
    ARROW_RETURN_NOT_OK(runners[i]->Run());
    const double once = std::max(CpuNow() - start, 1.0);
    runs[i] = std::max<int64_t>(
        1, static_cast<int64_t>(std::ceil(options.min_sample_seconds * 1e9 / once)));
  }
  std::vector<std::vector<double>> cpu(n), wall(n), faults(n);
  // A new order each repetition (the same from run to run): what an operation leaves
  // behind (a fragmented heap, evicted caches) must not always fall on the same next one.
  std::vector<size_t> order(n);
  for (size_t k = 0; k < n; ++k) order[k] = k;
  std::mt19937 shuffle(20261127);
  for (int r = 0; r < options.repetitions; ++r) {
    std::shuffle(order.begin(), order.end(), shuffle);
    for (const size_t i : order) {
      const double cpu0 = CpuNow(), wall0 = WallNow(), faults0 = PageFaults();
      for (int64_t j = 0; j < runs[i]; ++j) ARROW_RETURN_NOT_OK(runners[i]->Run());
      const double runs_i = static_cast<double>(runs[i]);
      cpu[i].push_back((CpuNow() - cpu0) / runs_i);
      wall[i].push_back((WallNow() - wall0) / runs_i);
      faults[i].push_back((PageFaults() - faults0) / runs_i);
    }
  }
  runners.clear();  // their results would count as live memory below

  for (size_t i = 0; i < n; ++i) {
    OperationResult op;
    op.op = options.operations[i];
    op.cpu_ns = Median(cpu[i]);
    op.wall_ns = Median(wall[i]);
    op.cpu_ns_min = *std::min_element(cpu[i].begin(), cpu[i].end());
    op.cpu_ns_max = *std::max_element(cpu[i].begin(), cpu[i].end());
    op.cpu_ns_samples = cpu[i];
    op.samples = static_cast<int>(cpu[i].size());
    op.runs_per_sample = runs[i];
    op.page_faults = Median(faults[i]);
    // Memory of a one-shot conversion from a new state, growth included.
    ARROW_ASSIGN_OR_RAISE(auto runner, fixture->NewRunner(op.op));
    MemoryMeasurement measurement;
    measurement.Start();
    auto status = runner->RunOneShot();
    op.memory = measurement.Stop();
    ARROW_RETURN_NOT_OK(status);
    result.operations.push_back(op);
  }
  return result;
}

arrow::Result<Report> Run(
    const Options& options,
    const std::function<void(const std::string& workload, int64_t spans)>& progress) {
  Report report;
  report.machine = DescribeMachine();
  report.options = options;
  if (!options.input.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto file, model::ReadTraceRequestFile(options.input));
    const std::string name = std::filesystem::path(options.input).filename().string();
    int64_t file_spans = 0;
    for (const auto& request : file.requests) file_spans += model::CountSpans(request);
    std::vector<int64_t> sizes;
    for (int64_t spans : options.sizes) {
      const int64_t size = std::min(spans, file_spans);
      if (std::find(sizes.begin(), sizes.end(), size) == sizes.end())
        sizes.push_back(size);
    }
    for (int64_t spans : sizes) {
      if (progress) progress(name, spans);
      auto batch = model::Rebatch(file.requests, spans, spans);
      ARROW_ASSIGN_OR_RAISE(auto fixture,
                            Fixture::FromRequest(name, batch.at(0), options.zstd_level));
      ARROW_ASSIGN_OR_RAISE(auto result, RunCase(fixture.get(), options));
      report.cases.push_back(std::move(result));
    }
  }
  for (const auto& workload :
       options.input.empty() ? options.workloads : std::vector<std::string>{}) {
    for (int64_t spans : options.sizes) {
      if (progress) progress(workload, spans);
      ARROW_ASSIGN_OR_RAISE(auto fixture,
                            Fixture::Make(workload, spans, options.zstd_level));
      ARROW_ASSIGN_OR_RAISE(auto result, RunCase(fixture.get(), options));
      report.cases.push_back(std::move(result));
    }
  }
  report.machine.load_after = LoadAverage();
  return report;
}

}  // namespace otlp_arrow::bench
