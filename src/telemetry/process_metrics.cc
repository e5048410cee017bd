// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/telemetry/process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/result.h>

namespace otlp_arrow::telemetry {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

arrow::Result<std::string> ReadProcFile(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return arrow::Status::IOError("cannot open ", path, ": ", strerror(errno));
  std::string text;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return arrow::Status::IOError("cannot read ", path, ": ", strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
    const size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\n') ++i;
    if (i > start) fields.push_back(s.substr(start, i - start));
  }
  return fields;
}

bool ParseInt(std::string_view s, int64_t* out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

struct Statm {
  int64_t virtual_bytes = 0;
  int64_t resident_bytes = 0;
};

arrow::Result<Statm> ReadStatm() {
  ARROW_ASSIGN_OR_RAISE(auto text, ReadProcFile("/proc/self/statm"));
  const auto fields = SplitSpaces(text);
  int64_t size_pages;
  int64_t resident_pages;
  if (fields.size() < 2 || !ParseInt(fields[0], &size_pages) ||
      !ParseInt(fields[1], &resident_pages)) {
    return arrow::Status::IOError("cannot parse /proc/self/statm: '", text, "'");
  }
  const int64_t page = sysconf(_SC_PAGESIZE);
  return Statm{size_pages * page, resident_pages * page};
}

// Fields of /proc/self/stat from field 3 (state) on, as proc(5) numbers them: field n is
// fields[n - 3]. The command name (field 2) may hold spaces and parentheses, so the
// split starts after its last ')'.
arrow::Result<std::vector<std::string_view>> StatFields(const std::string& text) {
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) {
    return arrow::Status::IOError("cannot parse /proc/self/stat");
  }
  return SplitSpaces(std::string_view(text).substr(paren + 1));
}

arrow::Result<int64_t> StatField(const std::vector<std::string_view>& fields, size_t n) {
  int64_t value;
  if (fields.size() <= n - 3 || !ParseInt(fields[n - 3], &value)) {
    return arrow::Status::IOError("cannot parse field ", n, " of /proc/self/stat");
  }
  return value;
}

arrow::Result<int64_t> ReadThreads() {
  ARROW_ASSIGN_OR_RAISE(auto text, ReadProcFile("/proc/self/stat"));
  ARROW_ASSIGN_OR_RAISE(auto fields, StatFields(text));
  return StatField(fields, 20);  // num_threads
}

arrow::Result<double> ReadStartTimeSeconds() {
  ARROW_ASSIGN_OR_RAISE(auto stat, ReadProcFile("/proc/self/stat"));
  ARROW_ASSIGN_OR_RAISE(auto fields, StatFields(stat));
  ARROW_ASSIGN_OR_RAISE(int64_t start_ticks, StatField(fields, 22));  // since boot
  ARROW_ASSIGN_OR_RAISE(auto system, ReadProcFile("/proc/stat"));
  const size_t at = system.find("\nbtime ");
  if (at == std::string::npos) return arrow::Status::IOError("no btime in /proc/stat");
  const auto btime_fields = SplitSpaces(std::string_view(system).substr(at + 7, 32));
  int64_t boot_time;
  if (btime_fields.empty() || !ParseInt(btime_fields[0], &boot_time)) {
    return arrow::Status::IOError("cannot parse btime in /proc/stat");
  }
  return static_cast<double>(boot_time) +
         static_cast<double>(start_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// getrusage rather than /proc/self/stat's clock ticks: microseconds instead of 10 ms.
double CpuSeconds() {
  rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return kNaN;
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Counts the listing's own descriptor too, as the Go and Python process collectors do,
// so the figures compare across services.
arrow::Result<int64_t> CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return arrow::Status::IOError("cannot open /proc/self/fd: ", strerror(errno));
  }
  int64_t count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

int64_t MaxFds() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur == RLIM_INFINITY) return -1;
  return static_cast<int64_t>(limit.rlim_cur);
}

template <typename T>
double OrNaN(const arrow::Result<T>& result) {
  return result.ok() ? static_cast<double>(*result) : kNaN;
}

}  // namespace

arrow::Result<ProcessStats> ReadProcessStats() {
  ProcessStats stats;
  ARROW_ASSIGN_OR_RAISE(auto statm, ReadStatm());
  stats.resident_memory_bytes = statm.resident_bytes;
  stats.virtual_memory_bytes = statm.virtual_bytes;
  stats.cpu_seconds = CpuSeconds();
  ARROW_ASSIGN_OR_RAISE(stats.open_fds, CountOpenFds());
  stats.max_fds = MaxFds();
  ARROW_ASSIGN_OR_RAISE(stats.threads, ReadThreads());
  ARROW_ASSIGN_OR_RAISE(stats.start_time_seconds, ReadStartTimeSeconds());
  return stats;
}

arrow::Status RegisterProcessMetrics(MetricRegistry* registry,
                                     const ProcessMetricsOptions& options) {
  if (registry == nullptr) return arrow::Status::Invalid("no metric registry");
  // Each callback reads only its own file: a scrape costs a few small /proc reads.
  ARROW_RETURN_NOT_OK(registry->AddGauge(
      {"process_resident_memory_bytes", "Resident memory size in bytes.", "bytes", {}},
      [] { return OrNaN(ReadStatm().Map([](Statm s) { return s.resident_bytes; })); }));
  ARROW_RETURN_NOT_OK(registry->AddGauge(
      {"process_virtual_memory_bytes", "Virtual memory size in bytes.", "bytes", {}},
      [] { return OrNaN(ReadStatm().Map([](Statm s) { return s.virtual_bytes; })); }));
  ARROW_RETURN_NOT_OK(
      registry->AddCounter({"process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.",
                            "seconds",
                            {}},
                           CpuSeconds));
  ARROW_RETURN_NOT_OK(
      registry->AddGauge({"process_open_fds", "Number of open file descriptors.", "", {}},
                         [] { return OrNaN(CountOpenFds()); }));
  ARROW_RETURN_NOT_OK(registry->AddGauge(
      {"process_max_fds", "Maximum number of open file descriptors.", "", {}}, [] {
        const int64_t max = MaxFds();
        return max < 0 ? std::numeric_limits<double>::infinity()
                       : static_cast<double>(max);
      }));
  // The start time does not change: read once, not at every scrape.
  const double start_time = OrNaN(ReadStartTimeSeconds());
  ARROW_RETURN_NOT_OK(
      registry->AddGauge({"process_start_time_seconds",
                          "Start time of the process since unix epoch in seconds.",
                          "seconds",
                          {}},
                         [start_time] { return start_time; }));
  ARROW_RETURN_NOT_OK(registry->AddGauge(
      {"process_threads", "Number of OS threads in the process.", "", {}},
      [] { return OrNaN(ReadThreads()); }));
  if (options.include_arrow_pool) {
    arrow::MemoryPool* pool =
        options.arrow_pool != nullptr ? options.arrow_pool : arrow::default_memory_pool();
    ARROW_RETURN_NOT_OK(RegisterArrowMemoryPoolMetrics(registry, pool));
  }
  return arrow::Status::OK();
}

arrow::Status RegisterArrowMemoryPoolMetrics(MetricRegistry* registry,
                                             arrow::MemoryPool* pool,
                                             const Labels& extra_labels) {
  if (registry == nullptr) return arrow::Status::Invalid("no metric registry");
  if (pool == nullptr) return arrow::Status::Invalid("no memory pool");
  Labels labels = extra_labels;
  labels.emplace_back("backend", pool->backend_name());
  ARROW_RETURN_NOT_OK(registry->AddGauge(
      {"otlp_arrow_arrow_memory_pool_bytes",
       "Bytes allocated from the Arrow memory pool and not yet freed.", "bytes", labels},
      [pool] { return static_cast<double>(pool->bytes_allocated()); }));
  // max_memory() is -1 for pools that do not track it; exposing -1 as a byte count
  // would be wrong, and the pool does not start tracking later.
  if (pool->max_memory() >= 0) {
    ARROW_RETURN_NOT_OK(registry->AddGauge(
        {"otlp_arrow_arrow_memory_pool_max_bytes",
         "Peak bytes allocated from the Arrow memory pool.", "bytes", labels},
        [pool] { return static_cast<double>(pool->max_memory()); }));
  }
  ARROW_RETURN_NOT_OK(registry->AddCounter(
      {"otlp_arrow_arrow_memory_pool_allocations_total",
       "Allocations and reallocations requested from the Arrow memory pool.", "", labels},
      [pool] { return static_cast<double>(pool->num_allocations()); }));
  ARROW_RETURN_NOT_OK(registry->AddCounter(
      {"otlp_arrow_arrow_memory_pool_allocated_bytes_total",
       "Bytes ever allocated from the Arrow memory pool.", "bytes", labels},
      [pool] { return static_cast<double>(pool->total_bytes_allocated()); }));
  return arrow::Status::OK();
}

}  // namespace otlp_arrow::telemetry
